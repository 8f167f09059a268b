#include "sender/cli/push_setup.hpp"

#include "protocol/bundle/crypt.hpp"
#include "protocol/bundle/open.hpp"

#include <cstdio>
#include <ctime>
#include <random>
#include <stdexcept>

#include "protocol/bundle/archive.hpp"
#include "protocol/bundle/seal.hpp"
#include "protocol/io/clock.hpp"
#include "protocol/io/file.hpp"
#include "protocol/io/key_file.hpp"
#include "protocol/relay/frame.hpp"
#include "sender/lint/lint.hpp"

namespace fleetcast::sender {
namespace p = protocol;

Prepared prepare(const SendOptions& o) {
  Prepared prep(p::io::load_secret_key(o.key));
  prep.inventory = std::make_unique<Inventory>(Inventory::load(o.inventory));
  const Inventory& inventory = *prep.inventory;
  if (o.hosts.empty()) {
    for (const Host& h : inventory.hosts()) prep.targets.push_back(&h);
  } else {
    for (const std::string& name : o.hosts) {
      const Host* h = inventory.find(name);
      if (h == nullptr) throw std::runtime_error("--hosts: '" + name + "' is not in the inventory");
      prep.targets.push_back(h);
    }
  }
  // Read block by block while it is sent: the manager's memory does not grow with the file.
  prep.file = p::io::InputFile::open(o.file);
  prep.kind = o.kind;
  prep.version = o.bundle_version;
  if (o.push) {
    // Push only what verifies here: the hosts check the same seal with the same key. The
    // manager is a recipient of what it encrypted: it reads the manifest.
    p::bundle::OpenedBundle opened;
    try {
      opened = p::bundle::open_bundle(*prep.file, prep.key.public_key(), &prep.key);
    } catch (const p::bundle::Refused& e) {
      throw std::runtime_error(o.file.string() + ": " + e.what());
    }
    if (opened.encrypted) {
      // Only the hosts the content key was sealed to are targeted (the others could not read it).
      const auto& readers = opened.readers;
      auto reads = [&](const Host* h) {
        return std::find(readers.begin(), readers.end(), p::key_id(h->key)) != readers.end();
      };
      for (const Host* h : prep.targets) {
        if (!reads(h)) prep.not_targeted.push_back(h);
      }
      std::erase_if(prep.targets, [&](const Host* h) { return !reads(h); });
      prep.encrypted = true;
    }
    const p::bundle::Manifest& m = opened.manifest;
    if (m.kind == "dhcp-server") {
      prep.dhcp_server = m.setting("server");
      // The lint models DHCPv4 configurations (dhcpd, kea4) only.
      if (prep.dhcp_server == "dhcpd" || prep.dhcp_server == "kea4") {
        prep.dhcp_content = opened.content(*prep.file);
      }
      prep.dhcp_config = m.setting("config");
      prep.dhcp_keep_old_ranges = m.setting("keep-old-ranges") == "yes";
      prep.state = o.state;
    }
    prep.kind = m.kind;
    prep.version = m.version;
    prep.bundle_name = m.name;
    if (!m.targets.empty()) {  // the bundle's own targets narrow the host list
      const p::Targets wanted{m.targets};
      for (const Host* h : prep.targets) {
        if (!wanted.includes(h->name, h->groups)) prep.not_targeted.push_back(h);
      }
      std::erase_if(prep.targets,
                    [&](const Host* h) { return !wanted.includes(h->name, h->groups); });
    }
  }
  if (prep.targets.empty()) {
    throw std::runtime_error(o.inventory.string() + ": no hosts to send to");
  }
  return prep;
}

namespace {

lint::Report lint_dhcp(const Prepared& prep) {
  const p::io::TempDir scratch("fleetcast-lint");
  try {
    p::bundle::extract(prep.dhcp_content, scratch.path() / "staging", p::bundle::Limits{});
    // Overlays sealed to each host: the manager is a reader of every one.
    p::bundle::open_overlays(scratch.path() / "staging", prep.key, p::bundle::Limits{});
  } catch (const std::exception& e) {
    // What the hosts themselves refuse (an archive with '..', links out): theirs to say.
    lint::Report r;
    r.notes.push_back(std::string("the bundle's files were not checked: ") + e.what());
    return r;
  }
  // The hosts' last lease reports, from the receipt store (without --state: not checked).
  std::map<std::string, lint::LeaseReport> leases;
  if (!prep.state.empty()) {
    for (auto& [host, r] : Store(prep.state).reported_leases()) {
      leases[host] = {std::move(r.message), r.at};
    }
  }
  auto report = lint::lint_bundle_tree(scratch.path() / "staging", prep.dhcp_server,
                                       prep.dhcp_config, prep.targets, prep.inventory->redundancy(),
                                       leases, prep.dhcp_keep_old_ranges);
  if (prep.state.empty()) {
    report.notes.push_back("no --state: the leases the hosts reported were not checked");
  }
  return report;
}

}  // namespace

void record_dhcp_pools(const Prepared& prep, const lint::Report& r) {
  if (prep.state.empty() || r.ranges.empty()) return;
  std::vector<DhcpPools> servers;
  for (const auto& [host, ranges] : r.ranges) {
    DhcpPools d{host, prep.bundle_name, prep.version, {}, {}, 0};
    for (const lint::Range& range : ranges) {
      d.pools.push_back({range.low, range.high, range.subnet, range.retired});
    }
    for (const auto* lines : {&r.refusals, &r.notes}) {
      for (const std::string& line : *lines) {
        if (line.find(host) != std::string::npos) d.flags.push_back(line);
      }
    }
    servers.push_back(std::move(d));
  }
  Store(prep.state).record_dhcp_pools(servers);
}

namespace {

void print_report(const lint::Report& r, const char* refusal_tag) {
  for (const auto& n : r.notes) std::printf("  lint note: %s\n", n.c_str());
  for (const auto& x : r.refusals) std::printf("  %s: %s\n", refusal_tag, x.c_str());
}

}  // namespace

lint::Report refuse_dhcp_conflicts(const Prepared& prep, bool force) {
  if (prep.dhcp_content.empty()) {
    if (!prep.dhcp_server.empty()) {
      std::printf(
          "  lint note: server = %s (DHCPv6) is not linted across hosts: each host's "
          "server validates its own configuration\n",
          prep.dhcp_server.c_str());
    }
    return {};
  }
  lint::Report r = lint_dhcp(prep);
  print_report(r, force ? "FORCED (--force), lint" : "lint");
  if (!r.ok() && !force) {
    std::fflush(stdout);
    throw std::runtime_error("the DHCP lint refuses " + prep.bundle_name + ": " +
                             std::to_string(r.refusals.size()) +
                             " conflict(s) listed above (--force sends it anyway)");
  }
  return r;
}

int bundle_lint_command(const SendOptions& o) {
  const Prepared prep = prepare(o);
  if (prep.dhcp_content.empty()) {
    std::string server;
    if (!prep.dhcp_server.empty()) {
      server = " (server = ";
      server += prep.dhcp_server;
      server += ")";
    }
    std::printf("%s: %s bundle%s: nothing for the DHCP lint\n", o.file.c_str(), prep.kind.c_str(),
                server.c_str());
    return 0;
  }
  const lint::Report r = lint_dhcp(prep);
  print_report(r, "REFUSED");
  std::printf("%s: %s, %zu server(s) (%s): %s\n", o.file.c_str(), prep.bundle_name.c_str(),
              prep.targets.size(), prep.dhcp_server.c_str(),
              r.ok() ? "OK" : (std::to_string(r.refusals.size()) + " conflict(s)").c_str());
  return r.ok() ? 0 : 1;
}

SessionConfig session_config(const SendOptions& o, const Prepared& prep, p::ApplyMode apply) {
  // Every data packet must fit the link unfragmented: 40 IPv6 + 8 UDP + the packet, in a relay
  // frame when a site is behind a relay (the path to it is assumed to have the same MTU).
  const auto sites =
      prep.inventory ? sites_of(*prep.inventory, prep.targets) : std::vector<const Site*>{};
  const std::size_t room =
      p::io::interface_mtu(o.iface) - kWireOverhead - (sites.empty() ? 0 : p::kRelayFrameBytes);
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
  c.kind = prep.kind;
  c.version = prep.version;
  c.apply = apply;
  c.collect_fin = apply != p::ApplyMode::none;
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
  c.auth_copies = o.auth_copies;
  c.max_parts = mixed_parts;
  c.rate.fixed = o.fixed_rate;
  c.rate.ceiling = static_cast<std::uint64_t>(o.rate_mbit * 1e6 / 8);
  c.rate.start = static_cast<std::uint64_t>(o.rate_start_mbit * 1e6 / 8);
  c.rate.floor = static_cast<std::uint64_t>(o.rate_floor_mbit * 1e6 / 8);
  // One stream for every site: never faster than the slowest uplink stated; each relay repairs
  // the other hosts of its site.
  for (const Site* site : sites) {
    c.relayed_sites.push_back({site->relay, site->at, site->members});
    if (site->uplink_mbit <= 0) continue;
    const auto uplink = static_cast<std::uint64_t>(site->uplink_mbit * 1e6 / 8);
    if (c.rate.ceiling == 0 || uplink < c.rate.ceiling) c.rate.ceiling = uplink;
    c.rate.start = std::min(c.rate.start, uplink);
    c.rate.floor = std::min(c.rate.floor, uplink);
  }
  c.deadline = o.deadline;
  c.registration_timeout = o.registration_timeout;
  c.wall_time = p::io::wall_seconds();
  return c;
}

void start_from_paths(const Store& store, const std::vector<const Host*>& targets,
                      SessionConfig& c) {
  if (c.rate.fixed || targets.empty()) return;
  const auto paths = store.host_paths();
  std::uint64_t start = UINT64_MAX;
  std::vector<std::int32_t> bases;
  for (const Host* h : targets) {
    const auto it = paths.find(h->name);
    if (it == paths.end() || it->second.rate == 0) return;
    start = std::min(start, it->second.rate);
    bases.push_back(it->second.base);
  }
  // Half of it: a rate shown in the burst of a short interval may not last (a disk's writeback),
  // and slow start doubles it back after one interval that shows it still holds.
  c.rate.start = start / 2;  // RateControl keeps it within floor..ceiling
  c.rate.bases = std::move(bases);
}

void record_paths(Store& store, const std::vector<const Host*>& targets, const RateControl& rate) {
  if (!rate.adaptive() || rate.shown() == 0 || rate.bases().size() != targets.size()) return;
  std::map<std::string, HostPath> paths;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    paths[targets[i]->name] = HostPath{rate.shown(), rate.bases()[i], 0};
  }
  store.record_host_paths(paths);
}

