// Tests for fec/codec.hpp: the ISA-L codec against the reference codec (the oracle), every
// erasure pattern for small k, random patterns for large k, and argument errors.

#include "fec/codec.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace fleetcast::fec {
namespace {

// A block with all its encoding symbols 0..n-1 stored contiguously.
struct Block {
  std::size_t k, n, size;
  std::vector<std::uint8_t> bytes;

  Block(std::size_t k_, std::size_t n_, std::size_t size_, std::uint64_t seed)
      : k(k_), n(n_), size(size_), bytes(n_ * size_) {
    std::mt19937_64 rng(seed);
    for (std::size_t i = 0; i < k * size; ++i) bytes[i] = static_cast<std::uint8_t>(rng());
  }
  std::uint8_t* at(std::size_t esi) { return &bytes[esi * size]; }
  Symbol symbol(std::size_t esi) { return Symbol(at(esi), size); }

  void encode(Codec& codec) {
    std::vector<Symbol> src;
    for (std::size_t j = 0; j < k; ++j) src.push_back(symbol(j));
    std::vector<std::uint8_t> esis;
    std::vector<MutableSymbol> out;
    for (std::size_t e = k; e < n; ++e) {
      esis.push_back(static_cast<std::uint8_t>(e));
      out.emplace_back(at(e), size);
    }
    ASSERT_EQ(codec.encode(src, esis, out), Status::ok);
  }

  // Decodes with the symbols whose bit is set in `present`; checks the result against the block.
  Status decode_and_check(Codec& codec, const std::vector<bool>& present) {
    std::vector<Symbol> symbols(n);
    for (std::size_t e = 0; e < n; ++e) {
      if (present[e]) symbols[e] = symbol(e);
    }
    std::vector<std::uint8_t> out(k * size, 0xEE);
    std::vector<MutableSymbol> recovered;
    for (std::size_t j = 0; j < k; ++j) recovered.emplace_back(&out[j * size], size);
    const Status s = codec.decode(k, symbols, recovered);
    if (s != Status::ok) return s;
    for (std::size_t j = 0; j < k; ++j) {
      if (!present[j]) {
        EXPECT_EQ(0, std::memcmp(&out[j * size], at(j), size)) << "k=" << k << " symbol " << j;
      }
    }
    return s;
  }
};

// ISA-L produces byte-identical parity to the reference codec, for odd sizes and every ESI.
TEST(Codec, IsalParityMatchesReference) {
  auto isal = make_isal_codec();
  auto ref = make_reference_codec();
  for (std::size_t k : {1u, 2u, 7u, 32u, 200u}) {
    for (std::size_t size : {1u, 31u, 64u, 65u, 1400u}) {
      Block a(k, kMaxEncodingSymbols, size, k * 1000 + size);
      Block b = a;
      a.encode(*isal);
      b.encode(*ref);
      ASSERT_EQ(a.bytes, b.bytes) << "k=" << k << " size=" << size;
    }
  }
}

// Any parity ESI can be produced alone, and equals the same ESI produced in a batch.
TEST(Codec, ParityOnDemandIsIndependentOfBatch) {
  auto isal = make_isal_codec();
  Block a(50, 120, 100, 7);
  a.encode(*isal);
  std::vector<Symbol> src;
  for (std::size_t j = 0; j < a.k; ++j) src.push_back(a.symbol(j));
  std::vector<std::uint8_t> single(100);
  const std::uint8_t esi = 117;
  MutableSymbol out(single);
  ASSERT_EQ(isal->encode(src, std::span<const std::uint8_t>(&esi, 1), std::span(&out, 1)),
            Status::ok);
  EXPECT_EQ(0, std::memcmp(single.data(), a.at(esi), single.size()));
}

// Every erasure pattern of n = k + 4 symbols, for k = 1..6, on both codecs: k or more present
// symbols decode exactly; fewer report need_more_symbols.
TEST(Codec, EveryErasurePatternSmallK) {
  auto isal = make_isal_codec();
  auto ref = make_reference_codec();
  for (std::size_t k = 1; k <= 6; ++k) {
    const std::size_t n = k + 4;
    Block block(k, n, 33, k);
    block.encode(*ref);
    for (unsigned mask = 0; mask < (1u << n); ++mask) {
      std::vector<bool> present(n);
      std::size_t count = 0;
      for (std::size_t e = 0; e < n; ++e) count += (present[e] = (mask >> e) & 1u);
      const Status want = count >= k ? Status::ok : Status::need_more_symbols;
      ASSERT_EQ(block.decode_and_check(*isal, present), want) << "k=" << k << " mask=" << mask;
      ASSERT_EQ(block.decode_and_check(*ref, present), want) << "k=" << k << " mask=" << mask;
    }
  }
}

// Random erasure patterns for large k, including the highest ESIs and surplus symbols.
TEST(Codec, RandomErasuresLargeK) {
  auto isal = make_isal_codec();
  std::mt19937_64 rng(99);
  for (std::size_t k : {100u, 200u, 254u}) {
    const std::size_t n = kMaxEncodingSymbols;
    Block block(k, n, 256, k);
    block.encode(*isal);
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<bool> present(n, false);
      std::vector<std::size_t> order(n);
      for (std::size_t i = 0; i < n; ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), rng);
      const std::size_t keep = k + rng() % (n - k + 1);
      for (std::size_t i = 0; i < keep; ++i) present[order[i]] = true;
      ASSERT_EQ(block.decode_and_check(*isal, present), Status::ok) << "k=" << k;
    }
  }
}

