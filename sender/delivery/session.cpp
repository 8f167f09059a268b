#include "sender/delivery/session.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "protocol/relay/frame.hpp"
#include "protocol/verify.hpp"

namespace fleetcast::sender {
namespace p = protocol;
namespace {

constexpr std::size_t kSlots = 64;  // datagrams built ahead of the transport
constexpr double kMaxLossEstimate = 0.6;
constexpr auto kWaitSlack = 250ms;
constexpr auto kDigestPoll = 20ms;  // while the file's digest is taken

// Wire bytes of the largest data packet: a MIXED packet of max_parts blocks, or one symbol.
std::uint64_t max_packet_cost(std::size_t max_parts, std::uint32_t symbol_size) {
  const std::size_t parts = std::clamp<std::size_t>(max_parts, 1, p::kMaxMixedParts);
  return (parts >= 2 ? p::mixed_datagram_bytes(parts, symbol_size)
                     : p::kHeaderBytes + symbol_size) +
         kWireOverhead;
}

// The chunks hashed ahead for every window: round 0's (the source symbols and the proactive
// parity); every chunk when a site's relay repairs (it needs every ESI's root, and its parity
// starts halfway to 254).
std::uint8_t hashed_ahead(const SessionConfig& c) {
  if (!c.relayed_sites.empty()) return DataAuth::kAllChunks;
  return DataAuth::chunks_below(c.max_k +
                                static_cast<std::uint32_t>(std::ceil(c.proactive * c.max_k)));
}

double thread_cpu_ms() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}
RateConfig rate_config(RateConfig c, std::uint32_t symbol_size) {
  c.packet_bytes = symbol_size + p::kHeaderBytes + kWireOverhead;
  return c;
}
template <class F>
auto each_host(const std::vector<const Host*>& hosts, F f) {
  std::vector<std::invoke_result_t<F, const Host&>> out;
  for (const Host* h : hosts) out.push_back(f(*h));
  return out;
}

}  // namespace

SenderSession::SenderSession(SessionConfig config, std::shared_ptr<const p::io::InputFile> file,
                             std::vector<const Host*> targets, const p::SecretKey& key,
                             Clock::time_point now)
    : config_(std::move(config)),
      file_(std::move(file)),
      key_(key),
      fleet_(p::fleet_key(key_)),
      plan_(fec::BlockPlan::make(file_->size(), config_.symbol_size, config_.max_k).value()),
      rate_(rate_config(config_.rate, config_.symbol_size),
            each_host(targets, [](const Host& h) { return h.name; }),
            each_host(targets, [](const Host& h) { return p::key_id(h.key); })),
      pacer_(rate_.rate(), 64 * (config_.symbol_size + p::kHeaderBytes + kWireOverhead)),
      receipts_(targets, config_.name, config_.session),
      layout_(plan_, *file_, config_.file_id),
      auth_(plan_, *file_, hashed_ahead(config_), config_.before_digest),
      digest_(auth_.digest_within(config_.digest_wait).value_or(p::Digest{})),
      digest_pending_(digest_ == p::Digest{}),
      created_(now),
      start_(now),
      max_packet_cost_(max_packet_cost(config_.max_parts, plan_.symbol_size())),
      out_(kSlots, std::max<std::size_t>(max_packet_cost_ - kWireOverhead,
                                         p::kMaxControlDatagram + p::kRelayFrameBytes)) {
  host_needs_.resize(targets.size());
  host_needs_round_.assign(targets.size(), 0);
  last_report_probe_.assign(targets.size(), 0);
  repeat_nak_at_.assign(targets.size(), Clock::time_point{});
  round_losses_.assign(targets.size(), -1.0);
  acked_at_.assign(targets.size(), Clock::time_point{});
  fed_by_.resize(targets.size());
  repaired_by_.resize(targets.size());
  map_sites(targets);
  receipts_.authenticate(key_, config_.fleet_key_holders);
  layout_.authenticate_with(&auth_);
  sign_layout_packets();
  update_ = make_update(targets);
}

