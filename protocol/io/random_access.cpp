#include "protocol/io/random_access.hpp"

#include "protocol/io/file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace fleetcast::protocol::io {
namespace {

[[noreturn]] void fail(const std::string& what, const char* call) {
  throw_errno(what, call);
}

std::int64_t mtime_ns(const struct stat& st) {
  return std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

std::ptrdiff_t pread_full(int fd, std::span<std::uint8_t> out, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return static_cast<std::ptrdiff_t>(done);
}

bool pwrite_full(int fd, std::span<const std::uint8_t> bytes, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

InputFile::InputFile(int fd, std::string name) : fd_(fd), name_(std::move(name)) {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int e = errno;
    ::close(fd_);
    errno = e;
    fail(name_, "fstat");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw std::runtime_error(name_ + ": not a regular file");
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
  mtime_ns_ = mtime_ns(st);
}

InputFile::~InputFile() {
  ::close(fd_);
}

std::shared_ptr<const InputFile> InputFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path.string(), "open");
  return std::shared_ptr<const InputFile>(new InputFile(fd, path.string()));
}

std::shared_ptr<const InputFile> InputFile::from_bytes(std::span<const std::uint8_t> bytes,
                                                       std::string name) {
  const int fd = ::memfd_create("fleetcast-input", MFD_CLOEXEC);
  if (fd < 0) fail(name, "memfd_create");
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      errno = e;
      fail(name, "write");
    }
    done += static_cast<std::size_t>(n);
  }
  return std::shared_ptr<const InputFile>(new InputFile(fd, std::move(name)));
}

void InputFile::read(std::uint64_t offset, std::span<std::uint8_t> out) const {
  const std::uint64_t available = offset < size_ ? size_ - offset : 0;
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), available));
  const std::ptrdiff_t got = want > 0 ? pread_full(fd_, out.first(want), offset) : 0;
  if (got < 0) fail(name_, "read");
  if (static_cast<std::size_t>(got) < want)
    throw std::runtime_error(name_ + ": file shrank while being read");
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(got), out.end(), std::uint8_t{0});
}

Digest InputFile::digest(std::uint64_t offset, std::uint64_t length) const {
  const std::uint64_t end = offset + std::min(length, size_ - std::min(offset, size_));
  std::vector<std::uint8_t> piece(std::size_t{1} << 20);
  Hasher h;
  for (std::uint64_t at = offset; at < end;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), end - at));
    read(at, std::span(piece).first(n));
    h.update(std::span(piece).first(n));
    at += n;
  }
  return h.finish();
}

void InputFile::check_unchanged() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail(name_, "fstat");
  if (static_cast<std::uint64_t>(st.st_size) != size_ || mtime_ns(st) != mtime_ns_) {
    throw std::runtime_error(name_ +
                             ": the file changed while it was being sent (what the hosts check "
                             "was hashed from the earlier content)");
  }
}

ScratchFile::ScratchFile(std::string purpose, const std::filesystem::path& where)
    : purpose_(std::move(purpose)) {
  const auto dir = where.empty() ? std::filesystem::temp_directory_path() : where;
  dir_ = dir.string();
  fd_ = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    // A file system without O_TMPFILE: create a named file and unlink it at once.
    std::string pattern = (dir / "fleetcast-scratch-XXXXXX").string();
    fd_ = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (fd_ >= 0) ::unlink(pattern.c_str());
  }
  if (fd_ < 0) fail(dir.string() + " (scratch file for " + purpose_ + ")", "open");
}

ScratchFile::~ScratchFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ScratchFile::write(std::uint64_t offset, std::span<const std::uint8_t> bytes) {
  if (!pwrite_full(fd_, bytes, offset))
    fail("scratch file for " + purpose_ + " in " + dir_, "write");
}

void ScratchFile::read(std::uint64_t offset, std::span<std::uint8_t> out) const {
  const std::ptrdiff_t got = pread_full(fd_, out, offset);
  if (got < 0) fail("scratch file for " + purpose_, "read");
  if (static_cast<std::size_t>(got) != out.size()) {
    throw std::runtime_error("scratch file for " + purpose_ + ": read past what was written");
  }
}

bool GatheredWrites::write(std::uint64_t offset, std::span<const std::uint8_t> bytes) {
  if (!run_.empty() && offset == at_ + run_.size() && run_.size() + bytes.size() <= most_) {
    run_.insert(run_.end(), bytes.begin(), bytes.end());
    return true;
  }
  if (!flush()) return false;
  if (bytes.size() >= most_) return pwrite_full(fd_, bytes, offset);
  at_ = offset;
  run_.assign(bytes.begin(), bytes.end());
  return true;
}

bool GatheredWrites::flush() {
  if (run_.empty()) return true;
  const bool ok = pwrite_full(fd_, run_, at_);
  run_.clear();
  return ok;
}

}  // namespace fleetcast::protocol::io
