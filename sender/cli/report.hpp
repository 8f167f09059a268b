#pragma once
// What a session shows its operator: the live progress line, the per-host delivery table, the
// per-host FIN table (push), and the JSON report. Reads the session; changes nothing.

#include <filesystem>
#include <string>

#include "sender/delivery/session.hpp"
#include "sender/fleet/window.hpp"

namespace fleetcast::sender {

double seconds_between(Clock::time_point a, Clock::time_point b);

// One line, redrawn in place (\r): registered / completed / total, round, rate, ETA.
void print_progress(const SenderSession& s, Clock::time_point start, Clock::time_point now);
// Per host: status, when it registered and completed, NAKs, the digest it verified.
void print_table(const SenderSession& s, Clock::time_point start);
// push: per host, the apply result its FIN reported.
void print_fin_table(const SenderSession& s);
// "complete in 1.234s, 3 rounds, 1.124 wire bytes per file byte (...)".
void print_summary(const SenderSession& s, Clock::time_point start, Clock::time_point end);
// The session as JSON, written atomically to `path`.
void write_report(const std::filesystem::path& path, const std::string& file,
                  const std::string& name, const SenderSession& s, Clock::time_point start,
                  Clock::time_point end);

}  // namespace fleetcast::sender