// The signed table of each round's MIXED packets and each window's ROOTS packet.
void SenderSession::sign_layout_packets() {
  // The signed table of each round's MIXED packets (hosts check them before subtracting).
  layout_.sign_mixed_tables([this](std::span<const std::array<std::uint8_t, 16>> hashes,
                                   std::span<std::uint8_t> out) -> std::size_t {
    const p::MixedTable t{config_.file_id, round_, {hashes.begin(), hashes.end()}};
    auto n = p::encode_feedback(t, config_.session, key_, out, fleet_);
    return n ? n.value() : 0;
  });
  // The signed roots of a window's AUTH segments, computed as the session streams.
  layout_.send_roots_with(
      [this](std::uint32_t window, std::uint8_t chunks,
             std::span<std::uint8_t> out) -> std::size_t {
        const DataAuth::Roots held = auth_.roots(window, chunks);
        p::Roots r{config_.file_id, window, held.chunks, {}};
        for (std::uint8_t c = 0; c < p::kAuthChunksPerBlock; ++c) {
          if (held.chunks & (1u << c)) r.roots.push_back(held.roots[c]);
        }
        auto n = p::encode_feedback(r, config_.session, key_, out, fleet_);
        return n ? n.value() : 0;
      },
      p::kWindowRootsDatagram);
}

p::Update SenderSession::make_update(const std::vector<const Host*>& targets) const {
  p::Update u;
  u.name = config_.name;
  u.size = plan_.object_size();
  u.file_id = config_.file_id;
  u.first_seq = 1;
  u.last_seq = static_cast<std::uint32_t>(plan_.symbol_count());
  u.digest = digest_;
  u.session = config_.session;
  u.version = config_.version;
  u.kind = config_.kind;
  u.apply = config_.apply;
  u.symbol_size = config_.symbol_size;
  u.max_k = config_.max_k;
  u.data = config_.data_group;
  u.reply = config_.reply;
  for (const Host* h : targets) u.targets.entries.push_back(h->name);
  if (u.targets.entries.size() > p::kMaxTargets) u.targets = p::Targets::all();
  u.time = config_.wall_time;
  if (!p::encode_maced_command(u, key_, fleet_) && u.targets.entries.size() > 0) {
    u.targets = p::Targets::all();  // the names do not fit one datagram
  }
  if (auto line = p::encode_maced_command(u, key_, fleet_); !line) {
    // every field came from validated config: a failure here is a bug
    throw std::logic_error("UPDATE does not encode: " + p::to_string(line.failure()));
  }
  return u;
}

std::uint64_t SenderSession::wall_time(Clock::time_point now) const {
  return config_.wall_time +
         static_cast<std::uint64_t>(std::max<std::int64_t>(
             0, std::chrono::duration_cast<std::chrono::seconds>(now - created_).count()));
}

// STATUS on the ctrl group: every host of the session re-sends its FIN (or RECV).
void SenderSession::request_status(Clock::time_point now, p::Transport& t) {
  p::StatusRequest s{config_.name, config_.session, wall_time(now), {}};
  // The next batch of the hosts whose FIN is missing, in turn: each STATUS asks at most
  // kMaxTargets of them (hosts send their FIN three times by themselves; this is for those
  // whose copies were all lost, or that restarted).
  const auto& hs = hosts();
  std::size_t i = 0;
  for (; i < hs.size() && s.targets.entries.size() < p::kMaxTargets; ++i) {
    const HostReport& h = hs[(status_next_ + i) % hs.size()];
    if (h.completed && !h.fin) s.targets.entries.push_back(h.host->name);
  }
  status_next_ = (status_next_ + i) % std::max<std::size_t>(hs.size(), 1);
  if (s.targets.entries.empty()) s.targets = p::Targets::all();
  if (auto line = p::encode_maced_command(s, key_, fleet_)) {
    queue(p::as_bytes(line.value()), config_.ctrl_group);
    ++stats_.control_packets;
    out_.flush(t);
  }
  next_status_ = now + config_.status_interval;
}

