#include "sender/cli/send_command.hpp"

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
#include "sender/cli/push_setup.hpp"
#include "sender/cli/report.hpp"
#include "sender/cli/rollout_command.hpp"
#include "sender/delivery/session.hpp"
#include "sender/fleet/inventory.hpp"
#include "sender/rollout/redundancy.hpp"

namespace fleetcast::sender {
namespace p = protocol;
namespace {

constexpr auto kProgressEvery = std::chrono::milliseconds(250);

// The redundancy groups with two or more members among a push's targets, one line each ("":
// none, the push applies everywhere at once).
std::string redundancy_in_push(const Prepared& prep) {
  std::vector<std::string> names;
  for (const Host* h : prep.targets) names.push_back(h->name);
  std::string out;
  for (const RedundancyGroup* g : groups_among(names, prep.inventory->redundancy())) {
    out += "\n  " + g->describe();
  }
  return out;
}

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

int inventory_redundancy_command(const Invocation& inv) {
  Inventory inventory = Inventory::load(inv.inventory);
  RedundancyGroup g;
  g.name = inv.host_name;
  const auto service = service_from(inv.redundancy_service);
  if (!service) {
    throw InventoryError("--service: '" + inv.redundancy_service +
                         "' is not a service (dhcpd, kea, carp, vrrp)");
  }
  g.service = *service;
  for (const std::string& m : inv.redundancy_members) {
    const auto eq = m.find('=');
    if (eq == std::string::npos)
      throw InventoryError("--member: expected HOST=ROLE, got '" + m + "'");
    g.members.push_back({m.substr(0, eq), m.substr(eq + 1)});
  }
  const std::string described = g.describe();
  inventory.set_redundancy(std::move(g));
  inventory.save(inv.inventory);
  std::printf("%s: redundancy group %s (rollouts touch them in this order)\n",
              inv.inventory.c_str(), described.c_str());
  return 0;
}

int inventory_list_command(const Invocation& inv) {
  const Inventory inventory = Inventory::load(inv.inventory);
  std::printf("%zu host(s)\n", inventory.hosts().size());
  for (const Host& h : inventory.hosts()) {
    std::string groups;
    for (const std::string& g : h.groups) groups += (groups.empty() ? "" : ",") + g;
    std::printf("  %-24s %s%s%s\n", h.name.c_str(), p::fingerprint(h.key).c_str(),
                groups.empty() ? "" : "  groups ", groups.c_str());
  }
  for (const auto& [group, window] : inventory.windows()) {
    std::printf("window of @%s: %s\n", group.c_str(), window.c_str());
  }
  for (const RedundancyGroup& g : inventory.redundancy()) {
    std::printf("redundancy %s\n", g.describe().c_str());
  }
  for (const Site& s : inventory.sites()) {
    std::string hosts;
    for (const std::string& h : s.members) hosts += " " + h;
    std::printf("site %s:%s\n", describe(s).c_str(), hosts.c_str());
  }
  return 0;
}

int inventory_site_command(const Invocation& inv) {
  Inventory inventory = Inventory::load(inv.inventory);
  std::string error;
  auto site = parse_site(inv.site_fields, &error);
  if (!site) throw InventoryError(error);
  const std::string described = describe(*site);
  const std::size_t hosts = site->members.size();
  inventory.set_site(std::move(*site));
  inventory.save(inv.inventory);
  std::printf("%s: site %s, %zu host(s) behind the relay\n", inv.inventory.c_str(),
              described.c_str(), hosts);
  return 0;
}

// A push's exit code: 0 when every host applied (checked, in a dry run), with a line saying so.
int push_verdict(const SendOptions& o, const SenderSession& session) {
  const p::FinStatus want = o.dry_run ? p::FinStatus::checked : p::FinStatus::applied;
  const std::size_t done = session.receipts().fins_with(want);
  const bool ok = done == session.hosts().size();
  std::printf("%s: %zu of %zu hosts %s\n", ok ? "pushed" : "PUSH INCOMPLETE", done,
              session.hosts().size(), std::string(p::to_string(want)).c_str());
  return ok ? 0 : 1;
}

int send_command(const SendOptions& o, const RolloutOptions& rollout,
                 const std::vector<std::string>& argv) {
  Prepared prep = prepare(o);
  if (auto lint = refuse_dhcp_conflicts(prep, o.force); !o.dry_run) record_dhcp_pools(prep, lint);
  if (o.push && !o.dry_run) {
    if (auto grouped = redundancy_in_push(prep); !grouped.empty()) {
      if (!o.force) {
        std::printf(
            "push: members of a redundancy group are applied one at a time, each after "
            "the one before it applied (its health gate passed); the others at once:%s\n",
            grouped.c_str());
        std::fflush(stdout);
        return rollout_run_command(o, rollout, argv);
      }
      std::printf("push --force: redundancy groups applied at once, all members together:%s\n",
                  grouped.c_str());
    }
  }
  if (o.push) {
    std::printf("pushing %s: %s version %llu (%s)%s\n", o.file.c_str(), prep.bundle_name.c_str(),
                static_cast<unsigned long long>(prep.version), prep.kind.c_str(),
                o.dry_run ? ", dry run: hosts check only" : "");
  }
  const p::ApplyMode apply = !o.push     ? p::ApplyMode::none
                             : o.dry_run ? p::ApplyMode::dry_run
                                         : p::ApplyMode::now;
  SessionConfig c = session_config(o, prep, apply);
  auto store = o.state.empty() ? nullptr : std::make_unique<Store>(o.state);
  if (store) {
    start_from_paths(*store, prep.targets, c);
    c.fleet_key_holders = store->fleet_key_holders(prep.key.key_id());
  }
  Sockets io(o);
  io.use_sites(*prep.inventory, prep.targets);
  const Clock::time_point start = Clock::now();
  SenderSession session(c, prep.file, prep.targets, prep.key, start);
  if (store) record_session(*store, c, prep, session.digest());  // before any reply is read
  session.observe(record_into(store.get(), c.session));
  std::printf("sending %s (%llu bytes, %u blocks) to %zu hosts on %s, session %s\n", o.name.c_str(),
              static_cast<unsigned long long>(session.plan().object_size()),
              session.plan().block_count(), prep.targets.size(), o.iface.c_str(),
              p::text::hex64(c.session.value).c_str());
  const bool tty = o.progress && ::isatty(STDOUT_FILENO);
  Clock::time_point next_progress = start;
  std::uint32_t rate_events = 0;
  bool digest_recorded = session.digest_known();
  drive(session, io, [&](Clock::time_point now) {
    if (store && !digest_recorded && session.digest_known()) {
      store->set_session_digest(c.session, p::text::hex(session.digest()));
      digest_recorded = true;
    }
    if (tty && now >= next_progress) {
      print_progress(session, start, now);
      next_progress = now + kProgressEvery;
    }
    // Into a log (no terminal): a line for each decrease of the rate and each one undone.
    const RateStats& r = session.rate().stats();
    if (o.progress && !tty && r.decreases + r.restores != rate_events) {
      rate_events = r.decreases + r.restores;
      std::printf("%8.3fs rate %s: %s\n", seconds_between(start, now),
                  format_rate(session.rate().rate()).c_str(), session.rate().reason().c_str());
    }
  });
  const Clock::time_point end = Clock::now();
  if (tty) print_progress(session, start, end);
  print_table(session, start);
  if (o.push) print_fin_table(session);
  print_summary(session, start, end);
  if (!session.gave_up().empty()) std::printf("gave up: %s\n", session.gave_up().c_str());
  if (o.report) write_report(*o.report, o.file.string(), o.name, session, start, end);
  if (store) {
    store->end_session(c.session, session.success());
    record_paths(*store, prep.targets, session.rate());
    store->record_fleet_keys(prep.key.key_id(), session.receipts().fleet_keys_said());
  }
  return o.push ? push_verdict(o, session) : session.success() ? 0 : 1;
}

}  // namespace fleetcast::sender
