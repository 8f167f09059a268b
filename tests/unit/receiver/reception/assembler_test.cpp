// The assembler keeps a block's parity symbols in the part file, in the slots of source symbols
// the block still lacks: a source symbol arriving for an occupied slot moves the parity aside,
// the block decodes from what it reads back, and a restart forgets parity (the state records
// source symbols only).

#include "receiver/reception/assembler.hpp"

#include <gtest/gtest.h>

#include <random>

#include "fec/codec.hpp"
#include "protocol/io/file.hpp"
#include "protocol/io/random_access.hpp"
#include "sender/delivery/data_auth.hpp"

namespace fleetcast::receiver {
namespace {
namespace p = protocol;

constexpr std::uint32_t kSymbol = 64;
constexpr std::uint32_t kK = 8;

class AssemblerTest : public ::testing::Test {
 protected:
  AssemblerTest() : dir_("fleetcast-assembler-test") {
    std::mt19937 rng(7);
    file_.resize(3 * kK * kSymbol - 10);  // three blocks, the last symbol short
    for (auto& b : file_) b = static_cast<std::uint8_t>(rng());
    input_ = p::io::InputFile::from_bytes(file_);
    plan_ = fec::BlockPlan::make(file_.size(), kSymbol, kK).value();
    auth_ = std::make_unique<sender::DataAuth>(plan_, *input_);
    update_.name = "object.bin";
    update_.size = file_.size();
    update_.file_id = 1;
    update_.last_seq = static_cast<std::uint32_t>(plan_.symbol_count());
    update_.digest = p::digest(file_);
    update_.symbol_size = kSymbol;
    update_.max_k = kK;
    std::filesystem::create_directories(spool());
    std::filesystem::create_directories(state());
  }
  std::filesystem::path spool() const { return dir_.path() / "spool"; }
  std::filesystem::path state() const { return dir_.path() / "state"; }
  std::unique_ptr<Assembler> open() {
    return std::make_unique<Assembler>(update_, spool(), state());
  }

  // The roots of every window (as a ROOTS packet whose signature the agent checked brings them).
  void give_roots(Assembler& a) {
    for (std::uint32_t w = 0; w < auth_->windows(); ++w) {
      const auto r = auth_->roots(w, sender::DataAuth::kAllChunks).roots;
      a.on_roots(p::Roots{1, w, 0x1f, {r.begin(), r.end()}}, {});
    }
  }
  // The roots and the AUTH chunks of every block.
  void authenticate(Assembler& a) {
    give_roots(a);
    std::vector<std::uint8_t> buf(2048);
    for (std::uint32_t b = 0; b < plan_.block_count(); ++b) {
      for (std::uint8_t c = 0; c < p::kAuthChunksPerBlock; ++c) {
        const std::size_t n = auth_->build(b, c, 1, 0, buf);
        ASSERT_GT(n, 0u);
        const auto packet = p::parse_data_packet(std::span(buf).first(n));
        ASSERT_TRUE(packet);
        EXPECT_EQ(a.on_auth(std::get<p::AuthPacket>(packet.value())), Assembler::Result::stored);
      }
    }
  }
  // Symbol `esi` of block `sbn` (source from the file, parity encoded).
  std::vector<std::uint8_t> symbol(std::uint32_t sbn, std::uint8_t esi) {
    std::vector<std::uint8_t> block(kK * kSymbol, 0);
    const std::size_t first = plan_.first_symbol(sbn) * kSymbol;
    for (std::size_t i = 0; i < block.size() && first + i < file_.size(); ++i) {
      block[i] = file_[first + i];
    }
    if (esi < kK) return {block.begin() + esi * kSymbol, block.begin() + (esi + 1) * kSymbol};
    std::vector<fec::Symbol> src;
    for (std::uint32_t j = 0; j < kK; ++j) src.emplace_back(&block[j * kSymbol], kSymbol);
    std::vector<std::uint8_t> out(kSymbol);
    const fec::MutableSymbol o(out);
    EXPECT_EQ(fec::make_isal_codec()->encode(src, std::span(&esi, 1), std::span(&o, 1)),
              fec::Status::ok);
    return out;
  }
  Assembler::Result give(Assembler& a, std::uint32_t sbn, int e) {
    const auto esi = static_cast<std::uint8_t>(e);
    const auto bytes = symbol(sbn, esi);
    return a.on_symbol(p::SymbolPacket{esi >= kK, 1, 0, sbn, esi, bytes});
  }
  std::vector<std::uint8_t> received() const { return p::io::read_file(spool() / update_.name); }