Clock::duration SenderSession::nak_window() const {
  return config_.nak_window + std::chrono::microseconds(200) * static_cast<int>(registered());
}

// --- output ---------------------------------------------------------------------------------

void SenderSession::count_sent(std::size_t n) {
  stats_.wire_bytes += n + kWireOverhead;
  round_sent_bytes_ += n + kWireOverhead;
  probe_bytes_ += n + kWireOverhead;
}

void SenderSession::queue(std::span<const std::uint8_t> bytes, const p::Endpoint& to) {
  out_.push(bytes, to);
  count_sent(bytes.size());
}

// ROUND on the data group: the round is over, NAK within the window.
void SenderSession::queue_round_marker() {
  const auto window = std::chrono::duration_cast<std::chrono::milliseconds>(nak_window());
  const p::Round r{config_.file_id, round_, sequence_, static_cast<std::uint32_t>(window.count())};
  std::array<std::uint8_t, p::kMaxControlDatagram> buf{};
  if (auto n = p::encode_feedback(r, config_.session, key_, buf, fleet_)) {
    queue(std::span(buf.data(), n.value()), config_.data_group);
    ++stats_.control_packets;
  }
}

// PROBE on the data group: the rate from now on, decided from the hosts' loss reports.
void SenderSession::queue_probe(Clock::time_point now) {
  p::Probe probe = rate_.probe(now, probe_bytes_);  // decides the interval before the last
  probe_bytes_ = 0;
  pacer_.set_rate(rate_.rate(), now);
  if (stats_.rounds == 1 && !rate_.recent_losses().empty()) {
    // Round 0's AUTH and ROOTS copies follow the hosts' reported losses (from the next window
    // on), once per decided interval: the rule costs a pow per host and copy count.
    set_copies(rate_.recent_losses());
  }
  probe.file_id = config_.file_id;
  probe.next_sequence = sequence_;
  std::array<std::uint8_t, p::kMaxControlDatagram> buf{};
  if (auto n = p::encode_feedback(probe, config_.session, key_, buf, fleet_)) {
    queue(std::span(buf.data(), n.value()), config_.data_group);
    ++stats_.control_packets;
  }
}

// --- time -----------------------------------------------------------------------------------

void SenderSession::tick(Clock::time_point now, p::Transport& t) {
  if (phase_ == Phase::done) return;
  if (!started_) {  // the windows open with the first announcement
    started_ = true;
    start_ = now;
    if (!digest_pending_) digest_at_ = now;
  }
  if (!out_.flush(t)) return;
  if (phase_ == Phase::fin) {
    if (receipts_.fins_settled() || now >= fin_deadline_) return finish(now, t, false);
    if (now >= next_status_) request_status(now, t);
    return;
  }
  const bool settled =
      receipts_.all_settled() ||
      (config_.leave_silent_hosts && now - start_ >= config_.registration_timeout &&
       registered() > 0 && receipts_.registered_settled());
  if (settled && phase_ != Phase::announce) return finish(now, t, false);
  if (now - start_ >= config_.deadline) {
    gave_up_ =
        "the deadline (" +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(config_.deadline).count()) +
        " s after the first announcement) passed";
    return finish(now, t, true);
  }
  if (digest_pending_) {
    if (const auto d = auth_.digest_within(0ms)) {  // taken: the next copy of the UPDATE says it
      digest_ = update_.digest = *d;
      digest_pending_ = false;
      digest_at_ = now;
      next_announce_ = now;
    }
  }
  if (now >= next_announce_) announce(now, t);
  switch (phase_) {
    case Phase::announce: {
      const bool everyone = registered() + receipts_.denied() == hosts().size();
      if (receipts_.all_settled()) return finish(now, t, false);
      if (everyone || (now - start_ >= config_.registration_timeout && registered() > 0)) {
        start_round();
      } else if (!digest_pending_ && now - digest_at_ >= config_.registration_timeout) {
        // Hosts that hold a file of this name and size wait for the digest before they answer.
        std::string silent;
        for (const HostReport& h : hosts()) {
          if (!h.registered && !h.denied) silent += (silent.empty() ? "" : ", ") + h.host->name;
        }
        gave_up_ = "no host answered within " +
                   std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      config_.registration_timeout)
                                      .count()) +
                   " ms of the first announcement (silent: " + silent +
                   "): not running, not on this link, or holding another manager key";
        return finish(now, t, true);
      }
      break;
    }
    case Phase::stream:
      stream(now, t);
      break;
    case Phase::wait: {
      if (!round_marker_repeated_ && now >= second_round_marker_) {
        queue_round_marker();
        round_marker_repeated_ = true;
        out_.flush(t);
      }
      if (now >= wait_until_ || receipts_.all_answered(round_)) end_wait();
      break;
    }
    case Phase::fin:
    case Phase::done:
      break;
  }
}

