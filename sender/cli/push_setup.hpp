#pragma once
// What `send`, `push` and `rollout` share before and around a session: the targets (inventory
// hosts, narrowed by --hosts and by the bundle's own targets), the verified bundle, the session
// configuration from the options, the two sockets, and the event loop that drives any
// session-shaped state machine (on_datagram / tick / next_wakeup / done).

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "protocol/io/random_access.hpp"
#include "protocol/io/udp_socket.hpp"
#include "protocol/io/wait.hpp"
#include "sender/cli/config.hpp"
#include "sender/delivery/session.hpp"
#include "sender/delivery/site_fanout.hpp"
#include "sender/fleet/inventory.hpp"
#include "sender/lint/lint.hpp"
#include "sender/store/store.hpp"

namespace fleetcast::sender {

struct Prepared {
  explicit Prepared(protocol::SecretKey k) : key(std::move(k)) {}
  std::unique_ptr<Inventory> inventory;  // `targets` point into it
  std::vector<const Host*> targets;
  // Inventory hosts the bundle's own targets= leave out (shown by rollout plan).
  std::vector<const Host*> not_targeted;
  protocol::SecretKey key;
  std::shared_ptr<const protocol::io::InputFile> file;
  std::string kind = "file";
  std::uint64_t version = 0;
  std::string bundle_name;  // manifest name (bundles)
  bool encrypted = false;   // only the recipient hosts are targets
  // dhcp-server bundles: the readable content and what the DHCP lint reads of the manifest.
  std::vector<std::uint8_t> dhcp_content;
  std::string dhcp_server, dhcp_config;
  bool dhcp_keep_old_ranges = false;
  std::filesystem::path state;  // --state: the receipt store (the hosts' lease reports)
};

// The DHCP lint (sender/lint/lint.hpp) of a prepared dhcp-server bundle: prints the refusals and
// notes, and throws unless `force` (then prints that they were forced); returns its report.
// Nothing (an empty report) for other kinds.
lint::Report refuse_dhcp_conflicts(const Prepared& prep, bool force);
// What that lint read of each server's pools, into the receipt store (with --state) for the web
// view: called by the commands that send the bundle (not by plan or bundle lint).
void record_dhcp_pools(const Prepared& prep, const lint::Report& report);
// `bundle lint`: the same check alone; exit status 1 when it refuses.
int bundle_lint_command(const SendOptions& o);

// Loads the inventory and the key, reads FILE; for a push, verifies the bundle with the
// manager's own key and reads its manifest. Throws with a message naming what is wrong.
Prepared prepare(const SendOptions& o);

// The session configuration from the options (fresh session ID and file ID).
SessionConfig session_config(const SendOptions& o, const Prepared& p, protocol::ApplyMode apply);

// An adaptive session to hosts whose paths the store of --state knows starts at half the lowest
// rate they all took last time (not above --rate, not below --rate-floor), with each host's
// loss base known (rate/rate_control.hpp); when any of them is new, as configured.
void start_from_paths(const Store& store, const std::vector<const Host*>& targets,
                      SessionConfig& c);
// After an adaptive session: what it learned of each target's path, into the store.
void record_paths(Store& store, const std::vector<const Host*>& targets, const RateControl& rate);

// The receipt store of --state (nullptr without it), with the session recorded in it.
std::unique_ptr<Store> open_store(const SendOptions& o, const SessionConfig& c, const Prepared& p,
                                  const protocol::Digest& digest);
// The session and its targets, recorded in `store` (before any reply is read).
void record_session(Store& store, const SessionConfig& c, const Prepared& prep,
                    const protocol::Digest& digest);

struct Sockets {
  Sockets(const SendOptions& o);
  // Every multicast datagram also goes, framed, to the relay of each site of `targets`
  // (delivery/site_fanout.hpp); prints the sites. Nothing when none of them is behind a site.
  void use_sites(const Inventory& inventory, const std::vector<const Host*>& targets);
  // Where sessions send: the fan-out when sites are used, the socket otherwise.
  protocol::Transport& transport() {
    if (fanout) return *fanout;
    return out;
  }
  protocol::io::UdpSocket out;
  protocol::io::UdpSocket replies;
  std::unique_ptr<SiteFanout> fanout;
};

// The sites of `targets` (each once, in inventory order).
std::vector<const Site*> sites_of(const Inventory& inventory,
                                  const std::vector<const Host*>& targets);

// One turn of the manager's one loop: waits for replies on `io` until `s`'s next wakeup (at
// most 100 ms), hands them to `s`, ticks it. `buffer` is the loop's receive buffer.
template <class Session>
void turn(Session& s, Sockets& io, std::vector<std::uint8_t>& buffer) {
  Clock::time_point now = Clock::now();
  // Copies for the sites' relays that met a full socket buffer go out within a millisecond.
  const bool waiting = io.fanout && !io.fanout->flush();
  pollfd fds[] = {{io.replies.fd(), POLLIN, 0}};
  protocol::io::wait_readable(
      fds, s.next_wakeup(now) - now,
      waiting ? std::chrono::milliseconds(1) : std::chrono::milliseconds(100));
  now = Clock::now();
  for (int batch = 0; batch < 16 && (fds[0].revents & POLLIN); ++batch) {
    const auto got = io.replies.receive(buffer, protocol::kMaxControlDatagram);
    for (const auto& r : got) s.on_datagram(r.bytes, r.from, now);
    if (got.empty()) break;
  }
  s.tick(now, io.transport());
}

inline std::vector<std::uint8_t> loop_buffer() {
  return std::vector<std::uint8_t>(64 * protocol::kMaxControlDatagram);
}

// Runs `s` until done. `every_loop` (if set) runs after each turn, e.g. for a progress line.
template <class Session>
void drive(Session& s, Sockets& io, const std::function<void(Clock::time_point)>& every_loop = {}) {
  std::vector<std::uint8_t> buffer = loop_buffer();
  while (!s.done()) {
    turn(s, io, buffer);
    if (every_loop) every_loop(Clock::now());
  }
}

}  // namespace fleetcast::sender