  p::io::TempDir dir_;
  std::vector<std::uint8_t> file_;
  std::shared_ptr<const p::io::InputFile> input_;
  fec::BlockPlan plan_ = fec::BlockPlan::make(1, 1, 1).value();
  std::unique_ptr<sender::DataAuth> auth_;
  p::Update update_;
};

TEST_F(AssemblerTest, ParityMovesAsideForTheSourceSymbolOfItsSlot) {
  auto a = open();
  authenticate(*a);
  for (std::uint32_t b = 0; b < plan_.block_count(); ++b) {
    // Parity first: it takes the slots of source symbols 0 and 1, which then arrive and push
    // it to other free slots, twice over; with 2 source symbols lost the block decodes.
    ASSERT_EQ(give(*a, b, 8), Assembler::Result::stored);
    ASSERT_EQ(give(*a, b, 9), Assembler::Result::stored);
    EXPECT_EQ(give(*a, b, 9), Assembler::Result::duplicate);
    for (const int esi : {0, 1, 2, 3, 5}) ASSERT_EQ(give(*a, b, esi), Assembler::Result::stored);
    EXPECT_EQ(a->complete_blocks(), b);
    ASSERT_EQ(give(*a, b, 6), Assembler::Result::stored);  // 6 source + 2 parity: decoded
    EXPECT_EQ(a->complete_blocks(), b + 1);
  }
  EXPECT_EQ(a->counters().blocks_decoded, plan_.block_count());
  ASSERT_TRUE(a->all_blocks());
  EXPECT_EQ(a->finalize(), std::nullopt);
  EXPECT_EQ(received(), file_);
}

TEST_F(AssemblerTest, ARestartForgetsParityButNotSourceSymbols) {
  {
    auto a = open();
    authenticate(*a);
    for (std::uint32_t b = 0; b < plan_.block_count(); ++b) {
      for (const int esi : {8, 9, 10}) ASSERT_EQ(give(*a, b, esi), Assembler::Result::stored);
      for (const int esi : {4, 5, 6, 7}) ASSERT_EQ(give(*a, b, esi), Assembler::Result::stored);
    }
    EXPECT_EQ(a->complete_blocks(), 0u);
    a->checkpoint();
  }
  auto a = open();
  const auto needs = a->missing(16);
  ASSERT_EQ(needs.size(), 1u);  // every block lacks 4: the parity held in slots 0-3 is gone
  EXPECT_EQ(needs[0].need, 4);
  EXPECT_EQ(needs[0].run, plan_.block_count());
  authenticate(*a);
  for (std::uint32_t b = 0; b < plan_.block_count(); ++b) {
    for (const int esi : {11, 12, 0, 1}) ASSERT_EQ(give(*a, b, esi), Assembler::Result::stored);
  }
  ASSERT_TRUE(a->all_blocks());
  EXPECT_EQ(a->finalize(), std::nullopt);
  EXPECT_EQ(received(), file_);
}

TEST_F(AssemblerTest, AForgedParitySymbolTakesNoSlot) {
  auto a = open();
  authenticate(*a);
  auto forged = symbol(0, 8);
  forged[0] ^= 1;
  EXPECT_EQ(a->on_symbol(p::SymbolPacket{true, 1, 0, 0, 8, forged}), Assembler::Result::forged);
  for (const int esi : {1, 2, 3, 4, 5, 6, 7, 8})
    ASSERT_EQ(give(*a, 0, esi), Assembler::Result::stored);
  EXPECT_EQ(a->complete_blocks(), 1u);
}

// Issue 26, item 9: symbols kept aside for an AUTH chunk the host lacks count as held only while
// the session showed no forgery. Forged copies of every symbol of block 1 (its chunks lost)
// once made the NAK say the block needed nothing; now it asks for what it cannot check.
TEST_F(AssemblerTest, hardenForgedSymbolsAwaitingTheirChunkAreNotCountedAsHeld) {
  auto a = open();
  give_roots(*a);
  std::vector<std::uint8_t> buf(2048);
  for (std::uint32_t b = 0; b < plan_.block_count(); ++b) {
    if (b == 1) continue;  // block 1's chunks of hashes are lost
    for (std::uint8_t c = 0; c < p::kAuthChunksPerBlock; ++c) {
      const std::size_t n = auth_->build(b, c, 1, 0, buf);
      const auto packet = p::parse_data_packet(std::span(buf).first(n));
      ASSERT_EQ(a->on_auth(std::get<p::AuthPacket>(packet.value())), Assembler::Result::stored);
    }
  }
  for (int esi = 0; esi < static_cast<int>(kK); ++esi) {
    auto forged = symbol(1, static_cast<std::uint8_t>(esi));
    forged[3] ^= 0x40;
    EXPECT_EQ(a->on_symbol(p::SymbolPacket{false, 1, 0, 1, static_cast<std::uint8_t>(esi), forged}),
              Assembler::Result::unverified);
  }
  auto forged0 = symbol(0, 0);  // a forgery the host can check: the session is under attack
  forged0[0] ^= 1;
  EXPECT_EQ(a->on_symbol(p::SymbolPacket{false, 1, 0, 0, 0, forged0}), Assembler::Result::forged);
  const auto need = a->missing(16);
  ASSERT_FALSE(need.empty());
  bool asks_block_1 = false;
  for (const auto& e : need) {
    if (e.first_block <= 1 && 1 < e.first_block + e.run) asks_block_1 = e.need == kK;
  }
  EXPECT_TRUE(asks_block_1) << "block 1 needs all its symbols: none of them is checked";
  EXPECT_FALSE(a->missing_chunks(4).empty()) << "and its chunks of hashes";
}

// A window's AUTH packets are checked against the roots a signed ROOTS packet brought: before
// they came, an AUTH packet is dropped (asked for again with the symbols it would check); under
// a root that is not the window's, it is forged; a second ROOTS packet changes no root held.
TEST_F(AssemblerTest, AnAuthPacketIsCheckedOnlyAgainstItsWindowsSignedRoots) {
  auto a = open();
  std::vector<std::uint8_t> buf(2048);
  const auto auth_of = [&](std::uint32_t b, std::uint8_t c) {
    const std::size_t n = auth_->build(b, c, 1, 0, buf);
    return std::get<p::AuthPacket>(p::parse_data_packet(std::span(buf).first(n)).value());
  };
  EXPECT_EQ(a->on_auth(auth_of(0, 0)), Assembler::Result::unverified);
  EXPECT_EQ(a->counters().auth_unrooted, 1u);
  EXPECT_EQ(a->counters().forged, 0u);
  EXPECT_EQ(a->on_symbol(p::SymbolPacket{false, 1, 0, 0, 0, symbol(0, 0)}),
            Assembler::Result::unverified);
  EXPECT_FALSE(a->missing_chunks(4).empty()) << "the chunk is asked for";

  const auto r = auth_->roots(0, sender::DataAuth::kAllChunks).roots;
  p::Roots wrong{1, 0, 0x03, {r[1], r[0]}};  // chunk 0 and 1's roots swapped
  EXPECT_TRUE(a->wants_roots(wrong));
  a->on_roots(wrong, {});
  EXPECT_FALSE(a->wants_roots(wrong)) << "nothing new in a copy";
  EXPECT_EQ(a->on_auth(auth_of(0, 0)), Assembler::Result::forged);
  a->on_roots(p::Roots{1, 0, 0x1f, {r.begin(), r.end()}}, std::vector<std::uint8_t>(5, 7));
  EXPECT_EQ(a->roots()[0].held, 0x1f);
  EXPECT_EQ(a->roots()[0].roots[0], r[1]) << "a root once held is kept";
  EXPECT_EQ(a->roots()[0].datagram.size(), 5u) << "the packet with the most roots is kept";
  EXPECT_EQ(a->on_auth(auth_of(0, 2)), Assembler::Result::stored);
  EXPECT_EQ(a->on_auth(auth_of(1, 0)), Assembler::Result::forged);
  EXPECT_EQ(a->counters().forged, 2u);
}

}  // namespace
}  // namespace fleetcast::receiver