Clock::time_point SenderSession::next_wakeup(Clock::time_point now) const {
  if (phase_ == Phase::done) return now + 1h;
  if (!out_.empty()) return now + 1ms;  // transport was full
  if (phase_ == Phase::fin) return std::max(now, std::min(next_status_, fin_deadline_));
  Clock::time_point t = std::min(next_announce_, start_ + config_.deadline);
  if (digest_pending_) t = std::min(t, now + kDigestPoll);
  switch (phase_) {
    case Phase::announce:
      // Past the window with nobody registered, only the digest can end the wait (polled).
      if (registered() > 0 || now < start_ + config_.registration_timeout) {
        t = std::min(t, start_ + config_.registration_timeout);
      }
      if (!digest_pending_) t = std::min(t, digest_at_ + config_.registration_timeout);
      break;
    case Phase::stream:
      t = std::min(
          {t, pacer_.ready_at(pacer_.batch_cost(max_packet_cost_), now), rate_.next_probe()});
      break;
    case Phase::wait:
      t = std::min(t, round_marker_repeated_ ? wait_until_ : second_round_marker_);
      break;
    case Phase::fin:
    case Phase::done:
      break;
  }
  return std::max(t, now);
}

void SenderSession::announce(Clock::time_point now, p::Transport& t) {
  // Each copy signed with the current time: hosts check it against their clock (freshness).
  update_.time = wall_time(now);
  const auto line = p::encode_maced_command(update_, key_, fleet_);
  if (!line) throw std::logic_error("UPDATE does not encode: " + p::to_string(line.failure()));
  queue(p::as_bytes(line.value()), config_.ctrl_group);
  ++stats_.control_packets;
  out_.flush(t);
  // The fleet key for hosts that may not hold it yet (a host that does drops forged lines on
  // their MAC, whatever their source address).
  const auto recipients = receipts_.take_keys_recipients();
  for (const auto& keys : p::encode_keys_lines(key_.key_id(), fleet_, recipients)) {
    if (out_.full()) out_.flush(t);
    if (out_.full()) break;  // the socket is full: the next announcement carries them again
    queue(p::as_bytes(keys), config_.ctrl_group);
    ++stats_.control_packets;
  }
  out_.flush(t);
  // Fast while hosts register; slower later, for hosts that (re)start during the transfer.
  next_announce_ =
      now + (phase_ == Phase::announce ? config_.announce_interval : 5 * config_.announce_interval);
}

// --- rounds ---------------------------------------------------------------------------------

