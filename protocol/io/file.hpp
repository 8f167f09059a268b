#pragma once
// Whole-file reads and durable, atomic whole-file writes. Start-up and command code: failures
// throw std::runtime_error naming the path, the failing call and errno's text.

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fleetcast::protocol::io {

// "WHAT: CALL: errno's text" (`err`, errno by default; no CALL part when it is empty), thrown as
// `Error`: the one way a failed system call becomes an exception.
std::string errno_message(std::string_view what, std::string_view call, int err);
template <class Error = std::runtime_error>
[[noreturn]] void throw_errno(std::string_view what, std::string_view call, int err = errno) {
  throw Error(errno_message(what, call, err));
}

// Owns a file descriptor; closes it once.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }

 private:
  int fd_;
};

// A private scratch directory (mkdtemp, mode 0700, under the system temp directory), removed
// with everything in it when this object goes.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix);
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// An exclusive advisory lock (flock) on a file, held while this object lives. The kernel
// releases it when the process dies, so an owner killed at any moment never leaves it taken.
class FileLock {
 public:
  FileLock() = default;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();
  // Creates `path` (0600) if needed and takes the lock without waiting; false when another
  // process (or another FileLock of this one) holds it.
  bool try_lock(const std::filesystem::path& path);

 private:
  int fd_ = -1;
};

std::vector<std::uint8_t> read_file(const std::filesystem::path& path);

// Writes path.tmp, fsyncs it, renames it over `path` and fsyncs the directory: after a crash
// the file is either the old or the new content, never a mix.
void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                       unsigned mode = 0644);

// The same for a copy of the file `from`, read and written 1 MiB at a time.
void copy_file_atomic(const std::filesystem::path& from, const std::filesystem::path& to,
                      unsigned mode = 0644);

// fsync of a directory (after creating, renaming or removing entries in it).
void sync_directory(const std::filesystem::path& dir);

}  // namespace fleetcast::protocol::io
