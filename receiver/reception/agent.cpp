#include "receiver/reception/agent.hpp"

#include <algorithm>
#include <iterator>

#include "protocol/fleet_key.hpp"
#include "protocol/io/file.hpp"
#include "protocol/verify.hpp"
#include "receiver/reception/envelope.hpp"

namespace fleetcast::receiver {
namespace p = protocol;
namespace {

constexpr auto kCompleteRepeat = 300ms;  // COMPLETE is repeated until acknowledged ...
constexpr auto kCompleteGiveUp = 60s;    // ... for at most this long
constexpr auto kRecvRepeat = 400ms;  // at most one RECV per 400 ms per session (two announcements)

}  // namespace

Agent::Agent(AgentConfig config, p::SecretKey key, Log log, std::uint64_t seed,
             Clock::time_point now)
    : config_(std::move(config)),
      key_(std::move(key)),
      gate_(config_.manager, key_, config_.state, log),
      log_(std::move(log)),
      rng_(seed) {
  std::string line;
  try {
    const auto bytes = p::io::read_file(update_path());
    line.assign(bytes.begin(), bytes.end());
  } catch (const std::exception&) {
    return;  // no reception to resume
  }
  if (auto u = verified_update(line)) {
    log_(log::info("FC2111", "resuming")
             .with("bundle", u->name)
             .with("from", update_path().string()));
    gate_.pin(u->reply.address);
    on_update(*u, now);
  }
}

std::optional<p::Update> Agent::verified_update(std::string_view line) const {
  auto parsed = p::verified_command(
      line, [this](p::KeyId id) { return id == gate_.manager_id() ? &gate_.manager() : nullptr; });
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
                              Clock::time_point now, const std::function<bool()>& verify,
                              p::Drops& drops) {
  using V = p::VerifyBudget::Verdict;
  const V v = gate_.check(bytes, from, now, verify);
  if (v == V::over_budget) drops.count(p::Drop::over_budget);  // dropped unverified
  if (v == V::forged) drops.count(p::Drop::forged);
  if (v == V::verified || v == V::forged) ++counters_.verifications;
  return p::VerifyBudget::passed(v);
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

void Agent::on_ctrl(std::span<const std::uint8_t> bytes, Clock::time_point now,
                    const p::Endpoint& from) {
  const std::string_view raw(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (p::is_keys_line(raw)) return gate_.on_keys(raw);
  const p::MacedLine maced = p::split_line_mac(raw);
  const std::string_view line = maced.signed_line;
  auto parsed = p::parse_command(line);
  // Malformed, or another manager's: dropped before any verification.
  if (!parsed || parsed->signer != gate_.manager_id()) {
    counters_.ctrl.count(parsed ? p::Drop::not_ours : p::Drop::malformed);
    return;
  }
  // With the fleet key, a line without its MAC is dropped for one keyed hash, whatever its
  // source address says.
  if (!gate_.mac_ok(maced)) {
    counters_.ctrl.count(p::Drop::no_mac);
    return;
  }
  // Only then the signature: lines for other hosts, stale lines and replays cost no more than
  // the parse (and the MAC).
  const auto stamp = p::stamp_of(parsed->command);
  if (!stamp) {
    counters_.ctrl.count(p::Drop::malformed);  // a host's verb naming the manager's key
    return;
  }
  if (!names_this_host(parsed->command)) return;  // others asked: silent
  if (!admissible(parsed.value(), *stamp, line, from, now)) return;
  if (!signed_by_manager(
          p::as_bytes(line), from, now,
          [&] { return p::verify_command(parsed.value(), config_.manager); }, counters_.ctrl)) {
    return;
  }
  gate_.freshness().seen(*stamp);
  if (const auto* u = std::get_if<p::Update>(&parsed->command)) {
    // The manager's address, from what it signed (not from who sent it): its own budget.
    gate_.pin(u->reply.address);
    const bool is_new = !update_ || update_->session != u->session;
    const bool brings_digest =
        !is_new && update_->digest == p::Digest{} && u->digest != p::Digest{};
    on_update(*u, now);
    if (is_new || brings_digest) keep_announcement(*u, line);
  } else if (const auto* a = std::get_if<p::Abort>(&parsed->command)) {
    on_abort(*a);
  } else if (const auto* act = std::get_if<p::Activate>(&parsed->command)) {
    if (gate_.freshness().act(*stamp)) on_activate(*act);  // once per manager second
  } else if (const auto* st = std::get_if<p::StatusRequest>(&parsed->command)) {
    if (gate_.freshness().act(*stamp)) on_status(*st, now);  // once per manager second
  }
}

// Not for a file held already: a restart would queue its apply again.
void Agent::keep_announcement(const p::Update& u, std::string_view line) {
  if (!assembler_ || assembler_->finalized() || !update_ || update_->session != u.session) return;
  try {
    p::io::write_file_atomic(update_path(), p::as_bytes(line), 0600);
  } catch (const std::exception& e) {
    log_(log::warning("FC2112", "announcement-not-kept")
             .with("bundle", u.name)
             .with("reason", e.what()));
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
  gate_.freshness().close_announcements(a.session, a.time);  // its announcements are over
  assembler_.reset();
  update_.reset();
  naks_.stop();
  recv_at_ = complete_.at = Clock::time_point::max();
}

void Agent::on_status(const p::StatusRequest& s, Clock::time_point now) {
  fins_.ask(s.session, now + uniform(config_.reply_spread));
  if (update_ && s.session == update_->session) {
    recv_at_ = std::min(recv_at_, now + uniform(config_.reply_spread));
    // COMPLETE again only while the manager has not acknowledged it (a STATUS after the ACK
    // must not arm a timer that tick() never clears: that was a busy loop).
    if (assembler_ && assembler_->finalized() && !complete_.acked) {
      complete_.at = std::min(complete_.at, recv_at_);
    }
  }
}

void Agent::on_update(const p::Update& u, Clock::time_point now) {
  if (!u.targets.includes(config_.host_name, config_.groups)) return;  // not for us: silent
  if (update_ && update_->session == u.session) {
    // A big file's first announcements go out before the manager took its digest; a later
    // copy carries it, and then the object received can be checked and completed.
    if (update_->digest == p::Digest{} && u.digest != p::Digest{}) {
      update_->digest = u.digest;
      if (assembler_) {
        assembler_->set_digest(u.digest);
        complete_if_whole(now);
      }
    }
    session_time_ = std::max(session_time_, u.time);
    // Re-announcement: the manager may not have our RECV yet.
    if (recv_at_ == Clock::time_point::max() &&
        !(assembler_ && assembler_->finalized() && complete_.acked)) {
      recv_at_ = now + kRecvRepeat + uniform(config_.reply_spread);
    }
    return;
  }
  if (refusal_.session == u.session) return;
  if (auto reason = refuse_reason(u)) {
    log_(log::notice("FC2120", "refused").with("bundle", u.name).with("reason", *reason));
    update_ = u;  // for the reply address
    session_time_ = u.time;
    refuse(*reason, now);
    return;
  }
  if (u.digest == p::Digest{}) {
    // What another session brought under this name, of this size and a known digest, may be
    // this object (a part to resume, or the file held already): it is matched by digest, which
    // a later copy of this UPDATE brings (within seconds). Until then this host waits.
    const auto earlier = Assembler::recorded(config_.state, u.name);
    if (earlier && earlier->digest != p::Digest{} && earlier->session != u.session &&
        earlier->size == u.size) {
      return;
    }
  }
  checkpoint();
  try {
    assembler_ = std::make_unique<Assembler>(u, config_.spool, config_.state);
  } catch (const std::exception& e) {
    log_(log::error("FC2114", "receive-failed").with("bundle", u.name).with("reason", e.what()));
    update_ = u;
    session_time_ = u.time;
    refuse(e.what(), now);
    return;
  }
  refusal_.deny.reset();
  update_ = u;
  session_time_ = u.time;
  envelope_checked_ = false;
  complete_ = Completion{};
  naks_.reset(now);
  rates_.reset();
  recv_at_ = now + uniform(config_.reply_spread);
  log_(log::info("FC2110", "receiving")
           .with("bundle", u.name)
           .with("version", u.version)
           .with("bytes", u.size)
           .with("blocks_held", assembler_->complete_blocks()));
  if (assembler_->finalized()) {
    // Held already (a re-push of the same bundle): nothing to receive, but the manager still
    // wants this session's FIN; the applier reports "already applied" or finishes the apply.
    complete_.at = recv_at_;
    complete_.deadline = now + kCompleteGiveUp;
    queue_apply();
  }
}

void Agent::refuse(const std::string& reason, Clock::time_point now) {
  refusal_ = Refusal{p::Deny{update_->name, config_.host_name, reason, update_->session},
                     update_->session};
  assembler_.reset();  // what was received so far stays a .part (retention removes it)
  naks_.stop();
  complete_.at = Clock::time_point::max();
  recv_at_ = now + uniform(config_.reply_spread);
}

// A signed ACTIVATE for this host: apply the bundle it names from the spool, if this host holds
// it for that session (the applier checks, and applies it at most once).
void Agent::on_activate(const p::Activate& a) {
  if (apply_job_) return;  // one queued at a time; the manager repeats ACTIVATE
  ApplyJob job;
  job.bundle = config_.spool / a.name;
  job.file_name = a.name;
  job.digest = a.digest;
  job.session = a.session;
  job.announced_version = a.version;
  job.activation = true;
  apply_job_ = std::move(job);
}

bool Agent::check_envelope(Clock::time_point now) {
  const EnvelopeCheck e = receiver::check_envelope(*assembler_, key_.key_id());
  if (e.verdict == EnvelopeCheck::Verdict::unknown) return true;
  envelope_checked_ = true;
  if (e.verdict == EnvelopeCheck::Verdict::readable) return true;
  const std::string reason = "encrypted for " + std::to_string(e.readers) +
                             " other key(s), not for this host (key ID " +
                             p::text::hex64(key_.key_id().value) + ")";
  log_(log::notice("FC2120", "refused").with("bundle", update_->name).with("reason", reason));
  refuse(reason, now);
  return false;
}

void Agent::queue_apply() {
  if (update_->apply == p::ApplyMode::none) return;
  ApplyJob job;
  job.bundle = assembler_->final_path();
  job.file_name = update_->name;
  job.digest = update_->digest;
  job.session = update_->session;
  job.reply = update_->reply;
  job.mode = update_->apply;
  job.announced_version = update_->version;
  job.announced_kind = update_->kind;
  apply_job_ = std::move(job);
}

void Agent::on_data(std::span<const std::uint8_t> bytes, Clock::time_point now,
                    const p::Endpoint& from) {
  auto parsed = p::parse_data_packet(bytes);
  if (!parsed || !update_ || !assembler_) {
    counters_.data.count(parsed ? p::Drop::not_ours : p::Drop::malformed);
    return;
  }
  if (const auto* fb = std::get_if<p::SignedFeedback>(&parsed.value())) {
    return on_feedback(*fb, bytes, from, now);
  }
  const auto [file_id, sequence] = std::visit(
      [](const auto& x) -> std::pair<std::uint16_t, std::uint32_t> {
        if constexpr (requires { x.sequence; }) {
          return {x.file_id, x.sequence};
        } else {
          return {0, 0};
        }
      },
      parsed.value());
  if (file_id != update_->file_id || assembler_->finalized()) {
    counters_.data.count(p::Drop::not_ours);
    return;
  }
  const auto result = std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, p::SymbolPacket>) return assembler_->on_symbol(x);
        if constexpr (std::is_same_v<T, p::MixedPacket>) return assembler_->on_mixed(x);
        if constexpr (std::is_same_v<T, p::AuthPacket>) return assembler_->on_auth(x);
        return Assembler::Result::invalid;
      },
      parsed.value());
  if (result == Assembler::Result::invalid || result == Assembler::Result::forged) {
    // Forged: not counted as the session's traffic either.
    counters_.data.count(result == Assembler::Result::forged ? p::Drop::forged
                                                             : p::Drop::malformed);
    return;
  }
  if (!envelope_checked_ && result == Assembler::Result::stored && !check_envelope(now)) return;
  on_stored(sequence, now);
}

void Agent::on_stored(std::uint32_t sequence, Clock::time_point now) {
  rates_.on_packet();
  naks_.on_packet(sequence, now);
  complete_if_whole(now);
}

// Every block received and the manager's digest known: verified, then stored and applied.
void Agent::complete_if_whole(Clock::time_point now) {
  if (!assembler_->all_blocks() || !assembler_->digest_known() || assembler_->finalized() ||
      update_->digest == p::Digest{}) {
    return;
  }
  if (auto error = assembler_->finalize()) {
    log_(
        log::error("FC2115", "verify-failed").with("bundle", update_->name).with("reason", *error));
    return;
  }
  // The whole file's digest verified.
  log_(log::info("FC2116", "complete")
           .with("bundle", update_->name)
           .with("stored", assembler_->final_path().string()));
  queue_apply();
  ++counters_.sessions_completed;
  std::error_code ec;
  std::filesystem::remove(update_path(), ec);  // nothing left to resume
  naks_.stop();
  complete_.at = now + uniform(config_.reply_spread);
  complete_.deadline = now + kCompleteGiveUp;
}

// The manager's feedback on the data group: ROUND, PROBE, MIXED-TABLE, ROOTS, COMPLETE-ACK.
void Agent::on_feedback(const p::SignedFeedback& fb, std::span<const std::uint8_t> bytes,
                        const p::Endpoint& from, Clock::time_point now) {
  const bool ours = fb.session == update_->session && fb.signer == gate_.manager_id();
  if (ours && !gate_.mac_ok(fb)) {
    counters_.data.count(p::Drop::no_mac);
    return;
  }
  if (!ours || !wanted(fb.feedback)) {
    counters_.data.count(ours ? p::Drop::unwanted : p::Drop::not_ours);
    return;
  }
  if (!signed_by_manager(
          bytes, from, now, [&] { return p::verify_feedback(fb, config_.manager); },
          counters_.data)) {
    return;
  }
  if (const auto* r = std::get_if<p::Round>(&fb.feedback)) {
    if (!assembler_->finalized()) {
      naks_.on_round(*r, uniform(std::chrono::milliseconds(r->nak_window_ms)), now);
    }
  } else if (const auto* probe = std::get_if<p::Probe>(&fb.feedback)) {
    if (!assembler_->finalized()) {
      rates_.on_probe(
          *probe, update_->file_id, key_.key_id(),
          [this](Clock::duration max) { return uniform(max); }, now);
    }
  } else if (const auto* m = std::get_if<p::MixedTable>(&fb.feedback)) {
    if (m->file_id == update_->file_id) assembler_->allow_mixed(m->round, m->hashes);
  } else if (const auto* roots = std::get_if<p::Roots>(&fb.feedback)) {
    if (roots->file_id == update_->file_id) assembler_->on_roots(*roots, bytes);
  } else if (const auto* a = std::get_if<p::CompleteAck>(&fb.feedback)) {
    if (std::find(a->hosts.begin(), a->hosts.end(), key_.key_id()) != a->hosts.end()) {
      complete_.acked = true;
      complete_.at = Clock::time_point::max();
    }
  }
}

// Feedback that would change nothing (a replayed or late ROUND, PROBE or ACK): dropped before
// its signature is checked.
bool Agent::wanted(const p::Feedback& f) const {
  if (const auto* r = std::get_if<p::Round>(&f)) {
    return !assembler_->finalized() && naks_.wants(*r);
  }
  if (const auto* probe = std::get_if<p::Probe>(&f)) {
    return !assembler_->finalized() && rates_.wants(*probe);
  }
  if (std::holds_alternative<p::CompleteAck>(f)) return !complete_.acked;
  if (const auto* roots = std::get_if<p::Roots>(&f)) {  // a copy of roots held: not checked again
    return !assembler_->finalized() && assembler_->wants_roots(*roots);
  }
  return true;
}

// --- output ---------------------------------------------------------------------------------

bool Agent::send_line(const p::Command& c, p::Transport& t, const p::Endpoint* to) {
  const auto& mac = gate_.reply_mac();
  if (!mac) return false;  // the manager's key is not a valid curve point: it cannot check us
  auto line = p::encode_maced_command(c, key_, *mac);
  if (!line) return false;
  const p::Datagram d{p::as_bytes(line.value()), to ? *to : update_->reply};
  (void)t.send(std::span(&d, 1));  // a lost reply is repeated by the protocol
  return true;
}

void Agent::send_feedback(const p::Feedback& f, p::Transport& t) {
  std::array<std::uint8_t, p::kMaxControlDatagram> buf{};
  const auto& mac = gate_.reply_mac();
  if (!mac) return;
  auto n = p::encode_feedback(f, update_->session, key_, buf, *mac);
  if (!n) return;
  const p::Datagram d{std::span(buf.data(), n.value()), update_->reply};
  (void)t.send(std::span(&d, 1));
}

// FINs due, a stale announcement's DENY, and the session's RECV or DENY.
void Agent::send_replies(Clock::time_point now, p::Transport& t) {
  fins_.send_due(now, [&](const p::Fin& fin, const p::Endpoint& to) {
    return !gate_.reply_mac() || send_line(fin, t, &to);  // without a MAC key: nothing to try
  });
  if (stale_.pending) {
    (void)send_line(stale_.pending->first, t, &stale_.pending->second);
    stale_.pending.reset();
  }
  if (!update_ || now < recv_at_) return;
  recv_at_ = Clock::time_point::max();
  if (refusal_.deny) {
    if (!send_line(*refusal_.deny, t)) {
      log_(log::warning("FC2121", "deny-not-sent")
               .with("bundle", refusal_.deny->name)
               .with("reason", refusal_.deny->reason));
    }
  } else if (assembler_) {
    (void)send_line(p::Recv{update_->name, config_.host_name, update_->session,
                            assembler_->complete_blocks(), gate_.holds_fleet_key() ? 1u : 0u},
                    t);
  }
}

void Agent::tick(Clock::time_point now, p::Transport& t) {
  send_replies(now, t);
  if (!update_ || !assembler_) return;
  if (const auto report = rates_.due(now)) {
    send_feedback(*report, t);
    ++counters_.loss_reports_sent;
  }
  const bool receiving = !assembler_->finalized();
  if (receiving) {
    for (const p::Nak& nak :
         naks_.due(now, config_.idle_nak_after, *assembler_, update_->file_id)) {
      send_feedback(nak, t);
      ++counters_.naks_sent;
    }
  }
  if (!receiving && !complete_.acked && now >= complete_.at) {
    send_feedback(p::Complete{update_->file_id, update_->digest}, t);
    complete_.at = now >= complete_.deadline ? Clock::time_point::max()
                                             : now + kCompleteRepeat + uniform(kCompleteRepeat);
  }
  if (now >= next_checkpoint_) {
    assembler_->checkpoint_async();  // off the receive loop
    next_checkpoint_ = now + config_.checkpoint_every;
  }
}

std::optional<ApplyJob> Agent::take_apply_job() {
  auto job = std::move(apply_job_);
  apply_job_.reset();
  return job;
}

void Agent::remember_result(const ApplyOutcome& o) {
  keep_fin(o, Clock::time_point::max(), true);
}

void Agent::on_applied(const ApplyOutcome& o, Clock::time_point now) {
  keep_fin(o, now + uniform(config_.reply_spread), false);
}

void Agent::keep_fin(const ApplyOutcome& o, Clock::time_point first, bool asked_only) {
  const ApplyRecord& r = o.record;
  p::Fin fin;
  fin.name = r.file_name;
  fin.host = config_.host_name;
  fin.message = o.message;
  fin.status = o.status;
  fin.version = r.version;
  if (!r.session || !r.reply) return;  // a local apply: nobody to tell
  fin.session = *r.session;
  fin.digest = r.digest;
  fins_.keep(std::move(fin), *r.reply, first, asked_only);
}

Clock::time_point Agent::next_wakeup(Clock::time_point now) const {
  Clock::time_point t = stale_.pending ? now : now + 1s;
  t = std::min({t, fins_.next_wakeup(), recv_at_, complete_.at, rates_.next_wakeup()});
  if (assembler_ && !assembler_->finalized()) {
    t = std::min({t, next_checkpoint_, naks_.next_wakeup(config_.idle_nak_after)});
  }
  return std::max(t, now);
}

}  // namespace fleetcast::receiver
