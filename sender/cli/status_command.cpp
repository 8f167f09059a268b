#include "sender/cli/status_command.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>

#include "protocol/io/key_file.hpp"
#include "protocol/text.hpp"
#include "sender/cli/push_setup.hpp"
#include "sender/cli/report.hpp"
#include "sender/delivery/status_poll.hpp"
#include "sender/rollout/recap.hpp"
#include "sender/store/store.hpp"

namespace fleetcast::sender {
namespace p = protocol;
namespace {

std::string when(std::int64_t t) {
  return t == 0 ? "-" : iso_utc(t);
}

// CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
std::string csv(const std::string& v) {
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// STATUS to the hosts `status` would list, for their newest session of each bundle; the FINs
// they send again go into the store. Prints (to stderr: stdout stays JSON / CSV) who answered.
void refresh(const StatusOptions& o, Store& store) {
  const SendOptions& n = *o.refresh;
  const p::SecretKey key = p::io::load_secret_key(n.key);
  const auto sessions = store.latest_sessions(o.bundle, o.host);
  std::vector<StatusQuery> queries;
  for (const auto& s : sessions) {
    StatusQuery q{s.file_name, s.session, {}};
    for (const Host& h : s.hosts) q.hosts.push_back(&h);
    queries.push_back(std::move(q));
  }
  Sockets io(n);
  if (!n.inventory.empty()) {  // hosts behind a site's relay are asked through it
    std::vector<const Host*> asked;
    for (const auto& q : queries) asked.insert(asked.end(), q.hosts.begin(), q.hosts.end());
    io.use_sites(Inventory::load(n.inventory), asked);
  }
  StatusPoll poll(queries, p::text::parse_address(n.ctrl_group, n.ctrl_port, "ctrl").value(), key,
                  Clock::now(), o.refresh_timeout);
  poll.observe([&](std::size_t i) { return record_into(&store, queries[i].session); });
  drive(poll, io);
  std::fprintf(stderr, "refresh: %zu of %zu host(s) answered within %llds (%zu session(s) asked)\n",
               poll.answered(), poll.asked(), static_cast<long long>(o.refresh_timeout.count()),
               queries.size());
  for (std::size_t i = 0; i < queries.size(); ++i) {
    for (const HostReport& h : poll.receipts(i).hosts()) {
      if (!h.fin) std::fprintf(stderr, "refresh: no answer from %s\n", h.host->name.c_str());
    }
  }
}

}  // namespace

int status_command(const StatusOptions& o) {
  Store store(o.state);
  if (o.refresh) refresh(o, store);
  const auto rows = store.status(o.bundle, o.host);
  if (o.format == StatusOptions::Format::json) {
    nlohmann::json out = nlohmann::json::array();
    for (const HostStatus& h : rows) {
      out.push_back({{"host", h.host},
                     {"bundle", h.bundle},
                     {"status", h.status},
                     {"version", h.version},
                     {"installed", h.installed},
                     {"reason", h.message},
                     {"at", when(h.at)}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (o.format == StatusOptions::Format::csv) {
    std::printf("host,bundle,status,version,installed,at,reason\n");
    for (const HostStatus& h : rows) {
      std::printf("%s,%s,%s,%llu,%llu,%s,%s\n", csv(h.host).c_str(), csv(h.bundle).c_str(),
                  csv(h.status).c_str(), static_cast<unsigned long long>(h.version),
                  static_cast<unsigned long long>(h.installed), when(h.at).c_str(),
                  csv(h.message).c_str());
    }
    return 0;
  }
  std::printf("%-20s %-20s %-12s %8s %9s %-20s  %s\n", "host", "bundle", "status", "version",
              "installed", "at", "reason");
  for (const HostStatus& h : rows) {
    std::printf("%-20s %-20s %-12s %8llu %9llu %-20s  %s\n", h.host.c_str(), h.bundle.c_str(),
                h.status.c_str(), static_cast<unsigned long long>(h.version),
                static_cast<unsigned long long>(h.installed), when(h.at).c_str(),
                h.message.c_str());
  }
  std::vector<RecapRow> recap;
  for (const HostStatus& h : rows) recap.push_back({h.host, h.status, h.status, h.message, false});
  for (const std::string& line : recap_lines("", 0, recap)) std::printf("%s\n", line.c_str());
  return 0;
}

int receipts_verify_command(const StatusOptions& o) {
  const Store store(o.state);
  std::size_t ok = 0, bad = 0;
  for (const StoredReceipt& r : store.receipts()) {
    if (verify_receipt(r)) {
      ++ok;
    } else {
      ++bad;
      std::printf("BAD receipt %lld: %s %s session %s: %.80s\n", static_cast<long long>(r.id),
                  r.host.c_str(), r.verb.c_str(), r.session.c_str(), r.line.c_str());
    }
  }
  std::printf("receipts: %zu verified, %zu failed\n", ok, bad);
  return bad == 0 ? 0 : 1;
}

}  // namespace fleetcast::sender