// The reference codec agrees on random patterns of a mid-size block (slow, so one size).
TEST(Codec, ReferenceDecodesRandomErasures) {
  auto ref = make_reference_codec();
  std::mt19937_64 rng(5);
  Block block(40, 80, 16, 3);
  block.encode(*ref);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<bool> present(80, false);
    std::vector<std::size_t> order(80);
    for (std::size_t i = 0; i < 80; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t i = 0; i < 40; ++i) present[order[i]] = true;
    ASSERT_EQ(block.decode_and_check(*ref, present), Status::ok);
  }
}

// Invalid arguments give a clear status and write nothing.
TEST(Codec, RejectsInvalidArguments) {
  std::unique_ptr<Codec> codecs[] = {make_isal_codec(), make_reference_codec()};
  for (auto& codec : codecs) {
    std::vector<std::uint8_t> a(8), b(8), c(9), p(8);
    std::vector<Symbol> src{Symbol(a), Symbol(b)};
    std::vector<MutableSymbol> out{MutableSymbol(p)};
    std::uint8_t esi = 1;  // < k
    EXPECT_EQ(codec->encode(src, std::span(&esi, 1), out), Status::invalid_esi);
    esi = kMaxEncodingSymbols;
    EXPECT_EQ(codec->encode(src, std::span(&esi, 1), out), Status::invalid_esi);
    esi = 2;
    std::vector<Symbol> odd{Symbol(a), Symbol(c)};
    EXPECT_EQ(codec->encode(odd, std::span(&esi, 1), out), Status::symbol_size_mismatch);
    EXPECT_EQ(codec->encode({}, {}, {}), Status::invalid_block);
    std::vector<Symbol> empty_src{Symbol(), Symbol()};
    EXPECT_EQ(codec->encode(empty_src, std::span(&esi, 1), out), Status::symbol_size_mismatch);

    std::vector<std::uint8_t> r0(8), r1(8);
    std::vector<MutableSymbol> rec{MutableSymbol(r0), MutableSymbol(r1)};
    std::vector<Symbol> one_present{Symbol(a), Symbol(), Symbol()};
    EXPECT_EQ(codec->decode(2, one_present, rec), Status::need_more_symbols);
    std::vector<Symbol> mixed{Symbol(a), Symbol(), Symbol(c)};
    EXPECT_EQ(codec->decode(2, mixed, rec), Status::symbol_size_mismatch);
    EXPECT_EQ(codec->decode(0, mixed, {}), Status::invalid_block);
    EXPECT_EQ(codec->decode(kMaxSourceSymbols + 1, mixed, rec), Status::invalid_block);
    std::vector<Symbol> too_many(kMaxEncodingSymbols + 1, Symbol(a));
    EXPECT_EQ(codec->decode(2, too_many, rec), Status::invalid_block);
    std::vector<std::uint8_t> small(4);
    std::vector<MutableSymbol> bad_rec{MutableSymbol(r0), MutableSymbol(small)};
    std::vector<Symbol> ok_syms{Symbol(a), Symbol(), Symbol(p)};
    EXPECT_EQ(codec->decode(2, ok_syms, bad_rec), Status::symbol_size_mismatch);
  }
  EXPECT_EQ(to_string(Status::need_more_symbols), "need more symbols");
}

}  // namespace
}  // namespace fleetcast::fec
