#include "receiver/agent.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "protocol/bundle/crypt.hpp"
#include "protocol/fleet_key.hpp"
#include "protocol/io/file.hpp"
#include "protocol/verify.hpp"

namespace fleetcast::receiver {
namespace p = protocol;
namespace {

constexpr auto kCompleteRepeat = 300ms;  // COMPLETE is repeated until acknowledged ...
constexpr auto kCompleteGiveUp = 60s;    // ... for at most this long
constexpr auto kRecvRepeat = 1s;         // at most one RECV per second per session
// FIN: sent when the apply ends, again after 1 s and 3 s (no ACK exists for FIN: the manager
// asks with STATUS for what it misses), and on every STATUS for its session.
constexpr Clock::duration kFinRepeats[] = {1s, 2s};
// A NAK takes at most this many packets: 4 x 186 runs. After round 0 nearly every block is its
// own run, so this describes the first ~750 blocks (~135 MB at the defaults) and the manager
// plans their repair together; blocks past them are asked for in later rounds. It bounds the
// feedback of 1,000 hosts to 4,000 packets per NAK window.
constexpr std::size_t kMaxNakPackets = 4;

}  // namespace

Agent::Agent(AgentConfig config, p::SecretKey key, Log log, std::uint64_t seed,
             Clock::time_point now)
    : config_(std::move(config)),
      key_(std::move(key)),
      manager_id_(p::key_id(config_.manager)),
      mac_key_(p::feedback_mac_key(key_, config_.manager)),
      wrap_key_(p::fleet_wrap_key(key_, config_.manager)),
      log_(std::move(log)),
      rng_(seed) {
  {
    std::ifstream in(fleet_key_path());
    std::string hex;
    p::MacKey k;
    if (in >> hex && p::text::unhex(hex, k.bytes)) fleet_ = k;
  }
  std::ifstream in(update_path());
  const std::string line((std::istreambuf_iterator<char>(in)), {});
  if (auto u = verified_update(line)) {
    log_(log::info("FC2111", "resuming")
             .with("bundle", u->name)
             .with("from", update_path().string()));
    budget_.pin(u->reply.address);
    on_update(*u, now);
  }
}

std::filesystem::path Agent::fleet_key_path() const {
  return config_.state / ("fleet-" + p::text::hex64(manager_id_.value) + ".key");
}

void Agent::on_keys(std::string_view line) {
  if (!wrap_key_) return;
  const auto k = p::open_keys_line(line, manager_id_, key_.key_id(), *wrap_key_);
  if (!k || (fleet_ && fleet_->bytes == k->bytes)) return;  // not for us, forged, or known
  fleet_ = k;
  try {
    p::io::write_file_atomic(fleet_key_path(), p::as_bytes(p::text::hex(k->bytes) + "\n"), 0600);
  } catch (const std::exception& e) {
    log_(log::warning("FC2131", "fleet-key-not-kept").with("reason", e.what()));
  }
  // From now on lines and packets without its MAC are dropped unverified.
  log_(log::info("FC2130", "fleet-key-learned"));
}

const p::PublicKey* Agent::manager_key(p::KeyId id) const {
  return id == manager_id_ ? &config_.manager : nullptr;
}

std::optional<p::Update> Agent::verified_update(std::string_view line) const {
  auto parsed = p::verified_command(line, [this](p::KeyId id) { return manager_key(id); });
  if (!parsed) return std::nullopt;
  const auto* u = std::get_if<p::Update>(&parsed->command);
  return u ? std::optional<p::Update>(*u) : std::nullopt;
}

Clock::duration Agent::uniform(Clock::duration max) {
  if (max <= Clock::duration::zero()) return Clock::duration::zero();
  std::uniform_int_distribution<Clock::rep> d(0, max.count() - 1);
  return Clock::duration(d(rng_));
}

std::optional<p::Endpoint> Agent::data_group() const {
  if (!update_ || !assembler_ || assembler_->finalized()) return std::nullopt;
  return update_->data;
}

void Agent::checkpoint() {
  if (assembler_) assembler_->checkpoint();
}

std::optional<std::string> Agent::refuse_reason(const p::Update& u) const {
  if (!config_.kinds.empty() &&
      std::find(config_.kinds.begin(), config_.kinds.end(), u.kind) == config_.kinds.end()) {
    return "kind " + u.kind + " is not allowed on this host";
  }
  if (u.size > config_.max_size) {
    return "size " + std::to_string(u.size) + " exceeds this host's limit of " +
           std::to_string(config_.max_size);
  }
  return std::nullopt;
}

// --- input ----------------------------------------------------------------------------------

bool Agent::signed_by_manager(std::span<const std::uint8_t> bytes, const p::Endpoint& from,
                              Clock::time_point now, const std::function<bool()>& verify) {
  const protocol::LineHash h = protocol::VerifyBudget::hash(bytes);
  if (budget_.known(h)) return true;  // these bytes verified before
  if (!budget_.admit(from, now)) {
    ++counters_.refused;  // over the verification budget: dropped unverified
    return false;
  }
  ++counters_.verifications;
  if (!verify()) {
    budget_.failed(from, now);
    return false;
  }
  budget_.verified(h);
  return true;
}

bool Agent::names_this_host(const p::Command& c) const {
  return std::visit(
      [&](const auto& x) {
        if constexpr (requires { x.targets; }) {
          return x.targets.includes(config_.host_name, config_.groups);
        } else {
          return true;
        }
      },
      c);
}

bool Agent::admissible(const p::SignedCommand& c, const p::Stamp& s, std::string_view line,
                       const p::Endpoint& from, Clock::time_point now) {
  if (!fresh(s.verb, s.name, s.time)) {
    if (const auto* u = std::get_if<p::Update>(&c.command)) deny_stale(c, *u, line, from, now);
    return false;
  }
  // An older announcement of another session while a newer one runs, or a line older than the
  // newest of its kind in its session: a replay.
  const auto* u = std::get_if<p::Update>(&c.command);
  const bool older_session =
      u && update_ && update_->session != u->session && u->time < session_time_;
  if (!older_session && !freshness_.older(s)) return true;
  ++counters_.replays;
  if (replay_logged_ != s.session) {
    replay_logged_ = s.session;
    log_(log::warning("FC2133", "replay-ignored")
             .with("command", s.verb)
             .with("bundle", s.name)
             .with("session", p::text::hex64(s.session.value))
             .with("announced", s.time)
             .with("current", update_ ? p::text::hex64(update_->session.value) : "")
             .with("current_announced", session_time_));
  }
  return false;
}

// Tell the manager once per session why this host does not join (its clock may be the one that
// is off), without leaving the session being received: at most one DENY a second, and only for
// an announcement that verifies (a keyless host cannot make this host sign for it).
void Agent::deny_stale(const p::SignedCommand& c, const p::Update& u, std::string_view line,
                       const p::Endpoint& from, Clock::time_point now) {
  if (now < next_clock_deny_ ||
      std::find(clock_denied_.begin(), clock_denied_.end(), u.session) != clock_denied_.end()) {
    return;
  }
  if (!signed_by_manager(p::as_bytes(line), from, now,
                         [&] { return p::verify_command(c, config_.manager); })) {
    return;
  }
  next_clock_deny_ = now + kClockDenyEvery;
  clock_denied_.push_back(u.session);
  if (clock_denied_.size() > kClockDeniedKept) clock_denied_.pop_front();
  const std::uint64_t wall = config_.wall_clock();
  clock_deny_ = {
      p::Deny{u.name, config_.host_name,
              "clock: the announcement's time " + std::to_string(u.time) + " is more than " +
                  std::to_string(config_.max_clock_skew) + " s from this host's clock " +
                  std::to_string(wall) + " (a replay, or NTP is off on one side)",
              u.session},
      u.reply};
}

void Agent::on_ctrl(std::span<const std::uint8_t> bytes, Clock::time_point now,
                    const p::Endpoint& from) {
  const std::string_view raw(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (p::is_keys_line(raw)) return on_keys(raw);
  const p::MacedLine maced = p::split_line_mac(raw);
  const std::string_view line = maced.signed_line;
  auto parsed = p::parse_command(line);
  // Malformed, or another manager's: dropped before any verification.
  if (!parsed || parsed->signer != manager_id_) {
    ++counters_.ctrl_dropped;
    return;
  }
  // With the fleet key, a line without its MAC is dropped for one keyed hash, whatever its
  // source address says.
  if (fleet_ && !p::line_mac_ok(maced, *fleet_)) {
    ++counters_.mac_dropped;
    return;
  }
  // Only then the signature: lines for other hosts, stale lines and replays cost no more than
  // the parse (and the MAC).
  const auto stamp = p::stamp_of(parsed->command);
  if (!stamp) {
    ++counters_.ctrl_dropped;  // a host's verb naming the manager's key
    return;
  }
  if (!names_this_host(parsed->command)) return;  // others asked: silent
  if (!admissible(parsed.value(), *stamp, line, from, now)) return;
  if (!signed_by_manager(p::as_bytes(line), from, now,
                         [&] { return p::verify_command(parsed.value(), config_.manager); })) {
    ++counters_.ctrl_dropped;
    return;
  }
  freshness_.seen(*stamp);
  if (const auto* u = std::get_if<p::Update>(&parsed->command)) {
    // The manager's address, from what it signed (not from who sent it): its own budget.
    budget_.pin(u->reply.address);
    const bool is_new = !update_ || update_->session != u->session;
    on_update(*u, now);
    if (is_new && assembler_ && !assembler_->finalized() && update_ &&
        update_->session == u->session) {
      // Keep the signed announcement for a restart (verified again on load). Not for a file
      // held already: a restart would queue its apply again.
      try {
        p::io::write_file_atomic(update_path(), p::as_bytes(line), 0600);
      } catch (const std::exception& e) {
        log_(log::warning("FC2112", "announcement-not-kept")
                 .with("bundle", u->name)
                 .with("reason", e.what()));
      }
    }
  } else if (const auto* a = std::get_if<p::Abort>(&parsed->command)) {
    on_abort(*a);
  } else if (const auto* act = std::get_if<p::Activate>(&parsed->command)) {
    if (freshness_.act(*stamp)) on_activate(*act);  // once per manager second
  } else if (const auto* st = std::get_if<p::StatusRequest>(&parsed->command)) {
    if (freshness_.act(*stamp)) on_status(*st, now);  // once per manager second
  }
}

// A finalized session is never reset: the bundle is held, and resetting would let a replayed
// announcement of the session queue its apply again.
void Agent::on_abort(const p::Abort& a) {
  if (!update_ || a.session != update_->session || (assembler_ && assembler_->finalized())) {
    return;
  }
  // The partial data is kept for a resume.
  log_(log::notice("FC2113", "aborted").with("bundle", a.name).with("reason", a.reason));
  checkpoint();
  std::error_code ec;
  std::filesystem::remove(update_path(), ec);
  freshness_.close_announcements(a.session, a.time);  // its announcements are over
  assembler_.reset();
  update_.reset();
  recv_at_ = nak_at_ = complete_at_ = Clock::time_point::max();
}

void Agent::on_status(const p::StatusRequest& s, Clock::time_point now) {
  for (FinOut& f : fins_) {
    if (f.fin.session == s.session) f.next = std::min(f.next, now + uniform(config_.reply_spread));
  }
  if (update_ && s.session == update_->session) {
    recv_at_ = std::min(recv_at_, now + uniform(config_.reply_spread));
    // COMPLETE again only while the manager has not acknowledged it (a STATUS after the ACK
    // must not arm a timer that tick() never clears: that was a busy loop).
    if (assembler_ && assembler_->finalized() && !acked_) {
      complete_at_ = std::min(complete_at_, recv_at_);
    }
  }
}

void Agent::on_update(const p::Update& u, Clock::time_point now) {
  if (!u.targets.includes(config_.host_name, config_.groups)) return;  // not for us: silent
  if (update_ && update_->session == u.session) {
    session_time_ = std::max(session_time_, u.time);
    // Re-announcement: the manager may not have our RECV yet.
    if (recv_at_ == Clock::time_point::max() &&
        !(assembler_ && assembler_->finalized() && acked_)) {
      recv_at_ = now + kRecvRepeat + uniform(config_.reply_spread);
    }
    return;
  }
  if (denied_session_ == u.session) return;
  if (auto reason = refuse_reason(u)) {
    log_(log::notice("FC2120", "refused").with("bundle", u.name).with("reason", *reason));
    deny_ = p::Deny{u.name, config_.host_name, *reason, u.session};
    denied_session_ = u.session;
    update_ = u;  // for the reply address
    session_time_ = u.time;
    assembler_.reset();
    recv_at_ = now + uniform(config_.reply_spread);
    return;
  }
  checkpoint();
  try {
    assembler_ = std::make_unique<Assembler>(u, config_.spool, config_.state);
  } catch (const std::exception& e) {
    log_(log::error("FC2114", "receive-failed").with("bundle", u.name).with("reason", e.what()));
    deny_ = p::Deny{u.name, config_.host_name, e.what(), u.session};
    denied_session_ = u.session;
    update_ = u;
    session_time_ = u.time;
    recv_at_ = now + uniform(config_.reply_spread);
    return;
  }
  deny_.reset();
  update_ = u;
  session_time_ = u.time;
  nak_round_ = 0;
  envelope_checked_ = false;
  acked_ = false;
  round_packets_ = 0;
  probe_ = 0;
  report_.reset();
  nak_at_ = complete_at_ = report_at_ = Clock::time_point::max();
  last_data_ = now;
  recv_at_ = now + uniform(config_.reply_spread);
  log_(log::info("FC2110", "receiving")
           .with("bundle", u.name)
           .with("version", u.version)
           .with("bytes", u.size)
           .with("blocks_held", assembler_->complete_blocks()));
  if (assembler_->finalized()) {
    // Held already (a re-push of the same bundle): nothing to receive, but the manager still
    // wants this session's FIN; the applier reports "already applied" or finishes the apply.
    complete_at_ = recv_at_;
    complete_deadline_ = now + kCompleteGiveUp;
    queue_apply();
  }
}

// A signed ACTIVATE for this host: apply the bundle it names from the spool, if this host holds
// it for that session (the applier checks, and applies it at most once).
bool Agent::fresh(std::string_view verb, std::string_view name, std::uint64_t time) {
  const std::uint64_t wall = config_.wall_clock();
  const std::uint64_t skew = wall > time ? wall - time : time - wall;
  if (skew <= config_.max_clock_skew) return true;
  ++counters_.stale;
  // One line per kind of command and name would do; a flood of replays is counted, and logged
  // once every 64 times.
  if (counters_.stale % 64 == 1) {
    // A replay, or a clock that is off.
    log_(log::warning("FC2132", "stale-command")
             .with("command", verb)
             .with("bundle", name)
             .with("skew_s", skew)
             .with("clock", time < wall ? "behind" : "ahead")
             .with("window_s", config_.max_clock_skew)
             .with("stale_total", counters_.stale));
  }
  return false;
}

void Agent::on_activate(const p::Activate& a) {
  if (apply_job_) return;  // one queued at a time; the manager repeats ACTIVATE
  ApplyJob job;
  job.bundle = config_.spool / a.name;
  job.file_name = a.name;
  job.digest = a.digest;
  job.session = p::text::hex64(a.session.value);
  job.announced_version = a.version;
  job.activation = true;
  apply_job_ = std::move(job);
}

bool Agent::check_envelope(Clock::time_point now) {
  // The recipient table: first as much as 744 recipients take, then as much as the most can.
  constexpr std::size_t kMostHead = p::bundle::kCryptMagic.size() + 4 +
                                    p::bundle::kMaxRecipients * (8 + p::bundle::kSealedKeyBytes);
  std::optional<std::vector<p::KeyId>> readers;
  for (const std::size_t want : {std::size_t{64} << 10, kMostHead}) {
    const auto head = assembler_->received_prefix(want);
    if (head.size() < p::bundle::kCryptMagic.size()) return true;  // not enough yet
    if (!p::bundle::is_encrypted(head)) {
      envelope_checked_ = true;
      return true;
    }
    readers = p::bundle::recipients(head);
    if (readers) break;
    if (head.size() < want) return true;  // the table is longer than what arrived so far
  }
  if (!readers) return true;
  envelope_checked_ = true;
  if (std::find(readers->begin(), readers->end(), key_.key_id()) != readers->end()) return true;
  const std::string reason = "encrypted for " + std::to_string(readers->size()) +
                             " other key(s), not for this host (key ID " +
                             p::text::hex64(key_.key_id().value) + ")";
  log_(log::notice("FC2120", "refused").with("bundle", update_->name).with("reason", reason));
  deny_ = p::Deny{update_->name, config_.host_name, reason, update_->session};
  denied_session_ = update_->session;
  assembler_.reset();  // the ciphertext received so far stays a .part (retention removes it)
  nak_at_ = complete_at_ = Clock::time_point::max();
  recv_at_ = now + uniform(config_.reply_spread);
  return false;
}

void Agent::queue_apply() {
  if (update_->apply == p::ApplyMode::none) return;
  ApplyJob job;
  job.bundle = assembler_->final_path();
  job.file_name = update_->name;
  job.digest = update_->digest;
  job.session = p::text::hex64(update_->session.value);
  job.reply = p::text::format_endpoint(update_->reply);
  job.mode = update_->apply;
  job.announced_version = update_->version;
  job.announced_kind = update_->kind;
  apply_job_ = std::move(job);
}

void Agent::on_data(std::span<const std::uint8_t> bytes, Clock::time_point now,
                    const p::Endpoint& from) {
  auto parsed = p::parse_data_packet(bytes);
  if (!parsed || !update_ || !assembler_) {
    ++counters_.data_dropped;
    return;
  }
  const auto* symbol = std::get_if<p::SymbolPacket>(&parsed.value());
  const auto* mixed = std::get_if<p::MixedPacket>(&parsed.value());
  const auto* auth = std::get_if<p::AuthPacket>(&parsed.value());
  if (symbol != nullptr || mixed != nullptr || auth != nullptr) {
    const std::uint16_t file_id = symbol ? symbol->file_id : mixed ? mixed->file_id : auth->file_id;
    const std::uint32_t sequence = symbol  ? symbol->sequence
                                   : mixed ? mixed->sequence
                                           : auth->sequence;
    if (file_id != update_->file_id || assembler_->finalized()) {
      ++counters_.data_dropped;
      return;
    }
    const auto result = symbol  ? assembler_->on_symbol(*symbol)
                        : mixed ? assembler_->on_mixed(*mixed)
                                : assembler_->on_auth(*auth);
    if (result == Assembler::Result::invalid || result == Assembler::Result::forged) {
      ++counters_.data_dropped;  // forged: not counted as the session's traffic either
      return;
    }
    if (!envelope_checked_ && result == Assembler::Result::stored && !check_envelope(now)) return;
    last_data_ = now;
    ++probe_packets_;
    if (round_packets_++ == 0) round_first_seq_ = sequence;
    if (assembler_->all_blocks()) {
      if (auto error = assembler_->finalize()) {
        log_(log::error("FC2115", "verify-failed")
                 .with("bundle", update_->name)
                 .with("reason", *error));
      } else {
        // The whole file's digest verified.
        log_(log::info("FC2116", "complete")
                 .with("bundle", update_->name)
                 .with("stored", assembler_->final_path().string()));
        queue_apply();
        ++counters_.sessions_completed;
        std::error_code ec;
        std::filesystem::remove(update_path(), ec);  // nothing left to resume
        round_packets_ = 0;
        nak_at_ = Clock::time_point::max();
        complete_at_ = now + uniform(config_.reply_spread);
        complete_deadline_ = now + kCompleteGiveUp;
      }
    }
    return;
  }
  const auto& fb = std::get<p::SignedFeedback>(parsed.value());
  if (fb.session == update_->session && fb.signer == manager_id_ && fleet_ &&
      !p::check_mac(fb, *fleet_)) {
    ++counters_.mac_dropped;
    return;
  }
  if (fb.session != update_->session || fb.signer != manager_id_ || !wanted(fb.feedback) ||
      !signed_by_manager(bytes, from, now,
                         [&] { return p::verify_feedback(fb, config_.manager); })) {
    ++counters_.data_dropped;
    return;
  }
  if (const auto* r = std::get_if<p::Round>(&fb.feedback)) {
    // Rounds only go forward: a ROUND replayed within the session schedules nothing.
    if (!assembler_->finalized() && r->round > nak_round_) {
      nak_round_ = r->round;
      round_end_seq_ = r->next_sequence;
      nak_at_ = now + uniform(std::chrono::milliseconds(r->nak_window_ms));
    }
  } else if (const auto* probe = std::get_if<p::Probe>(&fb.feedback)) {
    on_probe(*probe, now);
  } else if (const auto* m = std::get_if<p::MixedTable>(&fb.feedback)) {
    if (m->file_id == update_->file_id) assembler_->allow_mixed(m->round, m->hashes);
  } else if (const auto* a = std::get_if<p::CompleteAck>(&fb.feedback)) {
    if (std::find(a->hosts.begin(), a->hosts.end(), key_.key_id()) != a->hosts.end()) {
      acked_ = true;
      complete_at_ = Clock::time_point::max();
    }
  }
}

// Feedback that would change nothing (a replayed or late ROUND, PROBE or ACK): dropped before
// its signature is checked.
bool Agent::wanted(const p::Feedback& f) const {
  if (const auto* r = std::get_if<p::Round>(&f)) {
    return !assembler_->finalized() && r->round > nak_round_;
  }
  if (const auto* probe = std::get_if<p::Probe>(&f)) {
    return !assembler_->finalized() && probe->probe > probe_;
  }
  if (std::holds_alternative<p::CompleteAck>(f)) return !acked_;
  return true;
}

// The loss since the previous probe: from sequence numbers, as the manager counts its packets.
// Probes only go forward (a replayed one changes nothing); the first one this process sees
// only starts the count.
void Agent::on_probe(const p::Probe& probe, Clock::time_point now) {
  if (probe.file_id != update_->file_id || assembler_->finalized() || probe.probe <= probe_) {
    return;
  }
  const std::uint32_t expected = probe.next_sequence - probe_seq_;
  if (probe_ != 0 && expected > 0 && expected < (1u << 31)) {
    const auto received =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(probe_packets_, expected));
    const auto loss = static_cast<std::uint16_t>(p::kLossScale - std::uint64_t{received} *
                                                                     p::kLossScale / expected);
    if (loss >= probe.threshold || backlog_ >= p::kBacklogReport ||
        probe.limiting == key_.key_id()) {
      report_ = p::LossReport{
          update_->file_id, probe.probe, probe.next_sequence, loss, expected, received,
          probe_,           backlog_};
      report_->elapsed_ms = static_cast<std::uint32_t>(std::clamp<std::int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(now - probe_read_).count(), 0,
          UINT32_MAX));
      report_at_ = now + uniform(std::chrono::milliseconds(probe.report_window_ms));
    }
  }
  probe_ = probe.probe;
  probe_seq_ = probe.next_sequence;
  probe_packets_ = 0;
  probe_read_ = now;
}

