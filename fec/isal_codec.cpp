// The production codec on Intel ISA-L. The only file in fleetcast that includes ISA-L.
//
// Encode: one ec_encode_data pass with the Cauchy rows of the requested ESIs.
// Decode (e erased source symbols, e parity symbols P chosen by plan_decode):
//   1. syndrome  s_r = P_r + sum_{j known} C(P_r, j) X_j      (one pass over k inputs)
//   2. solve     X_E = B^-1 s   with B[r][c] = C(P_r, E_c)    (e x e, small)
// so a decode costs about one encode of e rows plus an e x e pass, and never inverts a k x k
// matrix. Expanded ISA-L tables (32 bytes per coefficient) are built once per parity ESI and
// reused, because building them costs as much as coding a block.

#include <isa-l/erasure_code.h>

#include <array>
#include <cassert>
#include <cstring>
#include <vector>

#include "fec/codec.hpp"
#include "fec/codec_check.hpp"

namespace fleetcast::fec {
namespace {

constexpr std::size_t kTableBytes = 32;  // ISA-L expanded table per coefficient

class IsalCodec final : public Codec {
 public:
  IsalCodec() {
    std::uint8_t one = 1;
    std::uint8_t zero = 0;
    ec_init_tables(1, 1, &one, one_table_.data());
    ec_init_tables(1, 1, &zero, zero_table_.data());
  }

  Status encode(std::span<const Symbol> source, std::span<const std::uint8_t> esis,
                std::span<const MutableSymbol> parity) override {
    std::size_t size = 0;
    if (Status s = detail::check_encode(source, esis, parity, size); s != Status::ok) return s;
    if (esis.empty()) return Status::ok;
    const std::size_t k = source.size();
    if (k != encode_k_ ||
        !std::equal(esis.begin(), esis.end(), encode_esis_.begin(), encode_esis_.end())) {
      encode_tables_.resize(kTableBytes * k * esis.size());
      for (std::size_t r = 0; r < esis.size(); ++r) {
        std::memcpy(&encode_tables_[kTableBytes * k * r], row(esis[r]), kTableBytes * k);
      }
      encode_k_ = k;
      encode_esis_.assign(esis.begin(), esis.end());
    }
    in_.clear();
    out_.clear();
    for (const Symbol& s : source) in_.push_back(const_cast<std::uint8_t*>(s.data()));
    for (const MutableSymbol& p : parity) out_.push_back(p.data());
    ec_encode_data(static_cast<int>(size), static_cast<int>(k), static_cast<int>(esis.size()),
                   encode_tables_.data(), in_.data(), out_.data());
    return Status::ok;
  }

  Status decode(std::size_t k, std::span<const Symbol> symbols,
                std::span<const MutableSymbol> recovered) override {
    if (Status s = detail::plan_decode(k, symbols, recovered, plan_); s != Status::ok) return s;
    const std::size_t e = plan_.erased.size();
    if (e == 0) return Status::ok;
    const std::size_t size = plan_.symbol_size;

    // 1. Syndrome over the k inputs [known sources..., chosen parity...].
    in_.clear();
    std::vector<std::size_t> known;
    known.reserve(k);
    for (std::size_t j = 0; j < k; ++j) {
      if (j < symbols.size() && !symbols[j].empty()) known.push_back(j);
    }
    for (std::size_t j : known) in_.push_back(const_cast<std::uint8_t*>(symbols[j].data()));
    for (std::uint8_t p : plan_.parity) in_.push_back(const_cast<std::uint8_t*>(symbols[p].data()));
    decode_tables_.resize(kTableBytes * k * e);
    std::uint8_t* t = decode_tables_.data();
    for (std::size_t r = 0; r < e; ++r) {
      const std::uint8_t* parity_row = row(plan_.parity[r]);
      for (std::size_t j : known) {
        std::memcpy(t, parity_row + kTableBytes * j, kTableBytes);
        t += kTableBytes;
      }
      for (std::size_t c = 0; c < e; ++c) {
        std::memcpy(t, c == r ? one_table_.data() : zero_table_.data(), kTableBytes);
        t += kTableBytes;
      }
    }
    scratch_.resize(e * size);
    out_.clear();
    for (std::size_t r = 0; r < e; ++r) out_.push_back(&scratch_[r * size]);
    ec_encode_data(static_cast<int>(size), static_cast<int>(k), static_cast<int>(e),
                   decode_tables_.data(), in_.data(), out_.data());

    // 2. Solve the e x e Cauchy system for the erased symbols.
    std::vector<std::uint8_t> b(e * e);
    std::vector<std::uint8_t> b_inv(e * e);
    for (std::size_t r = 0; r < e; ++r) {
      for (std::size_t c = 0; c < e; ++c) {
        b[r * e + c] = cauchy_coefficient(plan_.parity[r], plan_.erased[c]);
      }
    }
    [[maybe_unused]] const int singular =
        gf_invert_matrix(b.data(), b_inv.data(), static_cast<int>(e));
    assert(singular == 0 && "a Cauchy submatrix is always invertible");
    solve_tables_.resize(kTableBytes * e * e);
    ec_init_tables(static_cast<int>(e), static_cast<int>(e), b_inv.data(), solve_tables_.data());
    in_.assign(out_.begin(), out_.end());
    out_.clear();
    for (std::uint8_t j : plan_.erased) out_.push_back(recovered[j].data());
    ec_encode_data(static_cast<int>(size), static_cast<int>(e), static_cast<int>(e),
                   solve_tables_.data(), in_.data(), out_.data());
    return Status::ok;
  }

 private:
  // Expanded tables of C(esi, j) for j < esi, built on first use.
  const std::uint8_t* row(std::uint8_t esi) {
    std::vector<std::uint8_t>& r = rows_[esi];
    if (r.empty()) {
      std::vector<std::uint8_t> coefficients(esi);
      for (std::size_t j = 0; j < esi; ++j) coefficients[j] = cauchy_coefficient(esi, j);
      r.resize(kTableBytes * esi);
      ec_init_tables(esi, 1, coefficients.data(), r.data());
    }
    return r.data();
  }

  std::array<std::vector<std::uint8_t>, kMaxEncodingSymbols> rows_;
  std::array<std::uint8_t, kTableBytes> one_table_{};
  std::array<std::uint8_t, kTableBytes> zero_table_{};
  std::size_t encode_k_ = 0;
  std::vector<std::uint8_t> encode_esis_;
  std::vector<std::uint8_t> encode_tables_;
  std::vector<std::uint8_t> decode_tables_;
  std::vector<std::uint8_t> solve_tables_;
  std::vector<std::uint8_t> scratch_;
  std::vector<std::uint8_t*> in_;
  std::vector<std::uint8_t*> out_;
  detail::DecodePlan plan_;
};

}  // namespace

std::unique_ptr<Codec> make_isal_codec() {
  return std::make_unique<IsalCodec>();
}

}  // namespace fleetcast::fec
