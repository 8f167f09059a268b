#include "protocol/io/random_access.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "protocol/io/file.hpp"

namespace fleetcast::protocol::io {
namespace {

TEST(InputFile, ReadsAtOffsetsWithZerosPastTheEnd) {
  const auto f = InputFile::from_bytes(std::vector<std::uint8_t>{1, 2, 3, 4, 5});
  std::vector<std::uint8_t> out(4, 9);
  f->read(3, out);
  EXPECT_EQ(out, (std::vector<std::uint8_t>{4, 5, 0, 0}));
  f->read(100, out);
  EXPECT_EQ(out, (std::vector<std::uint8_t>{0, 0, 0, 0}));
  EXPECT_EQ(f->digest(), digest(std::vector<std::uint8_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(f->digest(1, 2), digest(std::vector<std::uint8_t>{2, 3}));
}

TEST(InputFile, AFileChangedWhileSentIsRefused) {
  const TempDir dir("fleetcast-input-test");
  const auto path = dir.path() / "f";
  std::ofstream(path) << "first content";
  const auto f = InputFile::open(path);
  EXPECT_NO_THROW(f->check_unchanged());
  std::ofstream(path, std::ios::app) << " and more";
  EXPECT_THROW(f->check_unchanged(), std::runtime_error);
  // A file that shrank under a read says so instead of sending zeros.
  std::ofstream(path, std::ios::trunc) << "x";
  std::vector<std::uint8_t> out(8);
  EXPECT_THROW(f->read(0, out), std::runtime_error);
}

TEST(InputFile, NotARegularFileIsRefused) {
  EXPECT_THROW(InputFile::open("/dev/null"), std::runtime_error);
  EXPECT_THROW(InputFile::open("/nonexistent/fleetcast"), std::runtime_error);
}

TEST(ScratchFile, KeepsWhatWasWrittenAndLeavesNoName) {
  const TempDir dir("fleetcast-scratch-test");
  ScratchFile s("a test", dir.path());
  s.write(1 << 20, std::vector<std::uint8_t>{7, 8, 9});
  std::vector<std::uint8_t> out(3);
  s.read(1 << 20, out);
  EXPECT_EQ(out, (std::vector<std::uint8_t>{7, 8, 9}));
  EXPECT_THROW(s.read(2 << 20, out), std::runtime_error);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

}  // namespace
}  // namespace fleetcast::protocol::io
