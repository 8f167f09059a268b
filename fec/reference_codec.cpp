// The reference codec: byte-at-a-time GF(2^8) and Gaussian elimination over the k chosen
// symbols. Deliberately shares no arithmetic path with the ISA-L codec beyond the coefficient
// definition, so tests can use it as the oracle.

#include <algorithm>
#include <vector>

#include "fec/codec.hpp"
#include "fec/codec_check.hpp"
#include "fec/gf256.hpp"

namespace fleetcast::fec {

std::uint8_t cauchy_coefficient(std::size_t esi, std::size_t j) {
  return gf256::inv(static_cast<std::uint8_t>(esi ^ j));
}

namespace {

// Generator row for any ESI: a unit row for source symbols, Cauchy row for parity.
std::vector<std::uint8_t> generator_row(std::size_t k, std::size_t esi) {
  std::vector<std::uint8_t> row(k, 0);
  for (std::size_t j = 0; j < k; ++j) {
    row[j] = esi < k ? (esi == j ? 1 : 0) : cauchy_coefficient(esi, j);
  }
  return row;
}

class ReferenceCodec final : public Codec {
 public:
  Status encode(std::span<const Symbol> source, std::span<const std::uint8_t> esis,
                std::span<const MutableSymbol> parity) override {
    std::size_t size = 0;
    if (Status s = detail::check_encode(source, esis, parity, size); s != Status::ok) return s;
    for (std::size_t i = 0; i < esis.size(); ++i) {
      std::vector<std::uint8_t> row = generator_row(source.size(), esis[i]);
      std::fill(parity[i].begin(), parity[i].end(), 0);
      for (std::size_t j = 0; j < source.size(); ++j) {
        for (std::size_t b = 0; b < size; ++b) parity[i][b] ^= gf256::mul(row[j], source[j][b]);
      }
    }
    return Status::ok;
  }

  Status decode(std::size_t k, std::span<const Symbol> symbols,
                std::span<const MutableSymbol> recovered) override {
    detail::DecodePlan plan;
    if (Status s = detail::plan_decode(k, symbols, recovered, plan); s != Status::ok) return s;
    if (plan.erased.empty()) return Status::ok;
    // Solve G * X = Y over the first k present symbols (any k work: the code is MDS).
    std::vector<std::vector<std::uint8_t>> g;
    std::vector<std::vector<std::uint8_t>> y;
    for (std::size_t esi = 0; esi < symbols.size() && g.size() < k; ++esi) {
      if (symbols[esi].empty()) continue;
      g.push_back(generator_row(k, esi));
      y.emplace_back(symbols[esi].begin(), symbols[esi].end());
    }
    for (std::size_t col = 0; col < k; ++col) {
      std::size_t pivot = col;
      while (g[pivot][col] == 0) ++pivot;  // exists: every k x k submatrix is invertible
      std::swap(g[pivot], g[col]);
      std::swap(y[pivot], y[col]);
      const std::uint8_t scale = gf256::inv(g[col][col]);
      for (auto& v : g[col]) v = gf256::mul(v, scale);
      for (auto& v : y[col]) v = gf256::mul(v, scale);
      for (std::size_t r = 0; r < k; ++r) {
        const std::uint8_t f = g[r][col];
        if (r == col || f == 0) continue;
        for (std::size_t c = 0; c < k; ++c) g[r][c] ^= gf256::mul(f, g[col][c]);
        for (std::size_t b = 0; b < plan.symbol_size; ++b) y[r][b] ^= gf256::mul(f, y[col][b]);
      }
    }
    for (std::uint8_t j : plan.erased) std::copy(y[j].begin(), y[j].end(), recovered[j].begin());
    return Status::ok;
  }
};

}  // namespace

std::unique_ptr<Codec> make_reference_codec() {
  return std::make_unique<ReferenceCodec>();
}

}  // namespace fleetcast::fec