// --- output ---------------------------------------------------------------------------------

bool Agent::send_line(const p::Command& c, p::Transport& t, const p::Endpoint* to) {
  if (!mac_key_) return false;  // the manager's key is not a valid curve point: it cannot check us
  auto line = p::encode_maced_command(c, key_, *mac_key_);
  if (!line) return false;
  const p::Datagram d{p::as_bytes(line.value()), to ? *to : update_->reply};
  (void)t.send(std::span(&d, 1));  // a lost reply is repeated by the protocol
  return true;
}

void Agent::send_feedback(const p::Feedback& f, p::Transport& t) {
  std::array<std::uint8_t, p::kMaxControlDatagram> buf{};
  if (!mac_key_) return;
  auto n = p::encode_feedback(f, update_->session, key_, buf, *mac_key_);
  if (!n) return;
  const p::Datagram d{std::span(buf.data(), n.value()), update_->reply};
  (void)t.send(std::span(&d, 1));
}

void Agent::tick(Clock::time_point now, p::Transport& t) {
  send_fins(now, t);
  if (clock_deny_) {
    (void)send_line(clock_deny_->first, t, &clock_deny_->second);
    clock_deny_.reset();
  }
  if (!update_) return;
  if (now >= recv_at_) {
    recv_at_ = Clock::time_point::max();
    if (deny_) {
      if (!send_line(*deny_, t)) {
        log_(log::warning("FC2121", "deny-not-sent")
                 .with("bundle", deny_->name)
                 .with("reason", deny_->reason));
      }
    } else if (assembler_) {
      (void)send_line(p::Recv{update_->name, config_.host_name, update_->session,
                              assembler_->complete_blocks()},
                      t);
    }
  }
  if (!assembler_) return;
  if (now >= report_at_) {
    report_at_ = Clock::time_point::max();
    if (report_) {
      send_feedback(*report_, t);
      ++counters_.loss_reports_sent;
    }
    report_.reset();
  }
  const bool receiving = !assembler_->finalized();
  if (receiving && nak_at_ == Clock::time_point::max() &&
      now - last_data_ >= config_.idle_nak_after) {
    nak_at_ = now;  // no round marker reached us: ask anyway
    last_data_ = now;
  }
  if (receiving && now >= nak_at_) {
    nak_at_ = Clock::time_point::max();
    const auto entries = assembler_->missing(kMaxNakPackets * p::kMaxNakEntries);
    auto chunks = assembler_->missing_chunks(p::kMaxNakChunkRequests);
    if (!entries.empty() || !chunks.empty()) {
      // Loss while listening: packets missed between the first one this process saw in the
      // session and the end of the last round (cumulative, so small repair rounds do not make
      // it noisy; an outage before the first packet is not counted).
      std::uint16_t loss = 0;
      const std::uint32_t span = round_end_seq_ - round_first_seq_;
      if (round_packets_ > 0 && span >= round_packets_ && span < (1u << 31)) {
        loss = static_cast<std::uint16_t>(p::kLossScale - round_packets_ * p::kLossScale / span);
      }
      // One NAK, in as many packets as its entries need (ascending: the manager joins them).
      for (std::size_t i = 0; i < entries.size(); i += p::kMaxNakEntries) {
        const auto part =
            std::span(entries).subspan(i, std::min(p::kMaxNakEntries, entries.size() - i));
        send_feedback(p::Nak{update_->file_id,
                             assembler_->complete_prefix(),
                             nak_round_,
                             {part.begin(), part.end()},
                             loss},
                      t);
        ++counters_.naks_sent;
      }
      // AUTH chunks that symbols kept aside wait for: one more packet of the same NAK.
      if (!chunks.empty()) {
        p::Nak ask{update_->file_id, assembler_->complete_prefix(), nak_round_, {}, loss};
        ask.chunk_requests = std::move(chunks);
        send_feedback(ask, t);
        ++counters_.naks_sent;
      }
    }
  }
  if (!receiving && !acked_ && now >= complete_at_) {
    send_feedback(p::Complete{update_->file_id, update_->digest}, t);
    complete_at_ = now >= complete_deadline_ ? Clock::time_point::max()
                                             : now + kCompleteRepeat + uniform(kCompleteRepeat);
  }
  if (now >= next_checkpoint_) {
    if (assembler_) assembler_->checkpoint_async();  // off the receive loop
    next_checkpoint_ = now + config_.checkpoint_every;
  }
}

