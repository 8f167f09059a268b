#include "protocol/io/file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace fleetcast::protocol::io {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const char* call) {
  throw_errno(path.string(), call);
}

}  // namespace

std::string errno_message(std::string_view what, std::string_view call, int err) {
  std::string out(what);
  if (!call.empty()) out.append(": ").append(call);
  if (err != 0) out.append(": ").append(std::strerror(err));
  return out;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

TempDir::TempDir(std::string_view prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / prefix).string();
  pattern.append("-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) fail(pattern, "mkdtemp");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

bool FileLock::try_lock(const std::filesystem::path& path) {
  if (fd_ >= 0) return true;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) fail(path, "open");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK) return false;
    errno = e;
    fail(path, "flock");
  }
  fd_ = fd;
  return true;
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
  UniqueFd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.get() < 0) fail(path, "open");
  struct stat st {};
  if (::fstat(f.get(), &st) != 0) fail(path, "fstat");
  if (!S_ISREG(st.st_mode)) throw std::runtime_error(path.string() + ": not a regular file");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(f.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path, "read");
    if (n == 0) throw std::runtime_error(path.string() + ": file shrank while being read");
    done += static_cast<std::size_t>(n);
  }
  return bytes;
}

void sync_directory(const std::filesystem::path& dir) {
  UniqueFd d(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.get() < 0) fail(dir, "open");
  if (::fsync(d.get()) != 0) fail(dir, "fsync");
}

namespace {

// Writes path.tmp from what `next` gives (an empty span: the end), fsyncs it, renames it over
// `path` and fsyncs the directory.
template <class Next>
void write_atomic(const std::filesystem::path& path, unsigned mode, Next next) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    UniqueFd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode));
    if (f.get() < 0) fail(tmp, "open");
    for (std::span<const std::uint8_t> bytes = next(); !bytes.empty(); bytes = next()) {
      std::size_t done = 0;
      while (done < bytes.size()) {
        const ssize_t n = ::write(f.get(), bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          const int e = errno;
          ::unlink(tmp.c_str());
          errno = e;
          fail(tmp, "write");
        }
        done += static_cast<std::size_t>(n);
      }
    }
    if (::fchmod(f.get(), mode) != 0) fail(tmp, "fchmod");
    if (::fsync(f.get()) != 0) fail(tmp, "fsync");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail(path, "rename");
  sync_directory(path.parent_path());
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                       unsigned mode) {
  bool given = false;
  write_atomic(path, mode, [&]() -> std::span<const std::uint8_t> {
    if (given) return {};
    given = true;
    return bytes;
  });
}

void copy_file_atomic(const std::filesystem::path& from, const std::filesystem::path& to,
                      unsigned mode) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) fail(from, "open");
  std::vector<std::uint8_t> piece(std::size_t{1} << 20);
  write_atomic(to, mode, [&]() -> std::span<const std::uint8_t> {
    for (;;) {
      const ssize_t n = ::read(in.get(), piece.data(), piece.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail(from, "read");
      return std::span(piece.data(), static_cast<std::size_t>(n));
    }
  });
}

}  // namespace fleetcast::protocol::io
