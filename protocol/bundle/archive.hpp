#pragma once
// The bundle content: a tar archive (pax, written and read with libarchive), zstd-compressed.
// Writing refuses anything but regular files and directories; reading refuses everything a
// hostile archive could do to the host: absolute paths, '..', device files, fifos, links that
// lead outside the staging directory, duplicate entries, and more entries or bytes than the
// limits allow (decompression bombs). Callers verify the seal (seal.hpp) before any of this.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/bundle/manifest.hpp"
#include "protocol/io/random_access.hpp"
#include "protocol/keys.hpp"

namespace fleetcast::protocol::bundle {

class ArchiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Limits {
  std::uint64_t max_bytes = std::uint64_t{4} << 30;  // file data after decompression
  std::uint64_t max_entries = 10'000;
};

struct Entry {
  std::string path;
  char type = 'f';  // 'f' file, 'd' directory, 'l' symbolic link, 'h' hard link
  std::uint64_t size = 0;
  std::uint32_t mode = 0;
  std::string link;  // link target for 'l' / 'h'
};

// tar.zst of `dir`: manifest.ini first, then every entry in path order, owned by root:root.
// Validates the manifest and that every payload path it names is in the bundle (at the top level
// or under hosts/<host>/). Throws ArchiveError / ManifestError with the reason.
//
// With `seal` (bundle create --encrypt), each host's overlay hosts/<host>/ is packed as a tar of
// its own and replaced by hosts/<host>.fcc, what `seal(host, tar)` returns: an envelope
// (crypt.hpp) only that host and the manager can open, so the hosts that read the bundle do not
// read each other's overlays. nullopt: the host reads no overlay (it is no recipient).
using OverlaySealer = std::function<std::optional<std::vector<std::uint8_t>>(
    const std::string& host, std::span<const std::uint8_t> tar)>;
std::vector<std::uint8_t> pack_directory(const std::filesystem::path& dir, Manifest* manifest,
                                         const OverlaySealer& seal = {});

// After extract: opens each sealed overlay hosts/<host>.fcc of `staging` that `key` can
// decrypt into hosts/<host>/ (within `limits`) and removes every sealed overlay (another
// host's stays unread). Returns the hosts whose overlay it opened. Throws ArchiveError.
std::vector<std::string> open_overlays(const std::filesystem::path& staging, const SecretKey& key,
                                       const Limits& limits);

// Every entry, in archive order (reads headers only; limits apply).
std::vector<Entry> list_entries(std::span<const std::uint8_t> content, const Limits& limits);

// manifest.ini, which must be the first entry. Throws ArchiveError / ManifestError.
Manifest read_manifest(std::span<const std::uint8_t> content);
// The same from the first `content_size` bytes of a bundle file, read in pieces.
Manifest read_manifest(const io::InputFile& bundle, std::uint64_t content_size);

// Extracts into `staging`, which must not exist yet (created 0700). Throws ArchiveError naming
// the entry and the reason; the caller removes the partial staging directory.
void extract(std::span<const std::uint8_t> content, const std::filesystem::path& staging,
             const Limits& limits);
void extract(const io::InputFile& bundle, std::uint64_t content_size,
             const std::filesystem::path& staging, const Limits& limits);

// The tree one host applies: <staging>/<path> overlaid by <staging>/hosts/<host>/<path>, copied
// into `payload` (must not exist). Other hosts' files are not copied.
void resolve_for_host(const std::filesystem::path& staging, std::string_view host,
                      const std::filesystem::path& payload);

}  // namespace fleetcast::protocol::bundle
