#pragma once
// Asking hosts now (STATUS) instead of waiting: every host keeps the FIN of its recent sessions
// (also across a restart, from its journal) and sends it again when a signed STATUS names the
// session. One poll asks about several sessions at once: a STATUS per session every second
// until each asked host answered with a FIN, or the time limit passed. The FINs go through
// the sessions' receipts, so they are checked and (observed) stored like any other reply.
// No threads or timers: the caller drives it (push_setup.hpp drive()).

#include <chrono>
#include <span>
#include <string>
#include <vector>

#include "protocol/control.hpp"
#include "protocol/transport.hpp"
#include "sender/delivery/pacer.hpp"
#include "sender/delivery/receipts.hpp"

namespace fleetcast::sender {

// One session to ask about: the file name it announced and the hosts to ask.
struct StatusQuery {
  std::string name;
  protocol::SessionId session;
  std::vector<const Host*> hosts;
};

class StatusPoll {
 public:
  StatusPoll(const std::vector<StatusQuery>& queries, protocol::Endpoint ctrl_group,
             const protocol::SecretKey& key, Clock::time_point now, Clock::duration limit);

  // `observer(i)` receives every reply accepted for query i.
  void observe(const std::function<Receipts::Observer(std::size_t)>& observer);
  void on_datagram(std::span<const std::uint8_t> bytes, const protocol::Endpoint& from,
                   Clock::time_point now);
  void tick(Clock::time_point now, protocol::Transport& t);
  Clock::time_point next_wakeup(Clock::time_point now) const;
  bool done() const { return done_; }
  // What query i's hosts said (a HostReport with fin set once a FIN came).
  const Receipts& receipts(std::size_t i) const { return receipts_[i]; }
  std::size_t answered() const;  // hosts that sent a FIN, over every query
  std::size_t asked() const;

 private:
  bool all_answered() const;

  std::vector<StatusQuery> queries_;
  protocol::Endpoint ctrl_group_;
  const protocol::SecretKey& key_;
  protocol::MacKey fleet_;  // fleet_key.hpp
  std::vector<Receipts> receipts_;
  Clock::time_point end_;
  Clock::time_point next_;
  bool done_ = false;
};

}  // namespace fleetcast::sender