std::unique_ptr<Store> open_store(const SendOptions& o, const SessionConfig& c,
                                  const Prepared& prep, const p::Digest& digest) {
  if (o.state.empty()) return nullptr;
  auto store = std::make_unique<Store>(o.state);
  record_session(*store, c, prep, digest);
  return store;
}

void record_session(Store& store, const SessionConfig& c, const Prepared& prep,
                    const p::Digest& digest) {
  SessionRecord r;
  r.session = c.session;
  r.file_id = c.file_id;
  r.file_name = c.name;
  r.bundle = prep.bundle_name;
  r.version = prep.version;
  r.digest = p::text::hex(digest);
  r.apply = c.apply;
  r.started_at = static_cast<std::int64_t>(c.wall_time);
  store.begin_session(r, prep.targets);
}

// Both bound to the address the announcements name as reply= (session_config), without
// SO_REUSEADDR: no other user of this machine can take the hosts' replies, and what the manager
// multicasts comes from the address hosts pin (protocol/verify_budget.hpp).
Sockets::Sockets(const SendOptions& o)
    : out(p::io::interface_address(o.iface), 0, p::io::interface_index(o.iface)),
      replies(p::io::interface_address(o.iface), o.reply_port, p::io::interface_index(o.iface)) {
  out.set_multicast(o.hop_limit, true);
  out.set_buffer_sizes(8 << 20);
  replies.set_buffer_sizes(8 << 20);
}

std::vector<const Site*> sites_of(const Inventory& inventory,
                                  const std::vector<const Host*>& targets) {
  std::vector<const Site*> out;
  for (const Site& s : inventory.sites()) {
    for (const Host* h : targets) {
      if (std::find(s.members.begin(), s.members.end(), h->name) != s.members.end()) {
        out.push_back(&s);
        break;
      }
    }
  }
  return out;
}

void Sockets::use_sites(const Inventory& inventory, const std::vector<const Host*>& targets) {
  std::vector<p::Endpoint> relays;
  for (const Site* s : sites_of(inventory, targets)) {
    std::size_t behind = 0;
    for (const Host* h : targets) behind += inventory.site_of(h->name) == s;
    std::printf("site %s: %zu host(s) behind the relay\n", describe(*s).c_str(), behind);
    relays.push_back(s->at);
  }
  std::fflush(stdout);
  if (!relays.empty()) fanout = std::make_unique<SiteFanout>(out, std::move(relays));
}

}  // namespace fleetcast::sender
