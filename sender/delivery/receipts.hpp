#pragma once
// The hosts of one session and what each of them has said, checked: registration (a RECV, or
// any verified feedback), DENY, COMPLETE, and the FIN with the apply result. Only inventory
// hosts count; a line or packet from any other key, with a bad signature, or for another
// session is dropped and counted. The delivery session (session.hpp) asks these questions;
// reports and the receipt store read the answers.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/control.hpp"
#include "protocol/data.hpp"
#include "protocol/drops.hpp"
#include "protocol/fleet_key.hpp"
#include "protocol/verify_budget.hpp"
#include "sender/delivery/pacer.hpp"
#include "sender/fleet/inventory.hpp"

namespace fleetcast::sender {

struct HostReport {
  const Host* host = nullptr;
  bool registered = false;
  bool completed = false;
  bool denied = false;
  std::string deny_reason;
  Clock::time_point registered_at{};
  // What its latest RECV said: it holds the manager's fleet key (not said yet: nullopt).
  std::optional<bool> fleet_key;
  Clock::time_point completed_at{};
  std::uint32_t have_at_registration = 0;
  std::uint32_t naks = 0;
  std::uint32_t last_nak_round = 0;
  protocol::Digest digest{};
  protocol::Endpoint from;
  // FIN (push): the apply result the host reported.
  bool fin = false;
  protocol::FinStatus fin_status = protocol::FinStatus::received;
  std::string fin_message;
  std::uint64_t fin_version = 0;
  protocol::Digest fin_digest{};
  Clock::time_point fin_at{};
};

class Receipts {
 public:
  // `name` and `session`: what a RECV, DENY or FIN must name to count for this session.
  Receipts(const std::vector<const Host*>& targets, std::string name, protocol::SessionId session);

  // A ctrl line from a host (RECV, DENY, FIN); false when it was dropped. Once authenticate()
  // was called, its MAC (fleet_key.hpp) is checked before its signature.
  bool on_command(std::string_view line, const protocol::Endpoint& from, Clock::time_point now);
  // Feedback packets are accepted only once this is set: the MAC keys (keys.hpp) come from the
  // manager's secret key and each host's public key (derived at a host's first packet).
  // `fleet_key_holders`: hosts known to hold the fleet key (SessionConfig).
  void authenticate(const protocol::SecretKey& manager,
                    const std::vector<std::string>& fleet_key_holders = {});
  // The hosts a KEYS line should hand the fleet key to now: a host that did not register yet
  // in every kKeysEvery-th announcement from the first (a host that cannot register, e.g.
  // under a flood of forged UPDATEs, still learns it), and a registered one in kKeysCopies
  // announcements in all (one that joined without it catches up); never a host whose latest
  // RECV said it holds the key, nor, until it says otherwise, one known to hold it (1,000
  // hosts: 100 KEYS lines per announcement; every 200 ms while they registered, and again to
  // hosts that held the key since their first session, they took a sixth of the wire of a
  // 2 MiB push). Counts them as sent. Empty before authenticate().
  static constexpr std::uint32_t kKeysCopies = 3;
  static constexpr std::uint64_t kKeysEvery = 5;  // 1 s at the 200 ms of registration
  std::vector<protocol::KeysRecipient> take_keys_recipients();
  // The host that signed this feedback packet of this session, registered by it (feedback
  // proves the host joined even if its RECV was lost); nullptr when it must be dropped: another
  // session, an unknown key, a wrong MAC (checked before the signature), a bad signature.
  // A LOSS-REPORT only tunes the rate: its MAC, keyed with a secret only the host and this
  // manager derive, is proof enough (no signature check: a report per host per probe). Only
  // from a registered host; nullptr otherwise.
  HostReport* maced_feedback(const protocol::SignedFeedback& feedback);
  //
  // Any other feedback is verified once per distinct packet (`bytes`, the packet as received):
  // a copy of a packet that verified is `repeat` and costs one hash. `wanted`, asked after the
  // MAC and before the signature, drops what would change nothing (an older round's NAK); and
  // each host's packets cost at most kFeedbackPerSecond verifications a second, so a keyless
  // host replaying a captured stream of another host's packets cannot buy the manager's CPU.
  static constexpr std::uint32_t kFeedbackPerSecond = 64;
  static constexpr std::size_t kFeedbackCache = 16384;  // ~16 packets of 1,000 hosts
  struct Verified {
    HostReport* host = nullptr;  // nullptr: dropped
    bool repeat = false;         // these bytes verified before
  };
  Verified verified_feedback(const protocol::SignedFeedback& feedback,
                             std::span<const std::uint8_t> bytes, const protocol::Endpoint& from,
                             Clock::time_point now,
                             const std::function<bool(const HostReport&)>& wanted);
  std::uint64_t feedback_refused() const { return feedback_refused_; }
  // What this session's replies lost, by reason (protocol/drops.hpp).
  const protocol::Drops& drops() const { return drops_; }
  std::uint64_t feedback_verifications() const { return feedback_verifications_; }
  // Marks a host complete with the digest it verified; false when it already was.
  bool complete(HostReport& host, const protocol::Digest& digest, Clock::time_point now);