std::optional<ApplyJob> Agent::take_apply_job() {
  auto job = std::move(apply_job_);
  apply_job_.reset();
  return job;
}

void Agent::remember_result(const ApplyOutcome& o) {
  keep_fin(o, Clock::time_point::max(), static_cast<int>(std::size(kFinRepeats)));
}

void Agent::on_applied(const ApplyOutcome& o, Clock::time_point now) {
  keep_fin(o, now + uniform(config_.reply_spread), 0);
}

void Agent::keep_fin(const ApplyOutcome& o, Clock::time_point first, int repeats) {
  const ApplyRecord& r = o.record;
  p::Fin fin;
  fin.name = r.file_name;
  fin.host = config_.host_name;
  fin.message = o.message;
  fin.status = o.status;
  fin.version = r.version;
  auto reply = p::text::parse_endpoint(r.reply, "reply");
  if (!p::text::unhex64(r.session, fin.session.value) || !reply ||
      !p::text::unhex(r.digest, fin.digest)) {
    return;  // a local apply: nobody to tell
  }
  std::erase_if(fins_, [&](const FinOut& f) { return f.fin.session == fin.session; });
  if (fins_.size() == kMaxFins) fins_.erase(fins_.begin());
  fins_.push_back(FinOut{std::move(fin), reply.value(), first, repeats});
}

