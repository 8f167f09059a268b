#pragma once
// The manager's side of data authentication (protocol/data_auth.hpp): before a session is
// announced, the hash of every symbol it can ever send (the source symbols and, per block, the
// parity ESIs up to 254, encoded once for this) and the Merkle tree over them. The UPDATE
// carries the root; each round starts with the AUTH packets of the chunks its symbols belong to.
//
// Cost: one parity encode of the whole ESI range and one BLAKE2b pass over about twice the
// file, once per session; 16 bytes per symbol (and the tree) of memory.

#include <cstdint>
#include <span>
#include <vector>

#include "fec/block_plan.hpp"
#include "protocol/data.hpp"
#include "protocol/data_auth.hpp"

namespace fleetcast::sender {

class DataAuth {
 public:
  // `file`: the object padded to whole symbols.
  DataAuth(const fec::BlockPlan& plan, std::span<const std::uint8_t> file);

  const protocol::Digest& root() const { return tree_.root(); }
  // The AUTH packet of chunk `chunk` of block `sbn` into `out`; its length (0: out too small).
  std::size_t build(std::uint32_t sbn, std::uint8_t chunk, std::uint16_t file_id,
                    std::uint32_t sequence, std::span<std::uint8_t> out) const;
  // Bytes of every AUTH datagram of this session.
  std::size_t datagram_bytes() const;

 private:
  static protocol::AuthTree make_tree(const fec::BlockPlan& plan,
                                      std::span<const std::uint8_t> file,
                                      std::vector<protocol::SymbolHash>& hashes);

  std::vector<protocol::SymbolHash> hashes_;  // block * 255 + ESI
  protocol::AuthTree tree_;
};

}  // namespace fleetcast::sender
