#include "protocol/drops.hpp"

namespace fleetcast::protocol {
namespace {

constexpr std::array<std::string_view, kDropReasons> kNames = {
    "malformed", "not-ours", "no-mac", "stale", "replay", "over-budget", "forged", "unwanted"};

}  // namespace

std::string_view to_string(Drop d) {
  return kNames[static_cast<std::size_t>(d)];
}

std::uint64_t Drops::total() const {
  std::uint64_t t = 0;
  for (const std::uint64_t n : n_) t += n;
  return t;
}

std::string Drops::text() const {
  std::string out;
  for (std::size_t i = 0; i < kDropReasons; ++i) {
    if (n_[i] == 0) continue;
    if (!out.empty()) out += ',';
    out += kNames[i];
    out += '=';
    out += std::to_string(n_[i]);
  }
  return out;
}

}  // namespace fleetcast::protocol
