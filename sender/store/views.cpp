// The receipt store's reads for the web view (web/): rollouts by ID, every host with its last
// reply, one host's history. Read-only queries; a store opened with Access::read_only answers
// them all.

#include <system_error>

#include <nlohmann/json.hpp>

#include "protocol/io/clock.hpp"
#include "protocol/text.hpp"
#include "sender/store/store.hpp"

namespace fleetcast::sender {
namespace p = protocol;

std::vector<std::int64_t> Store::rollout_ids(std::size_t limit) const {
  auto s = db_->prepare("SELECT id FROM rollouts ORDER BY id DESC LIMIT ?");
  s.bind(1, static_cast<std::int64_t>(limit));
  std::vector<std::int64_t> out;
  while (s.step()) out.push_back(s.integer(0));
  return out;
}

std::vector<Store::HostRow> Store::host_rows() const {
  auto s = db_->prepare(
      "SELECT h.name, h.groups, (SELECT MAX(r.at) FROM receipts r WHERE r.host = h.name) "
      "FROM hosts h ORDER BY h.name");
  std::vector<HostRow> out;
  while (s.step()) {
    HostRow row{s.text(0), {}, s.null(2) ? 0 : s.integer(2)};
    if (!s.text(1).empty()) row.groups = p::text::split(s.text(1), ',');
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<Store::HostSession> Store::host_history(const std::string& host,
                                                    std::size_t limit) const {
  auto s = db_->prepare(
      "SELECT se.session, se.file_id, se.file_name, se.bundle, se.version, se.digest, "
      "se.started_at, se.ended_at, sh.key FROM session_hosts sh JOIN sessions se "
      "ON se.session = sh.session WHERE sh.host = ? ORDER BY se.started_at DESC, se.rowid DESC "
      "LIMIT ?");
  s.bind(1, host).bind(2, static_cast<std::int64_t>(limit));
  std::vector<HostSession> out;
  while (s.step()) {
    HostSession h;
    p::text::unhex64(s.text(0), h.record.session.value);
    h.record.file_id = static_cast<std::uint16_t>(s.integer(1));
    h.record.file_name = s.text(2);
    h.record.bundle = s.text(3);
    h.record.version = static_cast<std::uint64_t>(s.integer(4));
    h.record.digest = s.text(5);
    h.record.started_at = s.integer(6);
    h.ended_at = s.null(7) ? 0 : s.integer(7);
    h.result = HostStatus{
        host, h.record.bundle.empty() ? h.record.file_name : h.record.bundle, 0, "no answer", "", 0,
        0};
    auto r = db_->prepare(
        "SELECT id, verb, line, at FROM receipts WHERE session = ? AND host = ? ORDER BY id");
    r.bind(1, s.text(0)).bind(2, host);
    while (r.step()) {
      h.receipts.push_back(
          {r.integer(0), s.text(0), host, r.text(1), r.text(2), s.text(8), r.integer(3)});
      h.result.fold(r.text(1), r.text(2), r.integer(3));
    }
    out.push_back(std::move(h));
  }
  return out;
}

void Store::record_dhcp_pools(const std::vector<DhcpPools>& servers) {
  p::io::Database::Transaction t(*db_);
  for (const DhcpPools& s : servers) {
    nlohmann::json pools = nlohmann::json::array();
    for (const DhcpPools::Pool& pool : s.pools) {
      pools.push_back({{"low", pool.low},
                       {"high", pool.high},
                       {"subnet", pool.subnet},
                       {"retired", pool.retired}});
    }
    db_->prepare(
           "INSERT INTO dhcp_pools(host, bundle, version, pools, flags, at) VALUES(?,?,?,?,?,?) "
           "ON CONFLICT(host, bundle) DO UPDATE SET version=excluded.version, "
           "pools=excluded.pools, flags=excluded.flags, at=excluded.at")
        .bind(1, s.host)
        .bind(2, s.bundle)
        .bind(3, static_cast<std::int64_t>(s.version))
        .bind(4, pools.dump())
        .bind(5, nlohmann::json(s.flags).dump())
        .bind(6, static_cast<std::int64_t>(p::io::wall_seconds()))
        .run();
  }
  t.commit();
}

std::vector<DhcpPools> Store::dhcp_pools() const {
  auto s = db_->prepare(
      "SELECT host, bundle, version, pools, flags, at FROM dhcp_pools ORDER BY host, bundle");
  std::vector<DhcpPools> out;
  while (s.step()) {
    DhcpPools d{s.text(0), s.text(1), static_cast<std::uint64_t>(s.integer(2)),
                {},        {},        s.integer(5)};
    // Written by record_dhcp_pools only; a row that does not parse is shown without pools.
    const auto pools = nlohmann::json::parse(s.text(3), nullptr, false);
    const auto flags = nlohmann::json::parse(s.text(4), nullptr, false);
    if (pools.is_array()) {
      for (const auto& j : pools) {
        d.pools.push_back({j.value("low", 0u), j.value("high", 0u), j.value("subnet", ""),
                           j.value("retired", false)});
      }
    }
    if (flags.is_array()) {
      for (const auto& f : flags) {
        if (f.is_string()) d.flags.push_back(f.get<std::string>());
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::uint64_t Store::size_bytes() const {
  std::uint64_t total = 0;
  for (const char* suffix : {"", "-wal"}) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(path_.string() + suffix, ec);
    if (!ec) total += n;
  }
  return total;
}

}  // namespace fleetcast::sender
