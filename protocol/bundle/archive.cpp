#include "protocol/bundle/archive.hpp"

#include "protocol/bundle/crypt.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <set>

#include "protocol/io/file.hpp"
#include "protocol/text.hpp"

namespace fleetcast::protocol::bundle {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kCopyChunk = 1 << 16;
constexpr int kZstdLevel = 19;  // bundles are built once and sent to many hosts

struct ReaderDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriterDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using Reader = std::unique_ptr<archive, ReaderDeleter>;
using Writer = std::unique_ptr<archive, WriterDeleter>;

[[noreturn]] void fail(const std::string& what) {
  throw ArchiveError(what);
}

std::string errno_text() {
  return std::strerror(errno);
}

// A reader that accepts only what pack_directory writes: zstd, then tar.
Reader open_reader(std::span<const std::uint8_t> content) {
  Reader r(archive_read_new());
  if (!r) fail("libarchive: out of memory");
  archive_read_support_filter_zstd(r.get());
  archive_read_support_format_tar(r.get());
  if (archive_read_open_memory(r.get(), content.data(), content.size()) != ARCHIVE_OK) {
    fail(std::string("not a zstd-compressed tar archive: ") + archive_error_string(r.get()));
  }
  return r;
}

// The same from the first `size` bytes of a file, read 256 KiB at a time.
struct FileRange {
  const io::InputFile* file;
  std::uint64_t size;
  std::uint64_t at = 0;
  std::vector<std::uint8_t> buffer = std::vector<std::uint8_t>(std::size_t{1} << 18);
};

la_ssize_t read_range(archive* a, void* data, const void** out) {
  auto* f = static_cast<FileRange*>(data);
  const auto n =
      static_cast<std::size_t>(std::min<std::uint64_t>(f->buffer.size(), f->size - f->at));
  try {
    f->file->read(f->at, std::span(f->buffer).first(n));
  } catch (const std::exception& e) {
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
  f->at += n;
  *out = f->buffer.data();
  return static_cast<la_ssize_t>(n);
}

int close_range(archive*, void* data) {
  delete static_cast<FileRange*>(data);
  return ARCHIVE_OK;
}

Reader open_reader(const io::InputFile& file, std::uint64_t size) {
  Reader r(archive_read_new());
  if (!r) fail("libarchive: out of memory");
  archive_read_support_filter_zstd(r.get());
  archive_read_support_format_tar(r.get());
  auto* range = new FileRange{&file, std::min(size, file.size())};
  if (archive_read_open(r.get(), range, nullptr, read_range, close_range) != ARCHIVE_OK) {
    fail(std::string("not a zstd-compressed tar archive: ") + archive_error_string(r.get()));
  }
  return r;
}

// Next header, or false at the end. Truncated or corrupt input throws.
bool next_header(archive* a, archive_entry** e) {
  const int rc = archive_read_next_header(a, e);
  if (rc == ARCHIVE_EOF) return false;
  if (rc != ARCHIVE_OK) fail(std::string("corrupt archive: ") + archive_error_string(a));
  return true;
}

std::string entry_path(archive_entry* e) {
  const char* p = archive_entry_pathname(e);
  return p ? p : "";
}

void check_entry_path(const std::string& path) {
  if (path.empty()) fail("an entry has no name");
  if (path.front() == '/') fail("entry '" + path + "': absolute path");
  for (const auto& part : text::split(path, '/')) {
    if (part == "..") fail("entry '" + path + "': path escapes the staging directory ('..')");
  }
  // Directories end in '/' in some writers; accept one trailing slash.
  std::string p = path;
  if (p.size() > 1 && p.back() == '/') p.pop_back();
  if (!is_safe_relative_path(p)) fail("entry '" + path + "': unsafe path");
}

std::string strip_slash(std::string p) {
  if (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// Lexically resolves a relative link target from the link's directory; false when it leaves.
bool stays_inside(const std::string& link_path, const std::string& target) {
  if (target.empty() || target.front() == '/') return false;
  std::vector<std::string> parts = text::split(link_path, '/');
  parts.pop_back();  // the link itself
  for (const auto& part : text::split(target, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return false;
      parts.pop_back();
    } else {
      parts.push_back(part);
    }
  }
  return true;
}

void make_parents(const fs::path& root, const std::string& rel) {
  fs::path dir = root;
  const auto parts = text::split(rel, '/');
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    dir /= parts[i];
    struct stat st {};
    if (::lstat(dir.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) fail("entry '" + rel + "': a parent is not a directory");
      continue;
    }
    if (::mkdir(dir.c_str(), 0755) != 0) fail(dir.string() + ": mkdir: " + errno_text());
  }
}

void write_file(archive* a, const fs::path& path, const std::string& rel, std::uint32_t mode,
                std::uint64_t& total, const Limits& limits) {
  const io::UniqueFd file(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0755));
  const int fd = file.get();
  if (fd < 0) {
    fail(errno == EEXIST ? "entry '" + rel + "': duplicate entry"
                         : path.string() + ": open: " + errno_text());
  }
  std::vector<char> buf(kCopyChunk);
  for (;;) {
    const la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
    if (n < 0) fail("entry '" + rel + "': " + archive_error_string(a));
    if (n == 0) break;
    total += static_cast<std::uint64_t>(n);
    if (total > limits.max_bytes) {
      fail("unpacked size exceeds the limit of " + std::to_string(limits.max_bytes) +
           " bytes (decompression bomb?)");
    }
    for (la_ssize_t done = 0; done < n;) {
      const ssize_t w = ::write(fd, buf.data() + done, static_cast<std::size_t>(n - done));
      if (w < 0) fail(path.string() + ": write: " + errno_text());
      done += w;
    }
  }
  if (::fsync(fd) != 0) fail(path.string() + ": fsync: " + errno_text());
}

// One entry, root-owned, never setuid / setgid / sticky: its header, then `data`.
void write_any(archive* a, const std::string& rel, bool dir, unsigned perm, std::time_t mtime,
               std::span<const std::uint8_t> data) {
  std::unique_ptr<archive_entry, EntryDeleter> e(archive_entry_new());
  archive_entry_set_pathname(e.get(), rel.c_str());
  archive_entry_set_filetype(e.get(), dir ? AE_IFDIR : AE_IFREG);
  archive_entry_set_perm(e.get(), perm & 0755);
  archive_entry_set_uid(e.get(), 0);
  archive_entry_set_gid(e.get(), 0);
  archive_entry_set_uname(e.get(), "root");
  archive_entry_set_gname(e.get(), "root");
  archive_entry_set_mtime(e.get(), mtime, 0);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
  if (archive_write_header(a, e.get()) != ARCHIVE_OK) fail(rel + ": " + archive_error_string(a));
  if (!data.empty() &&
      archive_write_data(a, data.data(), data.size()) != static_cast<la_ssize_t>(data.size())) {
    fail(rel + ": " + archive_error_string(a));
  }
}

// The file or directory at `path`, with its permissions and time.
void write_entry(archive* a, const std::string& rel, const fs::path& path, bool dir) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) fail(path.string() + ": " + errno_text());
  std::vector<std::uint8_t> data;
  if (!dir) data = io::read_file(path);
  write_any(a, rel, dir, st.st_mode, st.st_mtim.tv_sec, data);
}

