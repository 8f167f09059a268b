#include "protocol/data_auth.hpp"

#include <sodium.h>

#include <stdexcept>

namespace fleetcast::protocol {
namespace {

// One BLAKE2b call over the concatenation of `parts`, `out.size()` bytes of output.
void hash_into(std::span<std::uint8_t> out,
               std::initializer_list<std::span<const std::uint8_t>> parts) {
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, out.size());
  for (const auto& part : parts) crypto_generichash_update(&state, part.data(), part.size());
  crypto_generichash_final(&state, out.data(), out.size());
}

std::array<std::uint8_t, 4> be32(std::uint32_t v) {
  return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
          static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

SymbolHash node(const SymbolHash& left, const SymbolHash& right) {
  static constexpr std::uint8_t kTag[] = {0x01};
  SymbolHash out{};
  hash_into(out, {kTag, left, right});
  return out;
}

Digest root_of(const SymbolHash& top, std::uint64_t leaf_count) {
  static constexpr std::uint8_t kTag[] = {0x02};
  std::array<std::uint8_t, 8> count{};
  for (int i = 0; i < 8; ++i)
    count[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(leaf_count >> (56 - 8 * i));
  Digest out{};
  hash_into(out, {kTag, top, count});
  return out;
}

}  // namespace

SymbolHash symbol_hash(std::uint32_t sbn, std::uint8_t esi, std::span<const std::uint8_t> symbol) {
  static constexpr std::uint8_t kTag[] = {0x03};
  const auto block = be32(sbn);
  const std::uint8_t e[] = {esi};
  SymbolHash out{};
  hash_into(out, {kTag, block, e, symbol});
  return out;
}

SymbolHash auth_leaf(std::uint32_t sbn, std::uint8_t chunk, std::span<const SymbolHash> hashes) {
  static constexpr std::uint8_t kTag[] = {0x00};
  const auto block = be32(sbn);
  const std::uint8_t c[] = {chunk};
  SymbolHash out{};
  hash_into(out, {kTag, block, c,
                  std::span(reinterpret_cast<const std::uint8_t*>(hashes.data()),
                            hashes.size() * kSymbolHashBytes)});
  return out;
}

AuthTree::AuthTree(std::vector<SymbolHash> leaves) {
  if (leaves.empty()) throw std::invalid_argument("an authentication tree needs a leaf");
  levels_.push_back(std::move(leaves));
  while (levels_.back().size() > 1) {
    const auto& below = levels_.back();
    std::vector<SymbolHash> up;
    up.reserve((below.size() + 1) / 2);
    for (std::size_t i = 0; i < below.size(); i += 2) {
      up.push_back(i + 1 < below.size() ? node(below[i], below[i + 1]) : below[i]);
    }
    levels_.push_back(std::move(up));
  }
  root_ = root_of(levels_.back().front(), levels_.front().size());
}

std::vector<SymbolHash> AuthTree::path(std::uint64_t leaf) const {
  std::vector<SymbolHash> out;
  for (std::size_t level = 0; level + 1 < levels_.size(); ++level) {
    const auto& nodes = levels_[level];
    const std::uint64_t sibling = leaf ^ 1u;
    if (sibling < nodes.size()) out.push_back(nodes[sibling]);
    leaf /= 2;
  }
  return out;
}

bool verify_auth_path(const Digest& root, std::uint64_t leaf_count, std::uint64_t index,
                      const SymbolHash& leaf, std::span<const SymbolHash> path) {
  if (leaf_count == 0 || index >= leaf_count) return false;
  SymbolHash at = leaf;
  std::size_t used = 0;
  for (std::uint64_t n = leaf_count; n > 1; n = (n + 1) / 2, index /= 2) {
    if (index % 2 == 1) {
      if (used == path.size()) return false;
      at = node(path[used++], at);
    } else if (index + 1 < n) {
      if (used == path.size()) return false;
      at = node(at, path[used++]);
    }  // else: the odd last node, carried up
  }
  return used == path.size() &&
         sodium_memcmp(root_of(at, leaf_count).data(), root.data(), root.size()) == 0;
}

}  // namespace fleetcast::protocol
