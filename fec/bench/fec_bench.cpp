// FEC throughput benchmark: encode and decode MB/s of source bytes on one core, ISA-L codec.
//
//   fleetcast-fec-bench [--seconds S]
//
// For each shape it cycles over 32 blocks (several MB, so numbers include memory traffic, not
// just L1), encodes all parity of each block, then for decode erases `parity` random source
// symbols of each block (a fresh pattern per block) and recovers them from the parity. Every
// decoded block is compared with the original: a wrong result aborts the benchmark.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "fec/codec.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using fleetcast::fec::Codec;
using fleetcast::fec::MutableSymbol;
using fleetcast::fec::Status;
using fleetcast::fec::Symbol;

constexpr std::size_t kBlocks = 32;

struct Shape {
  std::size_t k;
  std::size_t parity;
  std::size_t symbol_size;
};

struct Figures {
  double encode_mbps;
  double decode_mbps;
};

Figures run(Codec& codec, const Shape& shape, double seconds) {
  const std::size_t n = shape.k + shape.parity;
  const std::size_t s = shape.symbol_size;
  std::vector<std::uint8_t> data(kBlocks * n * s);
  std::mt19937_64 rng(42);
  for (auto& b : data) b = static_cast<std::uint8_t>(rng());
  std::vector<std::uint8_t> esis(shape.parity);
  std::iota(esis.begin(), esis.end(), static_cast<std::uint8_t>(shape.k));
  auto symbol = [&](std::size_t block, std::size_t i) { return &data[(block * n + i) * s]; };

  std::vector<Symbol> src(shape.k);
  std::vector<MutableSymbol> par(shape.parity);
  auto encode_block = [&](std::size_t b) {
    for (std::size_t i = 0; i < shape.k; ++i) src[i] = Symbol(symbol(b, i), s);
    for (std::size_t i = 0; i < shape.parity; ++i)
      par[i] = MutableSymbol(symbol(b, shape.k + i), s);
    if (codec.encode(src, esis, par) != Status::ok) std::abort();
  };

  Figures f{};
  std::size_t blocks = 0;
  const auto encode_start = Clock::now();
  const auto encode_end = encode_start + std::chrono::duration<double>(seconds);
  while (Clock::now() < encode_end) encode_block(blocks++ % kBlocks);
  double elapsed = std::chrono::duration<double>(Clock::now() - encode_start).count();
  f.encode_mbps = static_cast<double>(blocks * shape.k * s) / elapsed / 1e6;
  for (std::size_t b = 0; b < kBlocks; ++b) encode_block(b);

  std::vector<Symbol> symbols(n);
  std::vector<MutableSymbol> recovered(shape.k);
  std::vector<std::uint8_t> out(shape.k * s);
  std::vector<std::size_t> order(shape.k);
  std::iota(order.begin(), order.end(), 0);
  blocks = 0;
  double decode_time = 0;
  const auto decode_end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < decode_end) {
    const std::size_t b = blocks++ % kBlocks;
    std::shuffle(order.begin(), order.end(), rng);  // fresh erasure pattern, outside the timing
    for (std::size_t i = 0; i < n; ++i) symbols[i] = Symbol(symbol(b, i), s);
    for (std::size_t i = 0; i < shape.k; ++i) recovered[i] = MutableSymbol(&out[i * s], s);
    for (std::size_t i = 0; i < shape.parity; ++i) symbols[order[i]] = Symbol();
    const auto t0 = Clock::now();
    if (codec.decode(shape.k, symbols, recovered) != Status::ok) std::abort();
    decode_time += std::chrono::duration<double>(Clock::now() - t0).count();
    for (std::size_t i = 0; i < shape.parity; ++i) {
      if (std::memcmp(&out[order[i] * s], symbol(b, order[i]), s) != 0) {
        std::fprintf(stderr, "decode mismatch k=%zu block %zu symbol %zu\n", shape.k, b, order[i]);
        std::exit(1);
      }
    }
  }
  f.decode_mbps = static_cast<double>(blocks * shape.k * s) / decode_time / 1e6;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::strtod(argv[++i], nullptr);
    } else {
      std::fprintf(stderr, "usage: fleetcast-fec-bench [--seconds S]\n");
      return arg == "--help" ? 0 : 2;
    }
  }
  if (!(seconds > 0 && seconds <= 60)) {
    std::fprintf(stderr, "fleetcast-fec-bench: --seconds must be in (0, 60]\n");
    return 2;
  }
  const Shape shapes[] = {{200, 20, 1400}, {32, 8, 1400}};
  auto codec = fleetcast::fec::make_isal_codec();
  std::printf("%-6s %-7s %-7s %14s %14s  (ISA-L, one core, source bytes)\n", "k", "parity", "S",
              "encode MB/s", "decode MB/s");
  for (const Shape& shape : shapes) {
    const Figures f = run(*codec, shape, seconds);
    std::printf("%-6zu %-7zu %-7zu %14.0f %14.0f  (decode: %zu erasures/block)\n", shape.k,
                shape.parity, shape.symbol_size, f.encode_mbps, f.decode_mbps, shape.parity);
  }
  return 0;
}
