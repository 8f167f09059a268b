#include "protocol/io/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "protocol/io/file.hpp"
#include "protocol/text.hpp"

namespace fleetcast::protocol::io {
namespace {

constexpr std::size_t kMaxKeyFileBytes = 4096;

[[noreturn]] void fail(const std::filesystem::path& path, std::string_view what, int err = 0) {
  throw_errno<KeyFileError>(path.string(), what, err);
}

void write_new_file(const std::filesystem::path& path, const std::string& content, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (fd.get() < 0) fail(path, errno == EEXIST ? "exists, refusing to overwrite" : "open", errno);
  if (::fchmod(fd.get(), mode) != 0) fail(path, "fchmod", errno);  // umask may have narrowed it
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path, "write", errno);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) fail(path, "fsync", errno);
}

std::string read_small_file(const std::filesystem::path& path, bool secret) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) fail(path, "open", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail(path, "fstat", errno);
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");
  if (secret && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    fail(path, std::string("secret key permissions ") + mode +
                   " are too open (group/others may access it); run: chmod 600 " + path.string());
  }
  if (st.st_size > static_cast<off_t>(kMaxKeyFileBytes)) fail(path, "too large for a key file");
  std::string content(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::read(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path, "read", errno);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  content.resize(done);
  return content;
}

}  // namespace

void write_key_pair(const std::filesystem::path& dir, std::string_view stem, const SecretKey& key,
                    std::string_view host_name) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) fail(dir, "mkdir", errno);
  }
  const auto secret_path = dir / (std::string(stem) + ".key");
  const auto public_path = dir / (std::string(stem) + ".pub");
  if (std::filesystem::exists(public_path, ec)) fail(public_path, "exists, refusing to overwrite");
  write_new_file(secret_path, encode_secret_key_file(key), 0600);
  write_new_file(public_path, encode_public_key_file(key.public_key(), host_name), 0644);
  try {
    sync_directory(dir);
  } catch (const std::runtime_error& e) {
    throw KeyFileError(e.what());
  }
}

SecretKey load_secret_key(const std::filesystem::path& path) {
  auto key = parse_secret_key_file(read_small_file(path, true));
  if (!key) fail(path, "not a fleetcast secret key file (" + to_string(key.failure()) + ")");
  return key.value();
}

PublicKeyFile load_public_key(const std::filesystem::path& path) {
  auto key = parse_public_key_file(read_small_file(path, false));
  if (!key) fail(path, "not a fleetcast public key file (" + to_string(key.failure()) + ")");
  return key.value();
}

std::string describe_key_file(const std::filesystem::path& path) {
  PublicKeyFile pub;
  if (path.extension() == ".key") {
    pub.key = load_secret_key(path).public_key();
  } else {
    pub = load_public_key(path);
  }
  std::string out = "key-id ";
  out.append(text::hex64(key_id(pub.key).value)).append("\nfingerprint ");
  out.append(fingerprint(pub.key)).append("\n");
  if (!pub.host_name.empty()) out.append("host ").append(pub.host_name).append("\n");
  return out;
}

}  // namespace fleetcast::protocol::io
