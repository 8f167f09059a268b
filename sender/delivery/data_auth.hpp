#pragma once
// The manager's side of data authentication (protocol/data_auth.hpp): before a session is
// announced, the hash of every symbol it can ever send (the source symbols and, per block, the
// parity ESIs up to 254, encoded once for this) and the Merkle tree over them. The UPDATE
// carries the root; a round sends the AUTH packets of the chunks its symbols belong to before
// those symbols (round_layout.hpp).
//
// Cost: two reads of the file, one parity encode of the whole ESI range and one BLAKE2b pass
// over about three times the file (the symbols, and the file's digest), once per session, on
// every core: the blocks are shared among one thread per core, the digest is taken beside them.
// The symbol hashes (16 bytes a symbol, 49 MB for a 4 GiB file) go to a scratch file and are
// read back per AUTH packet; memory holds one block per thread and the tree (about 0.1 % of the
// file).

#include <cstdint>
#include <span>
#include <vector>

#include "fec/block_plan.hpp"
#include "protocol/data.hpp"
#include "protocol/data_auth.hpp"
#include "protocol/io/random_access.hpp"

namespace fleetcast::sender {

class DataAuth {
 public:
  // Reads `file` once (zeros past its end pad the last symbol).
  DataAuth(const fec::BlockPlan& plan, const protocol::io::InputFile& file);

  const protocol::Digest& root() const { return tree_.root(); }
  // The file's BLAKE2b-256 (protocol::digest), from the same read.
  const protocol::Digest& digest() const { return digest_; }
  // The AUTH packet of chunk `chunk` of block `sbn` into `out`; its length (0: out too small).
  std::size_t build(std::uint32_t sbn, std::uint8_t chunk, std::uint16_t file_id,
                    std::uint32_t sequence, std::span<std::uint8_t> out) const;
  // Bytes of every AUTH datagram of this session.
  std::size_t datagram_bytes() const;

 private:
  protocol::AuthTree make_tree(const fec::BlockPlan& plan, const protocol::io::InputFile& file);

  protocol::io::ScratchFile hashes_{"the symbol hashes"};  // (block * 255 + ESI) * 16
  protocol::Digest digest_{};
  protocol::AuthTree tree_;
};

}  // namespace fleetcast::sender
