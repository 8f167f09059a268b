// Tests for sender/delivery/round_layout.hpp: where a round's AUTH packets go.

#include "sender/delivery/round_layout.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <span>
#include <vector>

#include "protocol/data.hpp"
#include "protocol/data_auth.hpp"
#include "protocol/io/random_access.hpp"
#include "sender/delivery/data_auth.hpp"
#include "sender/delivery/repair_planner.hpp"

namespace fleetcast::sender {
namespace {
namespace p = protocol;

// A file of `blocks` blocks of k symbols of s bytes, its plan, and a layout that authenticates
// its symbols with 2 copies of each new AUTH packet.
struct Laid {
  Laid(std::uint32_t blocks, std::uint32_t k, std::uint32_t s)
      : bytes(std::size_t{blocks} * k * s),
        plan(fec::BlockPlan::make(bytes.size(), s, k).value()),
        file(p::io::InputFile::from_bytes(fill(bytes))),
        auth(plan, *file),
        layout(plan, *file, 7) {
    layout.authenticate_with(&auth);
    layout.set_auth_copies(2);
  }
  static std::span<const std::uint8_t> fill(std::vector<std::uint8_t>& b) {
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * 7);
    return b;
  }
  std::vector<std::uint8_t> bytes;
  fec::BlockPlan plan;
  std::shared_ptr<const p::io::InputFile> file;
  DataAuth auth;
  RoundLayout layout;
};

// A round without MIXED packets over 130 blocks (3 windows): each window's AUTH packets come
// after the symbols of the window before and before any symbol of their own window; copies
// set while the round streams count from the next window on.
TEST(RoundLayout, AuthGoesWindowByWindowAndFollowsTheCopies) {
  constexpr std::uint32_t kBlocks = 130, k = 4, s = 64;
  Laid laid(kBlocks, k, s);
  ASSERT_EQ(laid.plan.block_count(), kBlocks);
  RoundLayout& layout = laid.layout;
  RoundPackets packets;
  for (std::uint32_t b = 0; b < kBlocks; ++b) packets.add_single(b, k);
  layout.lay_out(packets, 0);

  std::vector<std::uint8_t> out(2048);
  std::map<std::uint32_t, int> auth_of_window;  // AUTH packets per window
  std::uint32_t last_symbol_window = 0;
  bool symbols_started = false;
  std::size_t symbols = 0;
  for (std::uint32_t seq = 0; seq < 10000; ++seq) {
    const auto built = layout.build_next(seq, out);
    if (!built) break;
    const std::uint32_t window = built->block / kInterleaveWindow;
    if (built->kind == PacketKind::auth) {
      // Never behind a symbol of its own window or of a later one.
      if (symbols_started) {
        EXPECT_GT(window, last_symbol_window) << "block " << built->block;
      }
      ++auth_of_window[window];
      continue;
    }
    ASSERT_EQ(built->kind, PacketKind::source);
    // Every AUTH packet of the window came before its first symbol.
    if (!symbols_started || window != last_symbol_window) {
      const int chunks = static_cast<int>(
          std::min(kInterleaveWindow, kBlocks - window * kInterleaveWindow));  // 1 chunk a block
      EXPECT_EQ(auth_of_window[window], window == 0 ? 2 * chunks : chunks) << window;
    }
    if (!symbols_started) layout.set_auth_copies(1);  // e.g. the first loss report: 0 %
    symbols_started = true;
    last_symbol_window = window;
    ++symbols;
  }
  EXPECT_EQ(symbols, std::size_t{kBlocks} * k);
  EXPECT_EQ(auth_of_window.size(), 3u);
  EXPECT_EQ(auth_of_window[2], 2);  // blocks 128-129
}

// The AUTH packets of each round's chunks: (block, chunk) of every one, in order.
std::vector<std::pair<std::uint32_t, std::uint8_t>> auth_of_round(
    RoundLayout& layout, const RoundPackets& packets,
    std::span<const std::pair<std::uint32_t, std::uint8_t>> requested = {}) {
  layout.lay_out(packets, 0, requested);
  std::vector<std::uint8_t> out(2048);
  std::vector<std::pair<std::uint32_t, std::uint8_t>> got;
  for (std::uint32_t seq = 0; seq < 10000; ++seq) {
    const auto built = layout.build_next(seq, out);
    if (!built) break;
    if (built->kind != PacketKind::auth) continue;
    const auto packet = p::parse_data_packet(std::span(out.data(), built->bytes));
    EXPECT_TRUE(packet.ok());
    if (!packet) continue;
    const auto& a = std::get<p::AuthPacket>(packet.value());
    got.emplace_back(a.sbn, a.chunk);
  }
  return got;
}

// Round 0 sends each block's chunk (2 copies). A repair round that sends a few parity symbols
// of a block does not send its chunk again (every host holds it, or asks); one that sends a
// block anew (at least half of it: a host that joined late) sends it once; a chunk a host asked
// for goes out with the copies.
TEST(RoundLayout, AChunkSentBeforeGoesAgainOnlyWhenAskedOrItsBlockIsSentAnew) {
  constexpr std::uint32_t kBlocks = 3, k = 8, s = 64;
  Laid laid(kBlocks, k, s);
  RoundLayout& layout = laid.layout;
  RoundPackets round0;
  for (std::uint32_t b = 0; b < kBlocks; ++b) round0.add_single(b, k);
  EXPECT_EQ(auth_of_round(layout, round0).size(), 2u * kBlocks);

  RoundPackets repair;
  repair.add_single(0, 2);  // 2 parity symbols of block 0: its chunk is held
  repair.add_single(1, k);  // block 1 anew
  const std::pair<std::uint32_t, std::uint8_t> asked[] = {{2, 0}};
  const auto got = auth_of_round(layout, repair, asked);
  const std::vector<std::pair<std::uint32_t, std::uint8_t>> want = {{1, 0}, {2, 0}, {2, 0}};
  EXPECT_EQ(got, want);
}

// Each window's ROOTS packet goes before its first AUTH packet, at least twice (the copies
// together), naming the chunks the round sends of the window; with 4 copies, 4.
TEST(RoundLayout, AWindowsRootsGoBeforeItsAuthPackets) {
  constexpr std::uint32_t kBlocks = 130, k = 4, s = 64;
  Laid laid(kBlocks, k, s);
  std::vector<std::pair<std::uint32_t, std::uint8_t>> asked_for;  // (window, chunks)
  laid.layout.send_roots_with(
      [&](std::uint32_t window, std::uint8_t chunks, std::span<std::uint8_t> out) {
        asked_for.emplace_back(window, chunks);
        out[0] = 0xee;
        return std::size_t{1};
      },
      1);
  for (const std::uint32_t copies : {2u, 5u}) {
    asked_for.clear();
    laid.layout.set_auth_copies(1);
    laid.layout.set_roots_copies(copies);
    RoundPackets packets;
    for (std::uint32_t b = 0; b < kBlocks; ++b) packets.add_single(b, k);
    laid.layout.lay_out(packets, 0);
    std::vector<std::uint8_t> out(2048);
    std::map<std::uint32_t, int> roots_of_window;
    for (std::uint32_t seq = 0; seq < 10000; ++seq) {
      const auto built = laid.layout.build_next(seq, out);
      if (!built) break;
      const std::uint32_t window = built->block / kInterleaveWindow;
      if (built->kind == PacketKind::roots) {
        EXPECT_EQ(out[0], 0xee);
        ++roots_of_window[window];
      } else if (built->kind == PacketKind::auth) {
        EXPECT_EQ(roots_of_window[window], static_cast<int>(copies))
            << "every copy of window " << window << "'s roots before its AUTH packets";
      }
    }
    EXPECT_EQ(roots_of_window.size(), 3u);
    for (const auto& [window, chunks] : asked_for) EXPECT_EQ(chunks, 0x01) << window;
  }
}

// The copies follow the losses of the hosts that need the round: enough for the worst one, more
// when many hosts would otherwise lose every copy of many chunks.
TEST(RoundLayout, AuthAndRootsCopiesFollowTheHostsLosses) {
  EXPECT_EQ(auth_copies({}), 2u) << "not measured yet";
  EXPECT_EQ(roots_copies({}), 3u);
  const std::vector<double> clean(1000, 0.0);
  EXPECT_EQ(auth_copies(clean), 1u);
  EXPECT_EQ(roots_copies(clean), 2u) << "never fewer than 2";
  std::vector<double> varied;  // 16 hosts at 0 to 15 %
  for (int h = 0; h < 16; ++h) varied.push_back(0.01 * h);
  EXPECT_EQ(auth_copies(varied), 2u) << "2.25 % of the chunks to the worst host: cheaper than 3";
  EXPECT_EQ(roots_copies(varied), 5u) << "0.15^5 < 1e-4";
  EXPECT_EQ(auth_copies(std::vector<double>(4, 0.05)), 2u);
  EXPECT_EQ(auth_copies(std::vector<double>(300, 0.05)), 3u)
      << "2 copies would leave half the chunks to send again";
  EXPECT_EQ(auth_copies(std::vector<double>(4, 0.20)), 3u) << "4 % per host is above the target";
  EXPECT_EQ(auth_copies(std::vector<double>(2, 0.95)), kMaxAuthCopies);
  EXPECT_EQ(roots_copies(std::vector<double>(2, 0.95)), 8u);
  EXPECT_EQ(auth_copies(std::vector<double>(1000, 0.005)), 2u)
      << "1 copy: 99 % of the chunks lost by some host";
}

// The chunks hashed ahead are round 0's; another chunk is hashed when first asked for and then
// ahead for every window. Either way the roots and AUTH packets are those of a DataAuth that
// hashed everything.
TEST(DataAuth, ChunksBeyondRoundZerosAreHashedWhenAskedFor) {
  constexpr std::uint32_t kBlocks = 200, k = 100, s = 64;
  std::vector<std::uint8_t> bytes(std::size_t{kBlocks} * k * s);
  const auto plan = fec::BlockPlan::make(bytes.size(), s, k).value();
  const auto file = p::io::InputFile::from_bytes(Laid::fill(bytes));
  const std::uint8_t round0 = DataAuth::chunks_below(k + 5);
  EXPECT_EQ(round0, 0x07);  // ESIs 0-104: chunks 0, 1 and 2
  const DataAuth lazy(plan, *file, round0);
  const DataAuth all(plan, *file);
  EXPECT_EQ(lazy.roots(0, 0x01).chunks & 0x18, 0) << "chunks 3 and 4 not hashed ahead";
  std::vector<std::uint8_t> a(2048), b(2048);
  const std::size_t n = lazy.build(70, 4, 1, 2, a);  // window 1, chunk 4: hashed now
  ASSERT_GT(n, 0u);
  ASSERT_EQ(all.build(70, 4, 1, 2, b), n);
  EXPECT_TRUE(std::equal(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin()));
  for (std::uint32_t w = 0; w < lazy.windows(); ++w) {
    const auto got = lazy.roots(w, DataAuth::kAllChunks);
    EXPECT_EQ(got.chunks, DataAuth::kAllChunks);
    EXPECT_EQ(got.roots, all.roots(w, DataAuth::kAllChunks).roots) << "window " << w;
  }
  EXPECT_EQ(lazy.digest(), p::digest(bytes));
}

}  // namespace
}  // namespace fleetcast::sender