std::size_t Agent::fins_pending() const {
  return static_cast<std::size_t>(
      std::count_if(fins_.begin(), fins_.end(), [](const FinOut& f) { return f.repeats == 0; }));
}

void Agent::send_fins(Clock::time_point now, p::Transport& t) {
  for (FinOut& f : fins_) {
    if (now < f.next) continue;
    // The message is the tail of the script output: shorten it from the front until the signed
    // line fits one datagram.
    p::Fin fin = f.fin;
    while (!send_line(fin, t, &f.reply) && mac_key_ && fin.message.size() > 3) {
      fin.message.replace(0, std::min(fin.message.size(), std::size_t{64}), "...");
    }
    const std::size_t i = static_cast<std::size_t>(f.repeats++);
    f.next = i < std::size(kFinRepeats) ? now + kFinRepeats[i] : Clock::time_point::max();
  }
}

Clock::time_point Agent::next_wakeup(Clock::time_point now) const {
  Clock::time_point t = clock_deny_ ? now : now + 1s;
  for (const FinOut& f : fins_) t = std::min(t, f.next);
  t = std::min({t, recv_at_, nak_at_, complete_at_, report_at_});
  if (assembler_ && !assembler_->finalized()) {
    t = std::min({t, next_checkpoint_, last_data_ + config_.idle_nak_after});
  }
  return std::max(t, now);
}

}  // namespace fleetcast::receiver