// A file written from memory (a sealed overlay), 0600.
void write_bytes_entry(archive* a, const std::string& rel, std::span<const std::uint8_t> data) {
  write_any(a, rel, false, 0600, 0, data);
}

la_ssize_t append_output(archive*, void* out, const void* buf, std::size_t n) {
  auto* v = static_cast<std::vector<std::uint8_t>*>(out);
  const auto* b = static_cast<const std::uint8_t*>(buf);
  v->insert(v->end(), b, b + n);
  return static_cast<la_ssize_t>(n);
}

// `entries` of `dir` (relative paths, is-directory), after `manifest` when given, then the
// in-memory `files`: a zstd-compressed pax tar, as every receiver reads it.
std::vector<std::uint8_t> write_tar(
    const fs::path& dir, const std::vector<std::pair<std::string, bool>>& entries,
    const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& files,
    const fs::path* manifest) {
  std::vector<std::uint8_t> out;
  Writer w(archive_write_new());
  if (!w) fail("libarchive: out of memory");
  if (archive_write_add_filter_zstd(w.get()) != ARCHIVE_OK ||
      archive_write_set_filter_option(w.get(), "zstd", "compression-level",
                                      std::to_string(kZstdLevel).c_str()) != ARCHIVE_OK ||
      archive_write_set_format_pax_restricted(w.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(w.get(), 1) != ARCHIVE_OK ||
      archive_write_open(w.get(), &out, nullptr, append_output, nullptr) != ARCHIVE_OK) {
    fail(std::string("libarchive: ") + archive_error_string(w.get()));
  }
  if (manifest) write_entry(w.get(), std::string(kManifestName), *manifest, false);
  for (const auto& [rel, is_dir] : entries) write_entry(w.get(), rel, dir / rel, is_dir);
  for (const auto& [rel, bytes] : files) write_bytes_entry(w.get(), rel, bytes);
  if (archive_write_close(w.get()) != ARCHIVE_OK) {
    fail(std::string("libarchive: ") + archive_error_string(w.get()));
  }
  return out;
}

}  // namespace

