#include "sender/cli/report.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>

#include "protocol/io/file.hpp"
#include "protocol/text.hpp"

namespace fleetcast::sender {
namespace p = protocol;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void print_progress(const SenderSession& s, Clock::time_point start, Clock::time_point now) {
  const double t = seconds_between(start, now);
  const double mbit = t > 0 ? static_cast<double>(s.stats().wire_bytes) * 8 / t / 1e6 : 0;
  // ETA of the current round at the rate so far (repair rounds after it are short).
  const double left = static_cast<double>(s.bytes_in_round() -
                                          std::min(s.bytes_in_round(), s.bytes_sent_in_round()));
  const double eta = mbit > 0 ? left * 8 / (mbit * 1e6) : 0;
  // The rate and why it is what it is, padded: the line is redrawn in place.
  std::fprintf(stdout,
               "\r  registered %zu  completed %zu / %zu  round %u  %.1f Mbit/s  ETA %.1fs  "
               "elapsed %.1fs  rate %s (%s)%-20s",
               s.registered(), s.completed(), s.hosts().size(), s.stats().rounds, mbit, eta, t,
               format_rate(s.rate().rate()).c_str(), s.rate().reason().c_str(), "");
  std::fflush(stdout);
}

void print_fin_table(const SenderSession& s) {
  std::printf("\n%-20s %-12s %8s %-16s  %s\n", "host", "status", "version", "digest", "reason");
  for (const HostReport& h : s.hosts()) {
    std::string status = h.fin          ? std::string(p::to_string(h.fin_status))
                         : h.denied     ? "denied"
                         : h.completed  ? "no-fin"
                         : h.registered ? "incomplete"
                                        : "silent";
    std::string version = h.fin ? std::to_string(h.fin_version) : "-";
    std::string digest = h.fin ? p::text::hex(h.fin_digest).substr(0, 16) : "-";
    const std::string& reason = h.fin ? h.fin_message : h.deny_reason;
    std::printf("%-20s %-12s %8s %-16s  %s\n", h.host->name.c_str(), status.c_str(),
                version.c_str(), digest.c_str(), reason.c_str());
  }
}

void print_table(const SenderSession& s, Clock::time_point start) {
  std::printf("\n%-24s %-10s %11s %11s %6s  %s\n", "host", "status", "registered", "completed",
              "naks", "digest");
  for (const HostReport& h : s.hosts()) {
    const char* status = h.completed    ? "completed"
                         : h.denied     ? "denied"
                         : h.registered ? "incomplete"
                                        : "silent";
    char reg[32] = "-", done[32] = "-";
    if (h.registered)
      std::snprintf(reg, sizeof reg, "%.3fs", seconds_between(start, h.registered_at));
    if (h.completed)
      std::snprintf(done, sizeof done, "%.3fs", seconds_between(start, h.completed_at));
    std::printf("%-24s %-10s %11s %11s %6u  %s\n", h.host->name.c_str(), status, reg, done, h.naks,
                h.completed ? p::text::hex(h.digest).substr(0, 16).c_str() : h.deny_reason.c_str());
  }
}

void print_summary(const SenderSession& s, Clock::time_point start, Clock::time_point end) {
  const SessionStats& st = s.stats();
  std::printf(
      "%s in %.3fs, %u rounds, %.3f wire bytes per file byte (%llu source, %llu parity, %llu "
      "mixed, %llu auth, %llu roots packets), %llu feedback dropped\n",
      s.success() ? "complete" : "INCOMPLETE", seconds_between(start, end), st.rounds,
      static_cast<double>(st.wire_bytes) /
          static_cast<double>(std::max<std::uint64_t>(1, s.plan().object_size())),
      static_cast<unsigned long long>(st.data_packets),
      static_cast<unsigned long long>(st.parity_packets),
      static_cast<unsigned long long>(st.mixed_packets),
      static_cast<unsigned long long>(st.auth_packets),
      static_cast<unsigned long long>(st.roots_packets),
      static_cast<unsigned long long>(st.feedback_dropped));
  if (st.first_data != Clock::time_point{}) {
    std::printf("first data packet %.3fs after the start\n", seconds_between(start, st.first_data));
  }
  if (const auto& d = s.receipts().drops(); d.total() > 0) {
    std::printf("replies dropped, by reason: %s\n", d.text().c_str());
  }
  if (st.naks_to_relays > 0) {
    std::printf("%llu NAK(s) of hosts behind a relay passed to it, repaired on its LAN\n",
                static_cast<unsigned long long>(st.naks_to_relays));
  }
  const RateControl& r = s.rate();
  if (r.adaptive()) {
    std::printf(
        "rate: adaptive, %s at the end (%s to %s; %u decreases, %u undone; %u loss "
        "reports): %s\n",
        format_rate(r.rate()).c_str(), format_rate(r.stats().min_rate).c_str(),
        format_rate(r.stats().max_rate).c_str(), r.stats().decreases, r.stats().restores,
        r.stats().reports, r.reason().c_str());
  } else {
    std::printf("rate: fixed, %s\n", format_rate(r.rate()).c_str());
  }
}

namespace {

nlohmann::json feedback_json(const RoundFeedback& r) {
  return {{"naks", r.naks},
          {"completes", r.completes},
          {"loss_reports", r.loss_reports},
          {"lines", r.lines},
          {"dropped", r.dropped},
          {"plan_ms", r.plan_ms},
          {"plan_cpu_ms", r.plan_cpu_ms}};
}

}  // namespace

void write_report(const std::filesystem::path& path, const std::string& file,
                  const std::string& name, const SenderSession& s, Clock::time_point start,
                  Clock::time_point end) {
  nlohmann::json hosts = nlohmann::json::array();
  for (const HostReport& h : s.hosts()) {
    nlohmann::json j = {{"host", h.host->name},     {"registered", h.registered},
                        {"completed", h.completed}, {"denied", h.denied},
                        {"naks_sent", h.naks},      {"rounds", h.last_nak_round}};
    if (h.registered) j["registered_at_s"] = seconds_between(start, h.registered_at);
    if (h.completed) {
      j["completed_at_s"] = seconds_between(start, h.completed_at);
      j["verified_digest"] = p::text::hex(h.digest);
    }
    if (h.denied) j["deny_reason"] = h.deny_reason;
    if (h.fin) {
      j["fin"] = {{"status", p::to_string(h.fin_status)},
                  {"version", h.fin_version},
                  {"digest", p::text::hex(h.fin_digest)},
                  {"message", h.fin_message},
                  {"at_s", seconds_between(start, h.fin_at)}};
    }
    hosts.push_back(j);
  }
  const SessionStats& st = s.stats();
  nlohmann::json by_round = nlohmann::json::array();
  for (const RoundFeedback& r : st.by_round) by_round.push_back(feedback_json(r));
  nlohmann::json report = {
      {"file", file},
      {"name", name},
      {"size", s.plan().object_size()},
      {"digest", p::text::hex(s.digest())},
      {"success", s.success()},
      {"seconds", seconds_between(start, end)},
      {"rounds", st.rounds},
      {"data_packets", st.data_packets},
      {"parity_packets", st.parity_packets},
      {"mixed_packets", st.mixed_packets},
      {"auth_packets", st.auth_packets},
      {"roots_packets", st.roots_packets},
      {"first_data_s",
       st.first_data == Clock::time_point{} ? -1.0 : seconds_between(start, st.first_data)},
      {"wire_bytes", st.wire_bytes},
      {"wire_ratio", s.plan().object_size() ? static_cast<double>(st.wire_bytes) /
                                                  static_cast<double>(s.plan().object_size())
                                            : 0.0},
      {"feedback_dropped", st.feedback_dropped},
      {"feedback_by_round", by_round},
      {"feedback_fin_phase", feedback_json(st.fin_phase)},
      {"rate",
       {{"adaptive", s.rate().adaptive()},
        {"final_bytes_per_s", s.rate().rate()},
        {"min_bytes_per_s", s.rate().stats().min_rate},
        {"max_bytes_per_s", s.rate().stats().max_rate},
        {"decreases", s.rate().stats().decreases},
        {"restores", s.rate().stats().restores},
        {"loss_reports", s.rate().stats().reports},
        {"reason", s.rate().reason()}}},
      {"hosts", hosts}};
  // 0600: it holds every host's FIN text (script output, whatever a host reported).
  p::io::write_file_atomic(path, p::as_bytes(report.dump(2) + "\n"), 0600);
}

}  // namespace fleetcast::sender