// Round 0: every source symbol plus the proactive parity. Later rounds: what the NAKs ask for.
void SenderSession::start_round() {
  const auto planning = std::chrono::steady_clock::now();  // real time
  const double planning_cpu = thread_cpu_ms();
  file_->check_unchanged();  // the hosts check every symbol against the hashes made at the start
  RoundPackets packets;
  if (stats_.rounds == 0) {
    for (std::uint32_t b = 0; b < plan_.block_count(); ++b) {
      const std::uint32_t k = plan_.source_symbols(b);
      const auto c = k + static_cast<std::uint32_t>(std::ceil(config_.proactive * k));
      packets.add_single(b, c);
    }
  } else {
    packets =
        plan_repair(RepairInput{&plan_, host_needs_, stats_.loss_estimate, config_.max_parts});
    scope_round_to_sites();
    chunk_askers_.clear();
  }
  for (auto& needs : host_needs_) needs.clear();
  set_copies(needy_losses_);
  round_total_bytes_ = layout_.lay_out(packets, kWireOverhead, requested_chunks_);
  requested_chunks_.clear();
  round_ = ++stats_.rounds;
  RoundFeedback& r = stats_.by_round.emplace_back();
  r.plan_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - planning)
                  .count();
  r.plan_cpu_ms = thread_cpu_ms() - planning_cpu;
  round_sent_bytes_ = 0;
  phase_ = Phase::stream;
  rate_.resume();
}

void SenderSession::stream(Clock::time_point now, p::Transport& t) {
  if (rate_.adaptive() && now >= rate_.next_probe() && !out_.full()) queue_probe(now);
  while (!out_.full() && pacer_.available(now) >= max_packet_cost_) {
    const auto built = layout_.build_next(sequence_, out_.next_slot());
    if (!built) {
      queue_round_marker();  // end of the round: hosts NAK now, spread over the window
      phase_ = Phase::wait;
      second_round_marker_ = now + nak_window() / 4;
      round_marker_repeated_ = false;
      // Normally every incomplete host has NAKed well before this; the timeout covers hosts that
      // lost both round markers or are busy draining a deep receive buffer.
      wait_until_ = now + 3 * nak_window() + kWaitSlack;
      break;
    }
    // Tables and roots carry no sequence number.
    if (built->kind != PacketKind::table && built->kind != PacketKind::roots) ++sequence_;
    if (stats_.first_data == Clock::time_point{} && built->kind == PacketKind::source) {
      stats_.first_data = now;
    }
    switch (built->kind) {
      case PacketKind::source:
        ++stats_.data_packets;
        break;
      case PacketKind::parity:
        ++stats_.parity_packets;
        break;
      case PacketKind::mixed:
        ++stats_.mixed_packets;
        break;
      case PacketKind::auth:
        ++stats_.auth_packets;
        break;
      case PacketKind::roots:
        ++stats_.roots_packets;
        break;
      case PacketKind::table:
        ++stats_.control_packets;
        break;
    }
    // A repair round's symbols of a block go to the relays of the sites that need the block.
    const bool scoped = stats_.rounds > 1 && built->kind != PacketKind::mixed &&
                        built->kind != PacketKind::table && built->block < block_relays_.size();
    out_.commit(built->bytes, config_.data_group,
                scoped ? &relay_sets_.front()[block_relays_[built->block]] : nullptr);
    count_sent(built->bytes);
    pacer_.consume(built->bytes + kWireOverhead);
  }
  out_.flush(t);
}

void SenderSession::end_wait() {
  // Repair is sized by the worst loss the round's NAKs measured, AUTH and ROOTS copies by each
  // (set_copies); without a NAK the previous ones stand.
  std::vector<double> needy;
  for (const double loss : std::exchange(round_losses_, std::vector(round_losses_.size(), -1.0))) {
    if (loss >= 0) needy.push_back(std::min(loss, kMaxLossEstimate));
  }
  if (!needy.empty()) stats_.loss_estimate = *std::max_element(needy.begin(), needy.end());
  if (!needy.empty()) needy_losses_ = std::move(needy);
  start_round();  // an empty round only re-sends the round marker: lost NAKs get a new chance
}

