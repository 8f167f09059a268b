// Tests for sender/delivery/round_layout.hpp: where a round's AUTH packets go.

#include "sender/delivery/round_layout.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "protocol/data_auth.hpp"
#include "protocol/io/random_access.hpp"
#include "sender/delivery/data_auth.hpp"
#include "sender/delivery/repair_planner.hpp"

namespace fleetcast::sender {
namespace {
namespace p = protocol;

// A round without MIXED packets over 130 blocks (3 windows): each window's AUTH packets come
// after the symbols of the window before and before any symbol of their own window; copies
// set while the round streams count from the next window on.
TEST(RoundLayout, AuthGoesWindowByWindowAndFollowsTheCopies) {
  constexpr std::uint32_t kBlocks = 130, k = 4, s = 64;
  std::vector<std::uint8_t> bytes(std::size_t{kBlocks} * k * s);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 7);
  const auto plan = fec::BlockPlan::make(bytes.size(), s, k).value();
  ASSERT_EQ(plan.block_count(), kBlocks);
  const auto file = p::io::InputFile::from_bytes(bytes);
  const DataAuth auth(plan, *file);
  RoundLayout layout(plan, *file, 7);
  layout.authenticate_with(&auth);
  layout.set_auth_copies(2);
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

}  // namespace
}  // namespace fleetcast::sender