std::vector<std::uint8_t> pack_directory(const fs::path& dir, Manifest* manifest_out,
                                         const OverlaySealer& seal) {
  const fs::path manifest_path = dir / kManifestName;
  const auto manifest_bytes = io::read_file(manifest_path);
  const Manifest manifest = parse_manifest(std::string_view(
      reinterpret_cast<const char*>(manifest_bytes.data()), manifest_bytes.size()));

  std::vector<std::pair<std::string, bool>> entries;  // relative path, is directory
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const std::string rel = fs::relative(it->path(), dir).generic_string();
    const auto st = it->symlink_status();
    if (rel == kManifestName) continue;
    if (!is_safe_relative_path(rel)) fail(it->path().string() + ": unsafe name");
    if (fs::is_directory(st)) {
      entries.emplace_back(rel, true);
    } else if (fs::is_regular_file(st)) {
      entries.emplace_back(rel, false);
    } else {
      fail(it->path().string() +
           ": not a regular file or directory (bundles carry no links or special files)");
    }
  }
  if (ec) fail(dir.string() + ": " + ec.message());
  std::sort(entries.begin(), entries.end());

  for (const auto& p : manifest.payload_paths()) {
    bool found = std::binary_search(entries.begin(), entries.end(), std::pair(p, false));
    for (const auto& [rel, is_dir] : entries) {
      const std::string prefix = std::string(kHostsDir) + "/";
      if (!is_dir && rel.starts_with(prefix) && rel.ends_with("/" + p) &&
          std::count(rel.begin(), rel.end(), '/') == std::count(p.begin(), p.end(), '/') + 2) {
        found = true;
      }
    }
    if (!found) fail("the manifest names '" + p + "' but the bundle has no such file");
  }

  // Each host's overlay sealed to that host: its own tar, in the bundle as hosts/<host>.fcc.
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> sealed;
  if (seal) {
    const std::string prefix = std::string(kHostsDir) + "/";
    std::map<std::string, std::vector<std::pair<std::string, bool>>> overlays;
    std::erase_if(entries, [&](const std::pair<std::string, bool>& e) {
      if (!e.first.starts_with(prefix)) return false;
      const std::string rest = e.first.substr(prefix.size());
      const auto slash = rest.find('/');
      if (slash == std::string::npos) {
        if (!e.second) fail(e.first + ": a file where a host's overlay directory belongs");
        overlays[rest];  // the overlay's own directory entry
        return true;
      }
      overlays[rest.substr(0, slash)].emplace_back(rest.substr(slash + 1), e.second);
      return true;
    });
    for (const auto& [host, files] : overlays) {
      const auto tar = write_tar(dir / kHostsDir / host, files, {}, nullptr);
      if (auto envelope = seal(host, tar)) sealed.emplace_back(prefix + host + ".fcc", *envelope);
    }
  }
  auto out = write_tar(dir, entries, sealed, &manifest_path);
  if (manifest_out) *manifest_out = manifest;
  return out;
}

