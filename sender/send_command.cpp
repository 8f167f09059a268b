#include "sender/send_command.hpp"

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "protocol/bundle/archive.hpp"
#include "protocol/bundle/seal.hpp"
#include "protocol/io/file.hpp"
#include "protocol/io/key_file.hpp"
#include "protocol/io/udp_socket.hpp"
#include "sender/inventory.hpp"
#include "sender/report.hpp"
#include "sender/session.hpp"

namespace fleetcast::sender {
namespace p = protocol;
namespace {

constexpr auto kProgressEvery = std::chrono::milliseconds(250);

}  // namespace

int inventory_add_command(const Invocation& inv) {
  Inventory inventory = Inventory::load(inv.inventory);
  const p::PublicKeyFile pub = p::io::load_public_key(inv.host_pub);
  inventory.add(Host{inv.host_name, pub.key, inv.host_groups});
  inventory.save(inv.inventory);
  std::printf("%s: %s added (%s)\n", inv.inventory.c_str(), inv.host_name.c_str(),
              p::fingerprint(pub.key).c_str());
  return 0;
}

int send_command(const SendOptions& o) {
  const Inventory inventory = Inventory::load(o.inventory);
  std::vector<const Host*> targets;
  if (o.hosts.empty()) {
    for (const Host& h : inventory.hosts()) targets.push_back(&h);
  } else {
    for (const std::string& name : o.hosts) {
      const Host* h = inventory.find(name);
      if (h == nullptr) throw std::runtime_error("--hosts: '" + name + "' is not in the inventory");
      targets.push_back(h);
    }
  }
  const p::SecretKey key = p::io::load_secret_key(o.key);
  std::vector<std::uint8_t> file = p::io::read_file(o.file);
  std::string kind = o.kind;
  std::uint64_t version = o.bundle_version;
  if (o.push) {
    // Push only what verifies here: the hosts check the same seal with the same key.
    const auto opened = p::bundle::open(file, key.public_key());
    if (!opened.ok) throw std::runtime_error(o.file.string() + ": " + opened.reason);
    const p::bundle::Manifest m = p::bundle::read_manifest(opened.content);
    kind = m.kind;
    version = m.version;
    if (!m.targets.empty()) {  // the bundle's own targets narrow the host list
      const p::Targets wanted{m.targets};
      std::erase_if(targets, [&](const Host* h) { return !wanted.includes(h->name, h->groups); });
    }
    std::printf("pushing %s: %s version %llu (%s)%s\n", o.file.c_str(), m.name.c_str(),
                static_cast<unsigned long long>(m.version), m.kind.c_str(),
                o.dry_run ? ", dry run: hosts check only" : "");
  }
  if (targets.empty()) throw std::runtime_error(o.inventory.string() + ": no hosts to send to");

  const unsigned ifindex = p::io::interface_index(o.iface);
  // Every data packet must fit the link unfragmented: 40 IPv6 + 8 UDP + the packet.
  const std::size_t room = p::io::interface_mtu(o.iface) - kWireOverhead;
  if (p::kHeaderBytes + o.symbol_size > room) {
    throw std::runtime_error("--symbol-size " + std::to_string(o.symbol_size) +
                             ": a data packet would not fit the MTU of " + o.iface +
                             " (symbols of at most " + std::to_string(room - p::kHeaderBytes) +
                             " bytes fit)");
  }
  std::size_t mixed_parts = 1;
  while (mixed_parts < o.mixed_parts &&
         p::mixed_datagram_bytes(mixed_parts + 1, o.symbol_size) <= room) {
    ++mixed_parts;
  }
  std::random_device entropy;
  SessionConfig c;
  c.name = o.name;
  c.kind = kind;
  c.version = version;
  c.apply = !o.push ? "none" : o.dry_run ? "dry-run" : "now";
  c.collect_fin = o.push;
  c.fin_timeout = o.fin_timeout;
  c.file_id = static_cast<std::uint16_t>(1 + entropy() % 65535);
  c.session.value = (std::uint64_t{entropy()} << 32) | entropy();
  c.ctrl_group = p::text::parse_address(o.ctrl_group, o.ctrl_port, "ctrl").value();
  c.data_group = p::text::parse_address(o.data_group, o.data_port, "data").value();
  c.reply.address = p::io::interface_address(o.iface);
  c.reply.port = o.reply_port;
  c.symbol_size = o.symbol_size;
  c.max_k = o.k;
  c.proactive = o.proactive;
  c.max_parts = mixed_parts;
  c.rate = static_cast<std::uint64_t>(o.rate_mbit * 1e6 / 8);
  c.deadline = o.deadline;
  c.registration_timeout = o.registration_timeout;
  c.wall_time = static_cast<std::uint64_t>(std::time(nullptr));

  p::io::UdpSocket out(0, ifindex);
  out.set_multicast(o.hop_limit, true);
  out.set_buffer_sizes(8 << 20);
  p::io::UdpSocket replies(o.reply_port, ifindex);
  replies.set_buffer_sizes(8 << 20);

  const Clock::time_point start = Clock::now();
  SenderSession session(c, std::move(file), targets, key, start);
  std::printf("sending %s (%llu bytes, %u blocks) to %zu hosts on %s, session %s\n", o.name.c_str(),
              static_cast<unsigned long long>(session.plan().object_size()),
              session.plan().block_count(), targets.size(), o.iface.c_str(),
              p::text::hex64(c.session.value).c_str());
  const bool tty = o.progress && ::isatty(STDOUT_FILENO);
  std::vector<std::uint8_t> buffer(64 * p::kMaxControlDatagram);
  Clock::time_point next_progress = start;
  while (!session.done()) {
    Clock::time_point now = Clock::now();
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(session.next_wakeup(now) - now);
    pollfd fds[] = {{replies.fd(), POLLIN, 0}, {out.fd(), POLLOUT, 0}};
    const int timeout = static_cast<int>(std::clamp<std::int64_t>(wait.count(), 0, 100));
    ::poll(fds, 1, timeout);
    now = Clock::now();
    for (int batch = 0; batch < 16 && (fds[0].revents & POLLIN); ++batch) {
      const auto got = replies.receive(buffer, p::kMaxControlDatagram);
      for (const auto& r : got) session.on_datagram(r.bytes, r.from, now);
      if (got.empty()) break;
    }
    session.tick(now, out);
    if (tty && now >= next_progress) {
      print_progress(session, start, now);
      next_progress = now + kProgressEvery;
    }
  }
  const Clock::time_point end = Clock::now();
  if (tty) print_progress(session, start, end);
  print_table(session, start);
  if (o.push) print_fin_table(session);
  const SessionStats& st = session.stats();
  std::printf(
      "%s in %.3fs, %u rounds, %.3f wire bytes per file byte (%llu source, %llu parity, %llu "
      "mixed packets), %llu feedback dropped\n",
      session.success() ? "complete" : "INCOMPLETE", seconds_between(start, end), st.rounds,
      static_cast<double>(st.wire_bytes) /
          static_cast<double>(std::max<std::uint64_t>(1, session.plan().object_size())),
      static_cast<unsigned long long>(st.data_packets),
      static_cast<unsigned long long>(st.parity_packets),
      static_cast<unsigned long long>(st.mixed_packets),
      static_cast<unsigned long long>(st.feedback_dropped));
  if (o.report) write_report(*o.report, o.file.string(), o.name, session, start, end);
  if (o.push) {
    const p::FinStatus want = o.dry_run ? p::FinStatus::checked : p::FinStatus::applied;
    const std::size_t done = session.receipts().fins_with(want);
    const bool ok = done == session.hosts().size();
    std::printf("%s: %zu of %zu hosts %s\n", ok ? "pushed" : "PUSH INCOMPLETE", done,
                session.hosts().size(), std::string(p::to_string(want)).c_str());
    return ok ? 0 : 1;
  }
  return session.success() ? 0 : 1;
}

}  // namespace fleetcast::sender
