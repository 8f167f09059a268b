#pragma once
// Argument validation and decode planning shared by both codecs (internal to fec/).

#include <cstdint>
#include <vector>

#include "fec/codec.hpp"

namespace fleetcast::fec::detail {

// Validates an encode call; on ok, sets symbol_size.
Status check_encode(std::span<const Symbol> source, std::span<const std::uint8_t> esis,
                    std::span<const MutableSymbol> parity, std::size_t& symbol_size);

// Which symbols a decode uses: the erased source indices and, for each, one present parity ESI.
struct DecodePlan {
  std::size_t symbol_size = 0;
  std::vector<std::uint8_t> erased;  // source indices j < k that are missing, ascending
  std::vector<std::uint8_t> parity;  // the first erased.size() present parity ESIs, ascending
};

// Validates a decode call and fills plan. Returns need_more_symbols when fewer than k distinct
// symbols are present.
Status plan_decode(std::size_t k, std::span<const Symbol> symbols,
                   std::span<const MutableSymbol> recovered, DecodePlan& plan);

}  // namespace fleetcast::fec::detail