std::vector<std::string> open_overlays(const fs::path& staging, const SecretKey& key,
                                       const Limits& limits) {
  const fs::path hosts = staging / kHostsDir;
  std::vector<std::string> opened;
  if (!fs::is_directory(fs::symlink_status(hosts))) return opened;
  std::vector<fs::path> sealed;
  for (const auto& e : fs::directory_iterator(hosts)) {
    if (e.path().extension() == ".fcc" && fs::is_regular_file(e.symlink_status())) {
      sealed.push_back(e.path());
    }
  }
  std::sort(sealed.begin(), sealed.end());
  for (const fs::path& path : sealed) {
    const std::string host = path.stem().string();
    const auto bytes = io::read_file(path);
    fs::remove(path);  // another host's stays unread
    Decrypted d = decrypt(bytes, key);
    if (!d.ok) continue;
    const fs::path into = hosts / host;
    if (fs::exists(fs::symlink_status(into))) {
      fail(std::string(kHostsDir) + "/" + host + ": an overlay both sealed and in clear");
    }
    const fs::path part = hosts / (host + ".opening");
    fs::remove_all(part);
    extract(d.plain, part, limits);
    fs::rename(part, into);
    opened.push_back(host);
  }
  return opened;
}

std::vector<Entry> list_entries(std::span<const std::uint8_t> content, const Limits& limits) {
  Reader r = open_reader(content);
  std::vector<Entry> out;
  archive_entry* e = nullptr;
  while (next_header(r.get(), &e)) {
    if (out.size() >= limits.max_entries) {
      fail("more than " + std::to_string(limits.max_entries) + " entries");
    }
    Entry x;
    x.path = entry_path(e);
    x.size = static_cast<std::uint64_t>(std::max<la_int64_t>(0, archive_entry_size(e)));
    x.mode = archive_entry_perm(e);
    const auto type = archive_entry_filetype(e);
    if (archive_entry_hardlink(e)) {
      x.type = 'h';
      x.link = archive_entry_hardlink(e);
    } else if (type == AE_IFDIR) {
      x.type = 'd';
    } else if (type == AE_IFLNK) {
      x.type = 'l';
      x.link = archive_entry_symlink(e) ? archive_entry_symlink(e) : "";
    } else if (type == AE_IFREG) {
      x.type = 'f';
    } else {
      x.type = '?';
    }
    out.push_back(std::move(x));
    archive_read_data_skip(r.get());
  }
  return out;
}

