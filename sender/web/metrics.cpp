#include "sender/web/metrics.hpp"

#include <map>

namespace fleetcast::sender::web {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Exposition {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(const char* name, const Labels& labels, double value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += "{";
      for (std::size_t i = 0; i < labels.size(); ++i) {
        out_ += (i ? "," : "") + labels[i].first + "=\"" + label_value(labels[i].second) + "\"";
      }
      out_ += "}";
    }
    char number[64];
    std::snprintf(number, sizeof number, " %.17g\n", value);
    out_ += number;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// The newest FIN time of a host: a result of any bundle (not a registration or a DENY).
std::int64_t last_fin(const FleetHost& h) {
  std::int64_t at = 0;
  for (const HostStatus& b : h.bundles) {
    const bool fin = b.status != "no answer" && b.status != "registered" &&
                     b.status != "completed" && b.status != "denied";
    if (fin) at = std::max(at, b.at);
  }
  return at;
}

void fleet(Exposition& e, const Overview& o) {
  std::map<std::pair<std::string, std::string>, std::size_t> by_state;
  for (const FleetHost& h : o.hosts) {
    for (const HostStatus& b : h.bundles) ++by_state[{b.bundle, b.status}];
  }
  e.family("fleetcast_hosts", "gauge", "Hosts by bundle and their latest state for it.");
  for (const auto& [k, n] : by_state) {
    e.sample("fleetcast_hosts", {{"bundle", k.first}, {"state", k.second}}, double(n));
  }
  e.family("fleetcast_host_last_fin_age_seconds", "gauge",
           "Seconds since the host's newest FIN (hosts that sent one).");
  for (const FleetHost& h : o.hosts) {
    const std::int64_t at = last_fin(h);
    if (at != 0)
      e.sample("fleetcast_host_last_fin_age_seconds", {{"host", h.name}}, double(o.now - at));
  }
  e.family("fleetcast_host_last_reply_timestamp_seconds", "gauge",
           "When the host last sent a signed reply, seconds since the epoch.");
  for (const FleetHost& h : o.hosts) {
    if (h.last_heard != 0) {
      e.sample("fleetcast_host_last_reply_timestamp_seconds", {{"host", h.name}},
               double(h.last_heard));
    }
  }
}

void pools(Exposition& e, const Overview& o) {
  e.family("fleetcast_dhcp_pool_addresses", "gauge",
           "Addresses of each pool of the DHCP configuration last sent to the server.");
  for (const FleetHost& h : o.hosts) {
    for (const PoolUse& u : h.pools) {
      e.sample("fleetcast_dhcp_pool_addresses", {{"host", h.name}, {"pool", u.range}},
               double(u.addresses));
    }
  }
  e.family("fleetcast_dhcp_pool_active_leases", "gauge",
           "Active leases in the pool, as the server's newest FIN reported them (when it listed "
           "them all).");
  for (const FleetHost& h : o.hosts) {
    for (const PoolUse& u : h.pools) {
      if (!u.active) continue;
      e.sample("fleetcast_dhcp_pool_active_leases", {{"host", h.name}, {"pool", u.range}},
               double(*u.active));
    }
  }
}

void rollouts(Exposition& e, const Overview& o) {
  e.family("fleetcast_rollout_info", "gauge",
           "Recent rollouts: 1 per rollout, its state as label.");
  for (const RolloutSummary& r : o.rollouts) {
    e.sample("fleetcast_rollout_info",
             {{"rollout", std::to_string(r.id)},
              {"bundle", r.bundle},
              {"version", std::to_string(r.version)},
              {"state", r.state}},
             1);
  }
  e.family("fleetcast_rollout_waves_started", "gauge", "Waves of the rollout started so far.");
  for (const RolloutSummary& r : o.rollouts) {
    e.sample("fleetcast_rollout_waves_started", {{"rollout", std::to_string(r.id)}},
             double(r.waves_started));
  }
  e.family("fleetcast_rollout_waves", "gauge", "Waves the rollout's plan has.");
  for (const RolloutSummary& r : o.rollouts) {
    e.sample("fleetcast_rollout_waves", {{"rollout", std::to_string(r.id)}},
             double(r.waves_planned));
  }
  if (!o.focus) return;
  e.family("fleetcast_rollout_hosts", "gauge",
           "Hosts of the running (else the newest) rollout by their state in it.");
  for (const auto& [state, n] : o.focus->counts) {
    e.sample("fleetcast_rollout_hosts",
             {{"rollout", std::to_string(o.focus->view.id)}, {"state", state}}, double(n));
  }
}

void live(Exposition& e, const LiveFigures& f) {
  const DeliveryTotals& d = f.delivery;
  e.family("fleetcast_sessions_total", "counter", "Delivery sessions this manager process ran.");
  e.sample("fleetcast_sessions_total", {}, double(d.sessions));
  e.family("fleetcast_session_rounds_total", "counter", "Transmission rounds of those sessions.");
  e.sample("fleetcast_session_rounds_total", {}, double(d.rounds));
  e.family("fleetcast_sent_bytes_total", "counter",
           "Bytes of every datagram the sessions sent, IPv6 and UDP headers included.");
  e.sample("fleetcast_sent_bytes_total", {}, double(d.wire_bytes));
  e.family("fleetcast_sent_packets_total", "counter", "Datagrams the sessions sent.");
  e.sample("fleetcast_sent_packets_total", {}, double(d.packets));
  e.family("fleetcast_feedback_dropped_total", "counter",
           "Replies claiming to come from hosts that were dropped, by reason.");
  for (std::size_t r = 0; r < d.dropped.size(); ++r) {
    e.sample("fleetcast_feedback_dropped_total",
             {{"reason", std::string(protocol::to_string(static_cast<protocol::Drop>(r)))}},
             double(d.dropped[r]));
  }
  e.family("fleetcast_rollout_running", "gauge", "The ID of the rollout on the loop, 0 for none.");
  e.sample("fleetcast_rollout_running", {}, double(f.rollout));
  e.family("fleetcast_start_time_seconds", "gauge", "When this manager started serving.");
  e.sample("fleetcast_start_time_seconds", {}, double(f.serving_since));
}

}  // namespace

std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string metrics_text(const MetricsInput& in) {
  Exposition e;
  fleet(e, in.overview);
  pools(e, in.overview);
  rollouts(e, in.overview);
  live(e, in.live);
  e.family("fleetcast_store_size_bytes", "gauge", "The receipt store on disk (with its WAL).");
  e.sample("fleetcast_store_size_bytes", {}, double(in.store_bytes));
  if (in.http != nullptr) {
    e.family("fleetcast_http_requests_total", "counter", "HTTP requests answered.");
    e.sample("fleetcast_http_requests_total", {}, double(in.http->requests.load()));
    e.family("fleetcast_http_malformed_requests_total", "counter",
             "HTTP requests refused as malformed (400).");
    e.sample("fleetcast_http_malformed_requests_total", {}, double(in.http->malformed.load()));
    e.family("fleetcast_http_timeouts_total", "counter",
             "HTTP connections closed because the request did not come in time.");
    e.sample("fleetcast_http_timeouts_total", {}, double(in.http->timeouts.load()));
    e.family("fleetcast_http_refused_total", "counter",
             "HTTP connections closed at once: too many open.");
    e.sample("fleetcast_http_refused_total", {}, double(in.http->refused.load()));
  }
  return e.take();
}

}  // namespace fleetcast::sender::web
