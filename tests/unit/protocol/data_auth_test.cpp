// Data authentication (protocol/data_auth.hpp and the AUTH packet in data.hpp): every leaf of
// trees of every shape verifies with its path and nothing else does; AUTH packets round-trip
// and malformed ones are refused.
#include "protocol/data_auth.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "protocol/data.hpp"

namespace fleetcast::protocol {
namespace {

SymbolHash leaf_for(std::uint64_t i) {
  SymbolHash h{};
  for (std::size_t j = 0; j < h.size(); ++j) h[j] = static_cast<std::uint8_t>(i * 31 + j);
  return h;
}

// 1 to 70 leaves (odd levels carried up at every position): each leaf and its path lead to the
// root; a changed leaf, another index, another leaf count, a changed, shortened or longer path
// do not.
TEST(DataAuth, EveryLeafAndOnlyItVerifies) {
  for (std::uint64_t n = 1; n <= 70; ++n) {
    std::vector<SymbolHash> leaves;
    for (std::uint64_t i = 0; i < n; ++i) leaves.push_back(leaf_for(i));
    const AuthTree tree(leaves);
    for (std::uint64_t i = 0; i < n; ++i) {
      auto path = tree.path(i);
      ASSERT_TRUE(verify_auth_path(tree.root(), n, i, leaves[i], path)) << n << " leaf " << i;
      EXPECT_FALSE(verify_auth_path(tree.root(), n, i, leaf_for(i + 1000), path));
      EXPECT_FALSE(verify_auth_path(tree.root(), n + 1, i, leaves[i], path));
      if (n > 1) {
        EXPECT_FALSE(verify_auth_path(tree.root(), n, (i + 1) % n, leaves[i], path));
        auto changed = path;
        changed[0][3] ^= 1;
        EXPECT_FALSE(verify_auth_path(tree.root(), n, i, leaves[i], changed));
        EXPECT_FALSE(
            verify_auth_path(tree.root(), n, i, leaves[i], std::span(path).first(path.size() - 1)));
      }
      path.push_back(leaf_for(7));
      EXPECT_FALSE(verify_auth_path(tree.root(), n, i, leaves[i], path));
    }
    EXPECT_FALSE(verify_auth_path(tree.root(), n, n, leaves[0], tree.path(0)));
  }
}

// Symbol hashes bind block, ESI and every byte; leaves bind block and chunk.
TEST(DataAuth, HashesBindPosition) {
  const std::vector<std::uint8_t> sym(1400, 0x5a);
  const auto h = symbol_hash(3, 7, sym);
  EXPECT_NE(h, symbol_hash(4, 7, sym));
  EXPECT_NE(h, symbol_hash(3, 8, sym));
  auto other = sym;
  other[1399] ^= 1;
  EXPECT_NE(h, symbol_hash(3, 7, other));
  const std::vector<SymbolHash> hashes(kAuthChunkSymbols, h);
  EXPECT_NE(auth_leaf(0, 1, hashes), auth_leaf(1, 0, hashes));
  EXPECT_EQ(auth_leaf_index(2, 3), 13u);
  EXPECT_EQ(auth_chunk_of(254), 4);
  EXPECT_EQ(auth_chunk_of(50), 0);
  EXPECT_EQ(auth_chunk_of(51), 1);
}

// An AUTH packet round-trips; a deeper path than fits, a chunk past 4, a cut or a longer
// datagram are refused.
TEST(DataAuth, AuthPacketWire) {
  std::vector<std::uint8_t> hashes(kAuthChunkSymbols * kSymbolHashBytes, 0xab);
  std::vector<std::uint8_t> path(kMaxAuthDepth * kSymbolHashBytes, 0xcd);
  AuthPacket a{9, 77, 1234, 4, hashes, path};
  std::vector<std::uint8_t> buf(kMaxControlDatagram);
  const std::size_t n = encode_auth(a, buf);
  ASSERT_GT(n, 0u);
  EXPECT_EQ(n, kHeaderBytes + 1 + hashes.size() + path.size());
  auto parsed = parse_data_packet(std::span(buf.data(), n));
  ASSERT_TRUE(parsed);
  const auto& got = std::get<AuthPacket>(parsed.value());
  EXPECT_EQ(got.file_id, 9);
  EXPECT_EQ(got.sequence, 77u);
  EXPECT_EQ(got.sbn, 1234u);
  EXPECT_EQ(got.chunk, 4);
  EXPECT_TRUE(std::equal(got.hashes.begin(), got.hashes.end(), hashes.begin(), hashes.end()));
  EXPECT_TRUE(std::equal(got.path.begin(), got.path.end(), path.begin(), path.end()));
  for (std::size_t cut = 0; cut < n; cut += 97) {
    EXPECT_FALSE(parse_data_packet(std::span(buf.data(), cut))) << "cut at " << cut;
  }
  std::vector<std::uint8_t> longer(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  longer.push_back(0);
  EXPECT_FALSE(parse_data_packet(longer));
  auto bad_chunk =
      std::vector<std::uint8_t>(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  bad_chunk[11] = 5;  // FEC info: chunk 5
  EXPECT_FALSE(parse_data_packet(bad_chunk));
  std::vector<std::uint8_t> deep((kMaxAuthDepth + 1) * kSymbolHashBytes);
  EXPECT_EQ(encode_auth(AuthPacket{9, 77, 1, 0, hashes, deep}, buf), 0u);
  std::vector<std::uint8_t> deepest((kMaxAuthDepth)*kSymbolHashBytes);
  const std::size_t m = encode_auth(AuthPacket{9, 77, 1, 0, hashes, deepest}, buf);
  EXPECT_GT(m, 0u);
  EXPECT_LE(m, kMaxControlDatagram);
}

}  // namespace
}  // namespace fleetcast::protocol