namespace {

Manifest read_manifest_from(Reader r) {
  archive_entry* e = nullptr;
  if (!next_header(r.get(), &e) || entry_path(e) != kManifestName ||
      archive_entry_filetype(e) != AE_IFREG) {
    fail("the first entry is not manifest.ini");
  }
  constexpr std::size_t kMaxManifest = 1 << 20;
  std::string text(kMaxManifest + 1, '\0');
  std::size_t used = 0;
  for (;;) {
    const la_ssize_t n = archive_read_data(r.get(), text.data() + used, text.size() - used);
    if (n < 0) fail(std::string("manifest.ini: ") + archive_error_string(r.get()));
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
    if (used > kMaxManifest) fail("manifest.ini is larger than 1 MiB");
  }
  text.resize(used);
  return parse_manifest(text);
}

void extract_from(Reader r, const fs::path& staging, const Limits& limits) {
  if (::mkdir(staging.c_str(), 0700) != 0) fail(staging.string() + ": mkdir: " + errno_text());
  archive_entry* e = nullptr;
  std::uint64_t entries = 0, total = 0;
  std::set<std::string> files;
  std::vector<std::pair<std::string, std::string>> links;  // symlinks, made last
  while (next_header(r.get(), &e)) {
    if (++entries > limits.max_entries) {
      fail("more than " + std::to_string(limits.max_entries) + " entries (decompression bomb?)");
    }
    const std::string raw = entry_path(e);
    check_entry_path(raw);
    const std::string rel = strip_slash(raw);
    const fs::path out = staging / rel;
    const auto type = archive_entry_filetype(e);
    if (const char* hard = archive_entry_hardlink(e)) {
      const std::string target = strip_slash(hard);
      if (!files.count(target)) {  // only an earlier regular file of this archive
        fail("hard link '" + rel + "' points outside the staging directory or at a non-file");
      }
      make_parents(staging, rel);
      if (::link((staging / target).c_str(), out.c_str()) != 0) {
        fail("entry '" + rel + "': link: " + errno_text());
      }
      files.insert(rel);
    } else if (type == AE_IFDIR) {
      make_parents(staging, rel + "/x");
    } else if (type == AE_IFREG) {
      make_parents(staging, rel);
      write_file(r.get(), out, rel, archive_entry_perm(e), total, limits);
      files.insert(rel);
    } else if (type == AE_IFLNK) {
      const char* t = archive_entry_symlink(e);
      const std::string target = t ? t : "";
      if (!stays_inside(rel, target)) {
        fail("symbolic link '" + rel + "' -> '" + target +
             "' points outside the staging directory");
      }
      links.emplace_back(rel, target);
    } else {
      fail("entry '" + rel + "' is a device, fifo or socket: refused");
    }
  }
  // Links last, so no entry was written through one; then resolve each for real.
  const fs::path root = fs::canonical(staging);
  for (const auto& [rel, target] : links) {
    make_parents(staging, rel);
    if (::symlink(target.c_str(), (staging / rel).c_str()) != 0) {
      fail("entry '" + rel + "': symlink: " + errno_text());
    }
  }
  for (const auto& [rel, target] : links) {
    std::error_code ec;
    const fs::path real = fs::weakly_canonical(staging / rel, ec);
    const auto [end, _] = std::mismatch(root.begin(), root.end(), real.begin(), real.end());
    if (ec || end != root.end()) {
      fail("symbolic link '" + rel + "' -> '" + target +
           "' resolves outside the staging directory");
    }
  }
}

}  // namespace

Manifest read_manifest(std::span<const std::uint8_t> content) {
  return read_manifest_from(open_reader(content));
}

Manifest read_manifest(const io::InputFile& bundle, std::uint64_t content_size) {
  return read_manifest_from(open_reader(bundle, content_size));
}

void extract(std::span<const std::uint8_t> content, const fs::path& staging, const Limits& limits) {
  extract_from(open_reader(content), staging, limits);
}

void extract(const io::InputFile& bundle, std::uint64_t content_size, const fs::path& staging,
             const Limits& limits) {
  extract_from(open_reader(bundle, content_size), staging, limits);
}

void resolve_for_host(const fs::path& staging, std::string_view host, const fs::path& payload) {
  const fs::path hosts = staging / kHostsDir;
  const auto options = fs::copy_options::recursive | fs::copy_options::copy_symlinks;
  fs::create_directory(payload);
  for (const auto& entry : fs::directory_iterator(staging)) {
    if (entry.path().filename() == kHostsDir) continue;
    fs::copy(entry.path(), payload / entry.path().filename(), options);
  }
  const fs::path mine = hosts / std::string(host);
  if (fs::is_directory(fs::symlink_status(mine))) {
    fs::copy(mine, payload, options | fs::copy_options::overwrite_existing);
  }
}

}  // namespace fleetcast::protocol::bundle
