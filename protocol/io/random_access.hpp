#pragma once
// Files read and written at offsets, so that what a session costs in memory does not grow with
// the object: the manager reads a block when it sends or encodes it (never the whole file), and
// keeps what it derives per symbol (hashes, a round's parity) in scratch files, not in RSS.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "protocol/signature.hpp"

namespace fleetcast::protocol::io {

// A regular file opened read-only. Reads past the end give zeros (the object padded to whole
// symbols); a file that changes size or modification time while it is read is refused, since
// what was hashed and signed would no longer be what goes out. Errors throw std::runtime_error
// naming the file.
class InputFile {
 public:
  static std::shared_ptr<const InputFile> open(const std::filesystem::path& path);
  // The bytes in an anonymous in-memory file (memfd): tests and small generated objects.
  static std::shared_ptr<const InputFile> from_bytes(std::span<const std::uint8_t> bytes,
                                                     std::string name = "(memory)");
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile();

  std::uint64_t size() const { return size_; }
  const std::string& name() const { return name_; }
  // Fills `out` from `offset`; zeros past the end.
  void read(std::uint64_t offset, std::span<std::uint8_t> out) const;
  // BLAKE2b-256 of [offset, offset + length) (default: the whole file), read in 1 MiB pieces.
  Digest digest(std::uint64_t offset = 0, std::uint64_t length = UINT64_MAX) const;
  // Throws when the file changed size or modification time since it was opened.
  void check_unchanged() const;
  int fd() const { return fd_; }

 private:
  InputFile(int fd, std::string name);
  int fd_;
  std::string name_;
  std::uint64_t size_ = 0;
  std::int64_t mtime_ns_ = 0;
};

// pread until `out` is full or the file ends: the bytes read, or -1 (errno set). EINTR retried.
std::ptrdiff_t pread_full(int fd, std::span<std::uint8_t> out, std::uint64_t offset);
// pwrite all of `bytes` at `offset`: false on an error (errno set). EINTR retried.
bool pwrite_full(int fd, std::span<const std::uint8_t> bytes, std::uint64_t offset);

// Writes to a file descriptor at offsets, gathered: a write that continues the one before is
// appended in memory (up to `most` bytes in all) and the run reaches the file in one pwrite,
// when a write elsewhere comes or flush() is called. A reader of the file flushes first.
class GatheredWrites {
 public:
  GatheredWrites(int fd, std::size_t most) : fd_(fd), most_(most) {}
  // false on an error (errno set; what was gathered before it is dropped).
  bool write(std::uint64_t offset, std::span<const std::uint8_t> bytes);
  bool flush();

 private:
  int fd_;
  std::size_t most_;
  std::vector<std::uint8_t> run_;
  std::uint64_t at_ = 0;  // offset of run_
};

// An unlinked file in `dir` (default: the temporary directory, $TMPDIR, else /tmp), read and
// written at offsets; the kernel frees it when it is closed or the process dies, so nothing is
// left behind. A write that finds the disk full throws, saying what `purpose` needed the space.
class ScratchFile {
 public:
  explicit ScratchFile(std::string purpose, const std::filesystem::path& dir = {});
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  ~ScratchFile();
  void write(std::uint64_t offset, std::span<const std::uint8_t> bytes);
  void read(std::uint64_t offset, std::span<std::uint8_t> out) const;

 private:
  int fd_ = -1;
  std::string purpose_;
  std::string dir_;
};

}  // namespace fleetcast::protocol::io
