#pragma once
// One wave's activation (paper step 7, applied in waves): the manager multicasts a signed
// ACTIVATE naming the bundle (name, session, version, digest) and the wave's hosts, again every
// `interval` (a lost one is repeated; each carries a fresh time, inside the hosts' window), until
// every host of the wave has reported its apply result in a FIN, or `timeout` passed. Hosts
// that hold the bundle for that session apply it at most once; a repeat only makes them report
// again. No threads or timers: main() calls on_datagram / tick and sleeps until next_wakeup.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/control.hpp"
#include "protocol/transport.hpp"
#include "sender/delivery/pacer.hpp"
#include "sender/delivery/receipts.hpp"

namespace fleetcast::sender {

using namespace std::chrono_literals;

struct ActivationConfig {
  std::string name;  // the bundle's spool name, as announced
  protocol::SessionId session;
  std::uint64_t version = 0;
  protocol::Digest digest{};
  std::uint32_t wave = 0;  // 1-based, for the hosts' logs and the record
  protocol::Endpoint ctrl_group;
  std::uint64_t wall_time = 0;  // seconds since the epoch at `now` of the constructor
  Clock::duration interval = 1s;
  Clock::duration timeout = 600s;  // for every result of the wave (the apply time)
  // No ACTIVATE after this (the maintenance window closed): hosts that got one finish and
  // report; the others are not activated.
  Clock::time_point stop_sending = Clock::time_point::max();
};

class Activation {
 public:
  Activation(const Activation&) = delete;  // receipts_ points at key_
  Activation& operator=(const Activation&) = delete;
  Activation(ActivationConfig config, const std::vector<const Host*>& hosts,
             const protocol::SecretKey& key, Clock::time_point now);

  // A FIN line from a host (other replies are counted as dropped).
  void on_datagram(std::span<const std::uint8_t> bytes, const protocol::Endpoint& from,
                   Clock::time_point now);
  void tick(Clock::time_point now, protocol::Transport& transport);
  Clock::time_point next_wakeup(Clock::time_point now) const;

  bool done() const { return done_; }
  bool timed_out() const { return timed_out_; }
  // The host's apply result, once it reported one (a late `held` repeat is not a result).
  std::optional<protocol::FinStatus> result(std::size_t host) const;
  const Receipts& receipts() const { return receipts_; }
  void observe(Receipts::Observer o) { receipts_.observe(std::move(o)); }
  std::uint64_t sent() const { return sent_; }
  std::uint64_t dropped() const { return dropped_; }

 private:
  bool all_reported() const;
  void send(Clock::time_point now, protocol::Transport& t);

  ActivationConfig config_;
  protocol::SecretKey key_;
  protocol::MacKey fleet_;  // fleet_key.hpp
  Receipts receipts_;
  std::vector<std::vector<std::string>> chunks_;  // host names per ACTIVATE line
  Clock::time_point start_;
  Clock::time_point next_send_;
  bool done_ = false;
  bool timed_out_ = false;
  std::uint64_t sent_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace fleetcast::sender
