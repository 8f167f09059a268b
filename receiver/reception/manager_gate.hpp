#pragma once
// What a host knows of its manager, and the checks every line and packet that claims to come
// from it passes before it is acted on: the signer is the manager's key; the fleet key's MAC
// (fleet_key.hpp), once the fleet key was learned from a KEYS line (kept in the state
// directory); the freshness of its (command, session) (freshness.hpp); the signature, within
// the verification budget of its source (verify_budget.hpp). Also the keys for the host's own
// replies: the MAC key of its feedback and lines to the manager (keys.hpp).

#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include "protocol/control.hpp"
#include "protocol/data.hpp"
#include "protocol/fleet_key.hpp"
#include "protocol/freshness.hpp"
#include "protocol/log/log.hpp"
#include "protocol/verify_budget.hpp"

namespace fleetcast::receiver {

// Things worth telling the operator (protocol/log: message IDs FC21xx), through this callback.
using Log = std::function<void(const log::Event&)>;

class ManagerGate {
 public:
  // Reads the fleet key kept in `state` (if any).
  ManagerGate(const protocol::PublicKey& manager, const protocol::SecretKey& own,
              std::filesystem::path state, Log log);

  const protocol::PublicKey& manager() const { return manager_; }
  protocol::KeyId manager_id() const { return manager_id_; }
  std::filesystem::path fleet_key_path() const;
  bool holds_fleet_key() const { return fleet_.has_value(); }
  // A KEYS line: the fleet key, when this host's entry opens (kept in the state directory).
  void on_keys(std::string_view line);
  // The fleet key's MAC; every MAC passes while no fleet key was learned.
  bool mac_ok(const protocol::MacedLine& line) const;
  bool mac_ok(const protocol::SignedFeedback& feedback) const;
  // The signature step (VerifyBudget::check): `verify()` runs only for bytes not verified before
  // and within the budget of `from`.
  protocol::VerifyBudget::Verdict check(std::span<const std::uint8_t> bytes,
                                        const protocol::Endpoint& from,
                                        protocol::VerifyBudget::Clock::time_point now,
                                        const std::function<bool()>& verify) {
    return budget_.check(bytes, from, now, verify);
  }
  // The manager's address, from what it signed (a verified UPDATE): its own budget.
  void pin(const protocol::Address& address) { budget_.pin(address); }
  protocol::Freshness& freshness() { return freshness_; }
  // A replay of `session` was seen: true the first time in a row (worth one log line).
  bool first_replay_of(protocol::SessionId session) {
    if (replay_logged_ == session) return false;
    replay_logged_ = session;
    return true;
  }
  // The MAC key of this host's own lines and feedback (nullopt: the manager's key is not a
  // valid curve point, nothing from this host can be checked).
  const std::optional<protocol::MacKey>& reply_mac() const { return mac_key_; }

 private:
  protocol::PublicKey manager_;
  protocol::KeyId manager_id_;
  protocol::KeyId own_id_;
  std::filesystem::path state_;
  Log log_;
  std::optional<protocol::MacKey> mac_key_;   // for feedback to the manager (keys.hpp)
  std::optional<protocol::MacKey> wrap_key_;  // opens this host's entry of a KEYS line
  // The manager's fleet key, once learned: from then on every line and packet that names the
  // manager's key must carry its MAC.
  std::optional<protocol::MacKey> fleet_;
  protocol::VerifyBudget budget_;
  protocol::Freshness freshness_;      // newest time per (command, session)
  protocol::SessionId replay_logged_;  // the last replayed session named in the log
};

}  // namespace fleetcast::receiver
