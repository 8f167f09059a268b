#pragma once
// A bundle file opened the one way every reader opens it: the seal verified against the trusted
// manager key (the file read in pieces: a big bundle costs no memory), an encrypted content
// (crypt.hpp) decrypted with a recipient's key (in memory), the manifest read. The host's apply,
// the manager's push and rollout, and `bundle verify|inspect` all come here.

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/bundle/archive.hpp"
#include "protocol/bundle/manifest.hpp"
#include "protocol/bundle/seal.hpp"
#include "protocol/io/random_access.hpp"
#include "protocol/keys.hpp"

namespace fleetcast::protocol::bundle {

// Why the bundle is refused (the seal, the envelope, the manifest), for the FIN and the
// operator.
class Refused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct OpenedBundle {
  Seal seal;
  bool encrypted = false;
  std::vector<KeyId> readers;       // encrypted: the recipients' key IDs
  std::vector<std::uint8_t> plain;  // encrypted: the decrypted content
  Manifest manifest;

  // The content (the compressed tar), in memory.
  std::vector<std::uint8_t> content(const io::InputFile& file) const;
  // Extracts the content into `staging` (archive.hpp extract: throws ArchiveError).
  void extract_to(const io::InputFile& file, const std::filesystem::path& staging,
                  const Limits& limits) const;
};

// Throws Refused. `own` (may be null) opens an encrypted content: without it, or when it is
// not among the recipients, the bundle is refused.
OpenedBundle open_bundle(const io::InputFile& file, const PublicKey& manager, const SecretKey* own);

}  // namespace fleetcast::protocol::bundle
