#include "fec/codec_check.hpp"

namespace fleetcast::fec {

std::string_view to_string(Status status) {
  switch (status) {
    case Status::ok:
      return "ok";
    case Status::need_more_symbols:
      return "need more symbols";
    case Status::invalid_block:
      return "invalid block parameters";
    case Status::invalid_esi:
      return "invalid encoding symbol index";
    case Status::symbol_size_mismatch:
      return "symbol size mismatch";
  }
  return "unknown fec status";
}

namespace detail {

Status check_encode(std::span<const Symbol> source, std::span<const std::uint8_t> esis,
                    std::span<const MutableSymbol> parity, std::size_t& symbol_size) {
  const std::size_t k = source.size();
  if (k == 0 || k > kMaxSourceSymbols) return Status::invalid_block;
  if (esis.size() != parity.size()) return Status::invalid_block;
  symbol_size = source[0].size();
  if (symbol_size == 0) return Status::symbol_size_mismatch;
  for (const Symbol& s : source) {
    if (s.size() != symbol_size) return Status::symbol_size_mismatch;
  }
  for (std::size_t i = 0; i < esis.size(); ++i) {
    if (esis[i] < k || esis[i] >= kMaxEncodingSymbols) return Status::invalid_esi;
    if (parity[i].size() != symbol_size) return Status::symbol_size_mismatch;
  }
  return Status::ok;
}

Status plan_decode(std::size_t k, std::span<const Symbol> symbols,
                   std::span<const MutableSymbol> recovered, DecodePlan& plan) {
  if (k == 0 || k > kMaxSourceSymbols) return Status::invalid_block;
  if (symbols.size() > kMaxEncodingSymbols || recovered.size() != k) {
    return Status::invalid_block;
  }
  plan.symbol_size = 0;
  plan.erased.clear();
  plan.parity.clear();
  std::size_t present = 0;
  for (std::size_t esi = 0; esi < symbols.size(); ++esi) {
    if (symbols[esi].empty()) continue;
    if (plan.symbol_size == 0) plan.symbol_size = symbols[esi].size();
    if (symbols[esi].size() != plan.symbol_size) return Status::symbol_size_mismatch;
    ++present;
  }
  for (std::size_t j = 0; j < k; ++j) {
    if (j >= symbols.size() || symbols[j].empty())
      plan.erased.push_back(static_cast<std::uint8_t>(j));
  }
  if (present < k) return Status::need_more_symbols;
  for (std::size_t esi = k; esi < symbols.size() && plan.parity.size() < plan.erased.size();
       ++esi) {
    if (!symbols[esi].empty()) plan.parity.push_back(static_cast<std::uint8_t>(esi));
  }
  for (std::uint8_t j : plan.erased) {
    if (recovered[j].size() != plan.symbol_size) return Status::symbol_size_mismatch;
  }
  return Status::ok;
}

}  // namespace detail
}  // namespace fleetcast::fec