  // Called with every accepted reply as it was signed (a ctrl line, or a feedback packet in
  // hex): the receipt store keeps them. Repeats are passed on too.
  using Observer =
      std::function<void(const HostReport&, std::string_view verb, std::string_view signed_text)>;
  void observe(Observer o) { observer_ = std::move(o); }
  void note(const HostReport& h, std::string_view verb, std::string_view signed_text) const {
    if (observer_) observer_(h, verb, signed_text);
  }

  const std::vector<HostReport>& hosts() const { return hosts_; }
  std::size_t index_of(const HostReport& h) const {
    return static_cast<std::size_t>(&h - hosts_.data());
  }
  std::size_t registered() const;
  // Per host whose RECV said it: whether it holds the fleet key (its latest RECV).
  std::map<std::string, bool> fleet_keys_said() const;
  std::size_t completed() const;
  std::size_t denied() const;
  bool success() const;  // every targeted host completed
  // Hosts whose FIN reported `status`.
  std::size_t fins_with(protocol::FinStatus status) const;
  bool all_settled() const;  // every host completed or denied
  // Every host that registered completed or was denied (hosts that never answered aside).
  bool registered_settled() const;
  bool fins_settled() const;  // every completed host sent its FIN
  // Every registered host still receiving has answered (NAKed) `round`.
  bool all_answered(std::uint32_t round) const;

 private:
  HostReport* host_by_key(protocol::KeyId id);
  // The host whose key signed this packet of this session, when its MAC checks (the
  // signature is not checked); nullptr otherwise.
  // `why` says what failed when it returns nullptr.
  HostReport* mac_checked(const protocol::SignedFeedback& feedback, protocol::Drop* why);
  bool drop(protocol::Drop d) {
    drops_.count(d);
    return false;
  }
  Verified drop_feedback(protocol::Drop d) {
    drops_.count(d);
    return {};
  }
  const protocol::MacKey* mac_key(const HostReport& h);

  std::string name_;
  protocol::SessionId session_;
  std::vector<HostReport> hosts_;
  std::unordered_map<std::uint64_t, std::size_t> index_;  // key ID -> hosts_ index
  Observer observer_;
  // Host lines: what reaches the budget passed its host's MAC (a replay of a genuine line at
  // worst), so one budget for all sources, large enough for a thousand hosts registering at
  // once (about 15 % of a core), with no per-source limit (many hosts may share an address
  // behind a router or on a test bed), and a cache that holds a few lines of each host.
  protocol::VerifyBudget budget_{protocol::VerifyBudget::Limits{4096, 4096, 0, 8192}};
  const protocol::SecretKey* manager_ = nullptr;
  std::vector<std::optional<protocol::MacKey>> mac_keys_;   // per host, derived when first needed
  std::vector<std::optional<protocol::MacKey>> wrap_keys_;  // likewise (KEYS lines)
  std::vector<std::uint32_t> keys_sent_;
  std::vector<bool> keyed_;             // per host: known to hold the fleet key (authenticate())
  std::vector<std::uint64_t> keys_at_;  // per host: the announcement that last carried its key
  std::uint64_t announcement_ = 0;      // calls of take_keys_recipients()
  protocol::VerifiedCache feedback_cache_{kFeedbackCache};
  std::vector<protocol::SecondWindow> feedback_spent_;  // per host
  std::uint64_t feedback_refused_ = 0;                  // over a host's budget: unverified
  protocol::Drops drops_;
  std::uint64_t feedback_verifications_ = 0;
};

}  // namespace fleetcast::sender
