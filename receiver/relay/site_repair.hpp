#pragma once
// A site's relay repairs its LAN (protocol/README.md, "Sites and relays"): once the relay holds
// the whole file of a session it was a target of, it hashes every symbol the session can send
// exactly as the manager did (sender/delivery/data_auth.hpp) and checks that the hashes lead
// to the digest the manager signed in the UPDATE and to every root of every window the manager
// signed in its ROOTS packets (as the relay's own reception kept them); only then does it
// repair. Before the AUTH packets of a window it sends the manager's ROOTS packet of the window
// again, byte for byte (it cannot sign one). The manager passes
// it the NAKs of the other hosts of its site (relay frames of feedback) instead of repairing
// them over the WAN; the relay plans a repair round from them as the manager would
// (sender/delivery/repair_planner.hpp, one block per packet: MIXED tables are the manager's to
// sign) and multicasts fresh parity on its LAN with the AUTH packets of its chunks.
//
// Hosts check the relay's symbols as they check the manager's: every symbol against its hash,
// every AUTH chunk against the signed root. A relay can send nothing a host accepts that the
// manager did not commit to; a relay that lies only makes its own site wait.
//
// Parity ESIs: the manager's parity counts up from k; the relay's starts halfway between k and
// 254 (RoundLayout::start_parity_halfway), so the two rarely send the same symbol of a block.
// Packet sequence numbers of the relay start at kFirstSequence (the hosts' loss measure counts
// the relay's packets as received: a site's hosts report less loss than their LAN has).

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "fec/block_plan.hpp"
#include "protocol/control.hpp"
#include "protocol/io/random_access.hpp"
#include "protocol/transport.hpp"
#include "receiver/reception/assembler.hpp"
#include "sender/delivery/data_auth.hpp"
#include "sender/delivery/pacer.hpp"
#include "sender/delivery/round_layout.hpp"

namespace fleetcast::receiver {

class SiteRepairError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SiteRepairStats {
  std::uint64_t naks = 0;  // NAKs of this file taken
  std::uint32_t rounds = 0;
  std::uint64_t packets = 0;  // parity and AUTH packets multicast
  std::uint64_t bytes = 0;
};

class SiteRepair {
 public:
  static constexpr std::uint32_t kFirstSequence = 0x40000000;
  // NAKs are gathered this long before a round is planned from them.
  static constexpr auto kGather = std::chrono::milliseconds(10);

  // Reads `file` (the relay's complete copy of `u`'s file) once; throws SiteRepairError when it
  // does not hash to the UPDATE's digest or to the manager's signed `roots` (by window, as the
  // relay received them: receiver::Assembler::roots()), or a window's roots did not all come
  // (nothing is repaired then). `lan_rate`: bytes a second on the LAN (0: unpaced).
  SiteRepair(const protocol::Update& u, const std::filesystem::path& file,
             std::vector<WindowRoots> roots, std::uint64_t lan_rate);
  SiteRepair(const SiteRepair&) = delete;
  SiteRepair& operator=(const SiteRepair&) = delete;

  const protocol::Update& update() const { return update_; }
  // A host's NAK the manager passed on (its datagram, as the host sent it); false when it is
  // not a NAK of this file.
  bool on_nak(std::span<const std::uint8_t> datagram, Clock::time_point now);
  // Sends what is due on `lan` (to the UPDATE's data group).
  void tick(Clock::time_point now, protocol::Transport& lan);
  Clock::time_point next_wakeup(Clock::time_point now) const;
  const SiteRepairStats& stats() const { return stats_; }

 private:
  void start_round();

  protocol::Update update_;
  fec::BlockPlan plan_;
  std::shared_ptr<const protocol::io::InputFile> file_;
  sender::DataAuth auth_;
  std::vector<WindowRoots> roots_;
  sender::RoundLayout layout_;
  sender::Pacer pacer_;
  // Each host's (by its key) newest NAK round, and its entries until a round is planned.
  struct HostNeeds {
    std::uint32_t round = 0;
    bool planned = false;  // a round was planned from this round's NAK
    std::vector<protocol::NakEntry> entries;
  };
  std::map<protocol::KeyId, HostNeeds> needs_;
  std::vector<std::pair<std::uint32_t, std::uint8_t>> chunks_;  // AUTH chunks asked for
  double loss_ = 0;
  Clock::time_point plan_at_ = Clock::time_point::max();
  bool sending_ = false;
  std::uint32_t sequence_ = kFirstSequence;
  std::vector<std::uint8_t> packet_;
  std::size_t pending_ = 0;  // bytes of a built packet the socket did not take yet
  SiteRepairStats stats_;
};

}  // namespace fleetcast::receiver
