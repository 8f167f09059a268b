#include "sender/web/pages.hpp"

#include <algorithm>

#include "sender/lint/lint.hpp"
#include "sender/web/api.hpp"
#include "sender/web/html.hpp"

namespace fleetcast::sender::web {
namespace {

// The states a cell can have, in the legend's order.
constexpr const char* kCellStates[] = {"pending",     "held",   "activating", "applied",
                                       "rolled-back", "failed", "denied",     "silent"};

std::string ago(std::int64_t at, std::int64_t now) {
  if (at == 0) return "never";
  const std::int64_t s = std::max<std::int64_t>(0, now - at);
  if (s < 120) return std::to_string(s) + " s ago";
  if (s < 7200) return std::to_string(s / 60) + " min ago";
  if (s < 172800) return std::to_string(s / 3600) + " h ago";
  return std::to_string(s / 86400) + " days ago";
}

std::string time_tag(std::int64_t at, std::int64_t now) {
  if (at == 0) return "<span class=\"dim\">-</span>";
  return "<time datetime=\"" + escape(when(at)) + "\" title=\"" + escape(when(at)) + "\">" +
         escape(ago(at, now)) + "</time>";
}

std::string host_link(const std::string& host) {
  return "<a href=\"/hosts/" + escape(url_component(host)) + "\">" + escape(host) + "</a>";
}

std::string page(const std::string& title, bool live, const std::string& body,
                 const PageContext& c) {
  return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>" +
         escape(title) +
         " - fleetcast</title>"
         "<link rel=\"stylesheet\" href=\"/static/fleetcast.css\">"
         "<script src=\"/static/fleetcast.js\" defer></script></head><body>"
         "<header class=\"top\"><a class=\"brand\" href=\"/\">fleetcast</a>"
         "<span class=\"who\">manager " +
         escape(c.manager) +
         "</span>"
         "<span class=\"when\">updated " +
         escape(when(c.now)) +
         "</span></header>"
         "<main id=\"main\" data-live=\"" +
         (live ? "1" : "0") + "\">" + body + "</main></body></html>\n";
}

std::string cell(const HostCell& h) {
  std::string title = h.state + (h.status != h.state ? " (" + h.status + ")" : "");
  if (!h.reason.empty()) title += ": " + h.reason;
  if (!h.site.empty()) title += " [site " + h.site + "]";
  return "<a class=\"cell s-" + css_name(h.state) + "\" href=\"/hosts/" +
         escape(url_component(h.host)) + "\" title=\"" + escape(title) + "\">" + escape(h.host) +
         "</a>";
}

std::string legend(const RolloutModel& m) {
  std::string out = "<ul class=\"legend\">";
  for (const char* s : kCellStates) {
    const auto it = m.counts.find(s);
    const std::size_t n = it == m.counts.end() ? 0 : it->second;
    out += "<li class=\"cell s-" + std::string(s) + (n ? "" : " none") + "\">" + s + " <b>" +
           std::to_string(n) + "</b></li>";
  }
  return out + "</ul>";
}

std::string waves(const RolloutModel& m, const PageContext& c) {
  std::string out = "<div class=\"waves\">";
  for (const WaveModel& w : m.waves) {
    const char* phase = w.ended_at ? "done" : w.started_at ? "active" : "waiting";
    out += "<div class=\"wave w-" + std::string(phase) + "\"><div class=\"wave-head\">wave " +
           std::to_string(w.number) + " <span class=\"dim\">" + phase +
           (w.started_at ? ", started " + time_tag(w.started_at, c.now) : "") +
           (w.ended_at ? ", ended " + time_tag(w.ended_at, c.now) : "") +
           "</span></div><div class=\"cells\">";
    for (const HostCell& h : w.hosts) out += cell(h);
    out += "</div></div>";
  }
  if (!m.unplaced.empty()) {
    out += "<div class=\"wave\"><div class=\"wave-head\">not in a wave</div><div class=\"cells\">";
    for (const HostCell& h : m.unplaced) out += cell(h);
    out += "</div></div>";
  }
  return out + "</div>";
}

std::string attention(const RolloutModel& m, const PageContext& c) {
  std::string rows;
  const auto add = [&](const HostCell& h, const std::string& wave) {
    if (h.state != "failed" && h.state != "rolled-back" && h.state != "denied" &&
        h.state != "silent") {
      return;
    }
    rows += "<tr><td>" + host_link(h.host) + "</td><td>" + wave + "</td><td><span class=\"tag s-" +
            css_name(h.state) + "\">" + escape(h.state) + "</span></td><td>" +
            time_tag(h.at, c.now) + "</td><td class=\"reason\">" + escape(h.reason) + "</td></tr>";
  };
  for (const WaveModel& w : m.waves) {
    for (const HostCell& h : w.hosts) add(h, std::to_string(w.number));
  }
  for (const HostCell& h : m.unplaced) add(h, "-");
  if (rows.empty()) return "";
  return "<h3>Needs a look</h3><table class=\"list\" id=\"failures\"><thead><tr><th>host</th>"
         "<th>wave</th><th>state</th><th>when</th><th>reason</th></tr></thead><tbody>" +
         rows + "</tbody></table>";
}

std::string redundancy(const RolloutModel& m) {
  if (m.redundancy.empty() && m.notes.empty()) return "";
  std::string out =
      "<h3>Redundancy groups</h3><table class=\"list\"><thead><tr><th>host</th>"
      "<th>state</th><th>after</th><th>state</th><th>why</th></tr></thead><tbody>";
  for (const auto& b : m.redundancy) {
    out += "<tr><td>" + host_link(b.host) + "</td><td><span class=\"tag s-" +
           css_name(b.host_state) + "\">" + escape(b.host_state) + "</span></td><td>" +
           host_link(b.after) + "</td><td><span class=\"tag s-" + css_name(b.after_state) + "\">" +
           escape(b.after_state) + "</span></td><td>" + escape(b.why) + "</td></tr>";
  }
  out += "</tbody></table>";
  for (const auto& n : m.notes) out += "<p class=\"note\">" + escape(n) + "</p>";
  return out;
}

std::string rollout_section(const RolloutModel& m, const PageContext& c) {
  const RolloutView& v = m.view;
  std::string out =
      "<section id=\"rollout\"><h2>Rollout <a href=\"/rollouts/" + std::to_string(v.id) + "\">" +
      std::to_string(v.id) + "</a>: " + escape(v.bundle) + " version " + std::to_string(v.version) +
      " <span class=\"badge r-" + css_name(v.state) + "\">" + escape(v.state) + "</span></h2>";
  if (!v.reason.empty()) out += "<p class=\"reason\">" + escape(v.reason) + "</p>";
  out += "<p class=\"dim\">waves " + escape(v.waves_text) + " · max-fail " + escape(v.max_fail) +
         " · started " + time_tag(v.started_at, c.now) +
         (v.ended_at ? " · ended " + time_tag(v.ended_at, c.now) : "") +
         (v.request.empty() ? "" : " · " + escape(v.request) + " requested") +
         (v.forced() ? " · <b>FORCED</b> (redundancy rules or the DHCP lint overridden)" : "") +
         "</p>";
  out += legend(m) + waves(m, c) + attention(m, c) + redundancy(m);
  out += "<pre class=\"recap\">";
  for (const std::string& line : m.recap) out += escape(line) + "\n";
  return out + "</pre></section>";
}

std::string rollouts_table(const Overview& o, const PageContext& c) {
  std::string out = "<section id=\"rollouts\"><h2>Rollouts</h2>";
  if (o.rollouts.empty()) return out + "<p class=\"dim\">none yet</p></section>";
  out +=
      "<table class=\"list\"><thead><tr><th>#</th><th>bundle</th><th>version</th><th>state</th>"
      "<th>waves</th><th>started</th><th>ended</th><th>reason</th></tr></thead><tbody>";
  for (const RolloutSummary& r : o.rollouts) {
    out += "<tr><td><a href=\"/rollouts/" + std::to_string(r.id) + "\">" + std::to_string(r.id) +
           "</a></td><td>" + escape(r.bundle) + "</td><td>" + std::to_string(r.version) +
           "</td><td><span class=\"badge r-" + css_name(r.state) + "\">" + escape(r.state) +
           "</span></td><td>" + std::to_string(r.waves_started) + " of " +
           std::to_string(r.waves_planned) + "</td><td>" + time_tag(r.started_at, c.now) +
           "</td><td>" + time_tag(r.ended_at, c.now) + "</td><td class=\"reason\">" +
           escape(r.reason) + "</td></tr>";
  }
  return out + "</tbody></table></section>";
}

std::string runs(const FleetHost& h) {
  std::string out;
  for (const HostStatus& b : h.bundles) {
    out += "<div><b>" + escape(b.bundle) + "</b> " +
           (b.installed ? "v" + std::to_string(b.installed) : std::string("-")) +
           " <span class=\"tag s-" + css_name(b.status) + "\">" + escape(b.status) +
           (b.version ? " v" + std::to_string(b.version) : "") + "</span></div>";
  }
  return out.empty() ? "<span class=\"dim\">-</span>" : out;
}

std::string hosts_table(const Overview& o, const PageContext& c) {
  std::vector<const FleetHost*> hosts;
  for (const FleetHost& h : o.hosts) hosts.push_back(&h);
  const auto key = [](const FleetHost* h) {
    return std::make_tuple(h->site, h->groups.empty() ? std::string() : h->groups.front(), h->name);
  };
  std::sort(hosts.begin(), hosts.end(), [&](auto* a, auto* b) { return key(a) < key(b); });
  std::string out =
      "<section id=\"hosts\"><h2>Hosts by site and group</h2><table class=\"list\">"
      "<thead><tr><th>host</th><th>site</th><th>groups</th><th>runs</th>"
      "<th>last answer</th></tr></thead><tbody>";
  for (const FleetHost* h : hosts) {
    std::string groups;
    for (const auto& g : h->groups) groups += (groups.empty() ? "" : ", ") + escape(g);
    out += "<tr><td>" + host_link(h->name) + "</td><td>" +
           (h->site.empty() ? "<span class=\"dim\">this LAN</span>" : escape(h->site)) +
           "</td><td>" + groups + "</td><td>" + runs(*h) + "</td><td>" +
           time_tag(h->last_heard, c.now) + "</td></tr>";
  }
  return out + "</tbody></table></section>";
}

// "leases: 3 active (a, b)" from a FIN's text (the dhcp-server script's last line), and N.
std::pair<std::string, std::string> leases_of(const std::string& message) {
  const auto at = message.rfind("leases: ");
  if (at == std::string::npos) return {"", ""};
  const lint::ReportedRuns runs = lint::parse_lease_report(message);  // the lint's own reading
  const bool counted = runs.complete || runs.count > 0;
  return {message.substr(at), counted ? std::to_string(runs.count) : ""};
}

std::string pool_cell(const PoolUse& u) {
  std::string out = "<div class=\"pool p-" + css_name(u.level()) + "\">";
  if (u.active && u.addresses) {
    const std::uint64_t pct = *u.active * 100 / u.addresses;
    const std::string max = std::to_string(u.addresses);
    out += "<meter min=\"0\" max=\"" + max + "\" low=\"" + std::to_string(u.addresses * 8 / 10) +
           "\" high=\"" + std::to_string(u.addresses * 9 / 10) + "\" optimum=\"0\" value=\"" +
           std::to_string(*u.active) + "\">" + std::to_string(pct) + " %</meter> <b>" +
           std::to_string(*u.active) + " of " + max + "</b> (" + std::to_string(pct) + " %) ";
  } else {
    out += "<b>? of " + std::to_string(u.addresses) + "</b> ";
  }
  out += "<code>" + escape(u.range) + "</code>";
  if (u.retired) out += " <span class=\"dim\">retired</span>";
  if (u.level() == "warning" || u.level() == "critical") {
    out += " <span class=\"tag lvl-" + css_name(u.level()) + "\">" + escape(u.level()) + "</span>";
  }
  return out + "</div>";
}

std::string dhcp_table(const Overview& o, const PageContext& c) {
  std::string rows;
  for (const FleetHost& h : o.hosts) {
    const auto [text, active] = leases_of(h.leases);
    if (text.empty() && h.pools.empty()) continue;
    std::string pools;
    for (const PoolUse& u : h.pools) pools += pool_cell(u);
    if (pools.empty())
      pools = "<span class=\"dim\">not known (no linted configuration sent)</span>";
    if (!h.pools.empty() && !h.pools.front().active.has_value() && !text.empty()) {
      pools +=
          "<div class=\"dim\">the FIN listed only some of its leases: " + escape(text) + "</div>";
    }
    std::string lint;
    for (const auto& l : h.lint) lint += "<div class=\"reason\">" + escape(l) + "</div>";
    rows += "<tr><td>" + host_link(h.name) + "</td><td class=\"num\">" + escape(active) +
            "</td><td>" + pools + "</td><td>" + lint + "</td><td>" + time_tag(h.last_heard, c.now) +
            "</td></tr>";
  }
  if (rows.empty()) return "";
  return "<section id=\"dhcp\"><h2>DHCP servers</h2><p class=\"dim\">Each pool of the "
         "configuration last sent, and the active leases the server's newest FIN reported in it; "
         "80 % warns, 90 % is critical (Stork's thresholds).</p><table class=\"list\"><thead><tr>"
         "<th>server</th><th>active</th><th>pools</th><th>lint</th><th>last answer</th></tr>"
         "</thead><tbody>" +
         rows + "</tbody></table></section>";
}

}  // namespace

std::string overview_html(const Overview& o, const PageContext& c) {
  std::string body;
  if (o.focus) {
    body += rollout_section(*o.focus, c);
  } else {
    body += "<section id=\"rollout\"><h2>No rollout yet</h2></section>";
  }
  body += rollouts_table(o, c) + hosts_table(o, c) + dhcp_table(o, c);
  return page("fleet", o.focus && o.focus->live(), body, c);
}

std::string rollout_html(const RolloutModel& m, const PageContext& c) {
  return page("rollout " + std::to_string(m.view.id), m.live(), rollout_section(m, c), c);
}

std::string host_html(const HostPage& h, const PageContext& c) {
  std::string groups;
  for (const auto& g : h.groups) groups += (groups.empty() ? "" : ", ") + escape(g);
  std::string body = "<section id=\"host\"><h2>Host " + escape(h.name) + "</h2><p class=\"dim\">" +
                     (groups.empty() ? "no group" : "groups " + groups) + " · last answer " +
                     time_tag(h.last_heard, c.now) + "</p>";
  body +=
      "<table class=\"list\" id=\"sessions\"><thead><tr><th>started</th><th>bundle</th>"
      "<th>version</th><th>result</th><th>reason</th><th>digest</th></tr></thead><tbody>";
  for (const Store::HostSession& s : h.sessions) {
    body += "<tr><td>" + time_tag(s.record.started_at, c.now) + "</td><td>" +
            escape(s.record.bundle.empty() ? s.record.file_name : s.record.bundle) + "</td><td>" +
            std::to_string(s.record.version) + "</td><td><span class=\"tag s-" +
            css_name(s.result.status) + "\">" + escape(s.result.status) +
            "</span></td><td class=\"reason\">" + escape(s.result.message) +
            "</td><td><code title=\"" + escape(s.record.digest) + "\">" +
            escape(s.record.digest.substr(0, 16)) + "</code></td></tr>";
  }
  body +=
      "</tbody></table><h3>Signed receipts</h3><p>Every reply below is stored as the host "
      "signed it. Verify them all again, each with the key its host had then: <code>"
      "fleetcast-sender receipts verify --state " +
      escape(c.state_dir) + "</code> (the same lines, with the host key, at <a href=\"/api/hosts/" +
      escape(url_component(h.name)) + "\">/api/hosts/" + escape(h.name) + "</a>).</p>";
  for (const Store::HostSession& s : h.sessions) {
    // The newest session's replies open, the older ones folded.
    body += std::string(&s == &h.sessions.front() ? "<details open>" : "<details>") + "<summary>" +
            escape(s.record.bundle.empty() ? s.record.file_name : s.record.bundle) + " version " +
            std::to_string(s.record.version) + ", " + escape(when(s.record.started_at)) + " (" +
            std::to_string(s.receipts.size()) + " replies)</summary><table class=\"list\">";
    for (const StoredReceipt& r : s.receipts) {
      body += "<tr><td>" + escape(r.verb) + "</td><td>" + escape(when(r.at)) +
              "</td><td><code class=\"line\">" + escape(r.line) + "</code></td></tr>";
    }
    body += "</table></details>";
  }
  return page("host " + h.name, false, body + "</section>", c);
}

std::string not_found_html(const std::string& what, const PageContext& c) {
  return page("not found", false,
              "<section><h2>Not found</h2><p>" + escape(what) +
                  "</p><p><a href=\"/\">the fleet</a></p></section>",
              c);
}

}  // namespace fleetcast::sender::web