void SenderSession::set_copies(std::span<const double> losses) {
  layout_.set_auth_copies(config_.auth_copies > 0 ? config_.auth_copies : auth_copies(losses));
  layout_.set_roots_copies(roots_copies(losses));
}

void SenderSession::finish(Clock::time_point now, p::Transport& t, bool aborted) {
  if (!aborted && config_.collect_fin && phase_ != Phase::fin && !receipts_.fins_settled()) {
    phase_ = Phase::fin;  // delivery is over; the applies are not
    fin_deadline_ = now + config_.fin_timeout;
    next_status_ = now + config_.status_interval;
    return;
  }
  if (aborted) {
    p::Abort a{config_.name, success() ? "" : "deadline passed", config_.session, wall_time(now)};
    if (auto line = p::encode_maced_command(a, key_, fleet_)) {
      queue(p::as_bytes(line.value()), config_.ctrl_group);
      out_.flush(t);
    }
  }
  phase_ = Phase::done;
}

// --- input ----------------------------------------------------------------------------------

void SenderSession::on_datagram(std::span<const std::uint8_t> bytes, const p::Endpoint& from,
                                Clock::time_point now) {
  if (bytes.empty()) return;
  if ((bytes[0] >> 4) == p::kWireVersion && (bytes[0] & 0x0f) < 0x0f) {
    on_feedback(bytes, from, now);
  } else {
    const std::string_view line(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const bool taken = receipts_.on_command(line, from, now);
    ++(taken ? stats_.feedback_received : stats_.feedback_dropped);
    ++(taken ? feedback_now().lines : feedback_now().dropped);
  }
}

RoundFeedback& SenderSession::feedback_now() {
  return phase_ == Phase::fin || phase_ == Phase::done ? stats_.fin_phase
                                                       : stats_.by_round[stats_.rounds];
}

void SenderSession::on_feedback(std::span<const std::uint8_t> bytes, const p::Endpoint& from,
                                Clock::time_point now) {
  auto parsed = p::parse_data_packet(bytes);
  const auto* fb = parsed ? std::get_if<p::SignedFeedback>(&parsed.value()) : nullptr;
  if (fb == nullptr) return drop_feedback();
  if (const auto* report = std::get_if<p::LossReport>(&fb->feedback)) {
    return on_loss_report(*fb, *report);
  }
  // Before the signature: a NAK of a host that completed, or of a round older than the one it
  // last asked in, changes nothing (a replay, or a late copy).
  const auto wanted = [&](const HostReport& host) {
    const auto* nak = std::get_if<p::Nak>(&fb->feedback);
    return nak == nullptr ||
           (!host.completed && nak->round >= host_needs_round_[receipts_.index_of(host)]);
  };
  const auto verified = receipts_.verified_feedback(*fb, bytes, from, now, wanted);
  HostReport* h = verified.host;
  if (h == nullptr) return drop_feedback();
  const std::size_t i = receipts_.index_of(*h);
  if (const auto* nak = std::get_if<p::Nak>(&fb->feedback)) {
    if (nak->file_id != config_.file_id) return;
    // A copy of a NAK that verified before (a host repeating itself when no round marker
    // reaches it, or a replay) is acted on at most once a second.
    if (verified.repeat && now < repeat_nak_at_[i] + kRepeatEvery) return drop_feedback();
    repeat_nak_at_[i] = now;
    ++stats_.feedback_received;
    ++feedback_now().naks;
    ++h->naks;
    h->last_nak_round = nak->round;
    if (repaired_at_site(i)) {  // from the relay's copy
      host_needs_round_[i] = std::max(host_needs_round_[i], nak->round);
      return pass_to_relay(bytes, site_relays_[*fed_by_[i]]);
    }
    if (nak->round == round_) {
      round_losses_[i] = std::max(round_losses_[i], static_cast<double>(nak->loss) / p::kLossScale);
    }
    on_nak(i, *nak);
  } else if (const auto* c = std::get_if<p::Complete>(&fb->feedback)) {
    on_complete(*fb, *c, *h, bytes, from, now);
  } else {
    drop_feedback();
  }
}

void SenderSession::drop_feedback() {
  ++stats_.feedback_dropped;
  ++feedback_now().dropped;
}

// A LOSS-REPORT (its MAC checked, no signature: rate_control.hpp): one per host per probe.
void SenderSession::on_loss_report(const p::SignedFeedback& fb, const p::LossReport& report) {
  HostReport* from_host = receipts_.maced_feedback(fb);
  // One report per host per probe: a copy, or an older report replayed, counts no more.
  std::uint32_t* last = from_host ? &last_report_probe_[receipts_.index_of(*from_host)] : nullptr;
  if (from_host == nullptr || report.file_id != config_.file_id || report.probe <= *last) {
    return drop_feedback();
  }
  *last = report.probe;
  ++stats_.feedback_received;
  ++stats_.loss_reports;
  ++feedback_now().loss_reports;
  rate_.on_report(receipts_.index_of(*from_host), report);
}

// A verified COMPLETE: the host is done (once), and is acknowledged.
void SenderSession::on_complete(const p::SignedFeedback& fb, const p::Complete& c, HostReport& h,
                                std::span<const std::uint8_t> bytes, const p::Endpoint& from,
                                Clock::time_point now) {
  if (c.file_id != config_.file_id || c.digest != digest_) return drop_feedback();
  ++stats_.feedback_received;
  ++feedback_now().completes;
  const std::size_t i = receipts_.index_of(h);
  if (receipts_.complete(h, c.digest, now)) {
    host_needs_[i].clear();
    receipts_.note(h, "COMPLETE", p::text::hex(bytes));
  }
  // Acknowledge COMPLETE (the host repeats it until acknowledged), at most once per kAckEvery
  // for each host: replayed copies cost neither a signature nor a reflected packet.
  if (now < acked_at_[i] + kAckEvery) return;
  acked_at_[i] = now;
  p::CompleteAck ack{config_.file_id, {fb.signer}};
  std::array<std::uint8_t, p::kMaxControlDatagram> buf{};
  if (auto n = p::encode_feedback(ack, config_.session, key_, buf, fleet_); n && !out_.full()) {
    queue(std::span(buf.data(), n.value()), from);
    ++stats_.control_packets;
  }
}

// A host's NAK for one round may take several packets, each continuing where the previous one
// ended; one that starts again from the front replaces what the host said before. Only NAKs
// that answer this round's marker plan the next: one sent before it (a host's idle NAK, a late
// copy) is older than what the round sent since, and a host that completed meanwhile would get
// a copy of what it asked for (1,000 hosts, 2 MiB: a whole copy, wire 2.4).
void SenderSession::on_nak(std::size_t host, const p::Nak& nak) {
  auto& needs = host_needs_[host];
  if (hosts()[host].completed) return;
  // AUTH chunks the host lacks (it holds symbols it cannot check): sent again next round.
  for (const p::ChunkRequest& r : nak.chunk_requests) {
    if (r.block >= plan_.block_count()) continue;
    for (std::uint8_t c = 0; c < p::kAuthChunksPerBlock; ++c) {
      if (r.chunks & (1u << c)) requested_chunks_.emplace_back(r.block, c);
    }
    chunk_askers_.emplace_back(host, r.block);
  }
  if (nak.entries.empty() || nak.round != round_) return;
  const bool continues =
      nak.round == host_needs_round_[host] && !needs.empty() &&
      nak.entries.front().first_block >= std::uint64_t{needs.back().first_block} + needs.back().run;
  if (!continues) needs.clear();
  host_needs_round_[host] = nak.round;
  needs.insert(needs.end(), nak.entries.begin(), nak.entries.end());
}

}  // namespace fleetcast::sender
