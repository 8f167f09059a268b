#include "sender/session.hpp"

#include <algorithm>
#include <cmath>

namespace fleetcast::sender {
namespace p = protocol;
namespace {

constexpr std::size_t kSlots = 64;  // datagrams built ahead of the transport
constexpr double kMaxLossEstimate = 0.6;
constexpr auto kWaitSlack = 250ms;
// Repair margin in standard deviations of the binomial loss. Each round is sized for the worst
// host of each block, so a large margin is paid on every block while it only saves the rare
// extra round (which costs one NAK window); 0.5 keeps the wire ratio near 1/(1-p).
constexpr double kRepairMargin = 0.5;

std::uint8_t esi_of(std::uint32_t t) {
  return static_cast<std::uint8_t>(t % fec::kMaxEncodingSymbols);
}

}  // namespace

SenderSession::SenderSession(SessionConfig config, std::vector<std::uint8_t> file,
                             std::vector<const Host*> targets, const p::SecretKey& key,
                             Clock::time_point now)
    : config_(std::move(config)),
      file_(std::move(file)),
      key_(key),
      plan_(fec::BlockPlan::make(file_.size(), config_.symbol_size, config_.max_k).value()),
      codec_(fec::make_isal_codec()),
      digest_(p::digest(file_)),
      pacer_(config_.rate, 64 * (config_.symbol_size + p::kHeaderBytes + kWireOverhead)),
      start_(now) {
  file_.resize(plan_.symbol_count() * plan_.symbol_size(), 0);  // zero padding of the last symbol
  for (const Host* h : targets) {
    HostReport r;
    r.host = h;
    host_index_.emplace(p::key_id(h->key).value, hosts_.size());
    hosts_.push_back(std::move(r));
  }
  const std::uint32_t blocks = plan_.block_count();
  sent_.assign(blocks, 0);
  need_.assign(blocks, 0);
  round_count_.assign(blocks, 0);
  round_first_.assign(blocks, 0);
  parity_slot_.resize(blocks);

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
  auto line = p::encode_command(u, key_);
  if (!line) {  // every field came from validated config: a failure here is a bug
    throw std::logic_error("UPDATE does not encode: " + p::to_string(line.failure()));
  }
  update_line_ = std::move(line.value());

  const std::size_t slot =
      std::max<std::size_t>(p::kHeaderBytes + config_.symbol_size, p::kMaxControlDatagram);
  out_buffer_.resize(kSlots * slot);
}

std::size_t SenderSession::registered() const {
  return static_cast<std::size_t>(std::count_if(hosts_.begin(), hosts_.end(),
                                                [](const HostReport& h) { return h.registered; }));
}
std::size_t SenderSession::completed() const {
  return static_cast<std::size_t>(
      std::count_if(hosts_.begin(), hosts_.end(), [](const HostReport& h) { return h.completed; }));
}
bool SenderSession::success() const {
  return !hosts_.empty() && completed() == hosts_.size();
}
std::size_t SenderSession::fins_with(p::FinStatus status) const {
  return static_cast<std::size_t>(
      std::count_if(hosts_.begin(), hosts_.end(),
                    [&](const HostReport& h) { return h.fin && h.fin_status == status; }));
}
bool SenderSession::fins_settled() const {
  return std::all_of(hosts_.begin(), hosts_.end(),
                     [](const HostReport& h) { return !h.completed || h.fin; });
}

// STATUS on the ctrl group: every host of the session re-sends its FIN (or RECV).
void SenderSession::request_status(Clock::time_point now, p::Transport& t) {
  const p::StatusRequest s{config_.name, config_.session, config_.wall_time};
  if (auto line = p::encode_command(s, key_)) {
    queue(p::as_bytes(line.value()), config_.ctrl_group);
    ++stats_.control_packets;
    flush(t);
  }
  next_status_ = now + config_.status_interval;
}

// Every registered host still receiving has answered the current round.
bool SenderSession::all_answered() const {
  return std::all_of(hosts_.begin(), hosts_.end(), [&](const HostReport& h) {
    return !h.registered || h.completed || h.denied || h.last_nak_round == round_;
  });
}

bool SenderSession::all_settled() const {
  return std::all_of(hosts_.begin(), hosts_.end(),
                     [](const HostReport& h) { return h.completed || h.denied; });
}

Clock::duration SenderSession::nak_window() const {
  return config_.nak_window + std::chrono::microseconds(200) * static_cast<int>(registered());
}

HostReport* SenderSession::host_by_key(p::KeyId id) {
  const auto it = host_index_.find(id.value);
  return it == host_index_.end() ? nullptr : &hosts_[it->second];
}

// --- output ---------------------------------------------------------------------------------

std::span<std::uint8_t> SenderSession::next_slot() {
  const std::size_t slot = out_buffer_.size() / kSlots;
  return std::span(out_buffer_).subspan(out_used_ * slot, slot);
}

void SenderSession::commit(std::size_t n, const p::Endpoint& to) {
  out_.push_back(p::Datagram{next_slot().first(n), to});
  ++out_used_;
  stats_.wire_bytes += n + kWireOverhead;
  round_sent_bytes_ += n + kWireOverhead;
}

void SenderSession::queue(std::span<const std::uint8_t> bytes, const p::Endpoint& to) {
  std::copy(bytes.begin(), bytes.end(), next_slot().begin());
  commit(bytes.size(), to);
}

// ROUND on the data group: the round is over, NAK within the window.
void SenderSession::queue_round_marker() {
  const auto window = std::chrono::duration_cast<std::chrono::milliseconds>(nak_window());
  const p::Round r{config_.file_id, round_, sequence_, static_cast<std::uint32_t>(window.count())};
  std::array<std::uint8_t, p::kMaxControlDatagram> buf{};
  if (auto n = p::encode_feedback(r, config_.session, key_, buf)) {
    queue(std::span(buf.data(), n.value()), config_.data_group);
    ++stats_.control_packets;
  }
}

// Offers queued datagrams; true when the queue is empty afterwards.
bool SenderSession::flush(p::Transport& t) {
  if (out_next_ < out_.size()) {
    out_next_ += t.send(std::span(out_).subspan(out_next_));
  }
  if (out_next_ == out_.size()) {
    out_.clear();
    out_next_ = 0;
    out_used_ = 0;
    return true;
  }
  return false;
}

// --- time -----------------------------------------------------------------------------------

void SenderSession::tick(Clock::time_point now, p::Transport& t) {
  if (phase_ == Phase::done) return;
  if (!flush(t)) return;
  if (phase_ == Phase::fin) {
    if (fins_settled() || now >= fin_deadline_) return finish(now, t, false);
    if (now >= next_status_) request_status(now, t);
    return;
  }
  if (all_settled() && phase_ != Phase::announce) return finish(now, t, false);
  if (now - start_ >= config_.deadline) return finish(now, t, true);
  if (now >= next_announce_) announce(now, t);
  switch (phase_) {
    case Phase::announce: {
      const bool everyone = registered() + static_cast<std::size_t>(std::count_if(
                                               hosts_.begin(), hosts_.end(),
                                               [](const HostReport& h) { return h.denied; })) ==
                            hosts_.size();
      if (all_settled()) return finish(now, t, false);
      if (everyone || (now - start_ >= config_.registration_timeout && registered() > 0)) {
        std::fill(need_.begin(), need_.end(), 0);
        for (std::uint32_t b = 0; b < plan_.block_count(); ++b) need_[b] = plan_.source_symbols(b);
        start_round(now);
      } else if (now - start_ >= config_.registration_timeout) {
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
        flush(t);
      }
      if (now >= wait_until_ || all_answered()) end_wait(now);
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
  switch (phase_) {
    case Phase::announce:
      t = std::min(t, start_ + config_.registration_timeout);
      break;
    case Phase::stream:
      t = std::min(t, pacer_.ready_at(config_.symbol_size + p::kHeaderBytes + kWireOverhead, now));
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
  queue(p::as_bytes(update_line_), config_.ctrl_group);
  ++stats_.control_packets;
  flush(t);
  // Fast while hosts register; slower later, for hosts that (re)start during the transfer.
  next_announce_ =
      now + (phase_ == Phase::announce ? config_.announce_interval : 5 * config_.announce_interval);
}

// --- rounds ---------------------------------------------------------------------------------

void SenderSession::start_round(Clock::time_point now) {
  const std::uint32_t blocks = plan_.block_count();
  const std::size_t s = plan_.symbol_size();
  std::vector<std::uint32_t> counts(blocks, 0);
  std::size_t parity_total = 0;
  for (std::uint32_t b = 0; b < blocks; ++b) {
    if (need_[b] == 0) continue;
    const std::uint32_t k = plan_.source_symbols(b);
    std::uint32_t c;
    if (stats_.rounds == 0) {
      c = k + static_cast<std::uint32_t>(std::ceil(config_.proactive * k));
    } else {
      const double p = stats_.loss_estimate;
      const double need = need_[b];
      c = static_cast<std::uint32_t>(
          std::ceil((need + kRepairMargin * std::sqrt(need * p)) / (1.0 - p)));
      if (p > 0 && need_[b] <= 2) ++c;  // one symbol short would cost a whole round
    }
    counts[b] = c;
    for (std::uint32_t i = 0; i < c; ++i)
      if (esi_of(sent_[b] + i) >= k) ++parity_total;
  }
  // Encode every parity symbol of the round, one codec call per block.
  round_parity_.assign(parity_total * s, 0);
  std::size_t slot = 0;
  std::vector<fec::Symbol> src;
  std::vector<std::uint8_t> esis;
  std::vector<fec::MutableSymbol> out;
  for (std::uint32_t b = 0; b < blocks; ++b) {
    parity_slot_[b].assign(counts[b], 0);
    if (counts[b] == 0) continue;
    const std::uint32_t k = plan_.source_symbols(b);
    esis.clear();
    out.clear();
    for (std::uint32_t i = 0; i < counts[b]; ++i) {
      const std::uint8_t e = esi_of(sent_[b] + i);
      if (e < k) continue;
      parity_slot_[b][i] = slot;
      esis.push_back(e);
      out.emplace_back(&round_parity_[slot * s], s);
      ++slot;
    }
    if (esis.empty()) continue;
    src.clear();
    const std::uint64_t first = plan_.first_symbol(b);
    for (std::uint32_t j = 0; j < k; ++j) src.emplace_back(&file_[(first + j) * s], s);
    if (codec_->encode(src, esis, out) != fec::Status::ok) {
      throw std::logic_error("encode failed for a valid block");
    }
  }
  round_first_ = sent_;
  round_count_ = counts;
  std::fill(need_.begin(), need_.end(), 0);
  order_ = std::make_unique<fec::Interleaver>(counts);
  round_ = ++stats_.rounds;
  round_sent_bytes_ = 0;
  round_total_bytes_ = order_->total() * (plan_.symbol_size() + p::kHeaderBytes + kWireOverhead);
  phase_ = Phase::stream;
  (void)now;
}

void SenderSession::stream(Clock::time_point now, p::Transport& t) {
  const std::size_t s = plan_.symbol_size();
  const std::uint64_t cost = s + p::kHeaderBytes + kWireOverhead;
  fec::BlockSymbol next{};
  while (out_used_ < kSlots && pacer_.available(now) >= cost) {
    if (!order_->next(next)) {
      queue_round_marker();  // end of the round: hosts NAK now, spread over the window
      phase_ = Phase::wait;
      second_round_marker_ = now + nak_window() / 4;
      round_marker_repeated_ = false;
      // Normally every incomplete host has NAKed well before this; the timeout covers hosts that
      // lost both round markers or are busy draining a deep receive buffer.
      wait_until_ = now + 3 * nak_window() + kWaitSlack;
      break;
    }
    const std::uint32_t b = next.block;
    const std::uint32_t k = plan_.source_symbols(b);
    const std::uint8_t e = esi_of(round_first_[b] + next.index);
    const std::uint8_t* payload = e < k ? &file_[(plan_.first_symbol(b) + e) * s]
                                        : &round_parity_[parity_slot_[b][next.index] * s];
    const std::size_t n = p::encode_symbol(
        p::SymbolPacket{e >= k, config_.file_id, sequence_++, b, e, std::span(payload, s)},
        next_slot());
    commit(n, config_.data_group);
    pacer_.consume(cost);
    ++sent_[b];
    ++(e >= k ? stats_.parity_packets : stats_.data_packets);
  }
  flush(t);
}

void SenderSession::end_wait(Clock::time_point now) {
  // Repair is sized by the worst loss any host measured in the round just ended; without a
  // report the previous estimate stands.
  if (round_loss_ >= 0) stats_.loss_estimate = std::clamp(round_loss_, 0.0, kMaxLossEstimate);
  round_loss_ = -1;
  start_round(now);  // an empty round only re-sends the round marker: lost NAKs get a new chance
}

void SenderSession::finish(Clock::time_point now, p::Transport& t, bool aborted) {
  if (!aborted && config_.collect_fin && phase_ != Phase::fin && !fins_settled()) {
    phase_ = Phase::fin;  // delivery is over; the applies are not
    fin_deadline_ = now + config_.fin_timeout;
    next_status_ = now + config_.status_interval;
    return;
  }
  if (aborted) {
    p::Abort a{config_.name, success() ? "" : "deadline passed", config_.session,
               config_.wall_time};
    if (auto line = p::encode_command(a, key_)) {
      queue(p::as_bytes(line.value()), config_.ctrl_group);
      flush(t);
    }
  }
  (void)now;
  phase_ = Phase::done;
}

// --- input ----------------------------------------------------------------------------------

void SenderSession::on_datagram(std::span<const std::uint8_t> bytes, const p::Endpoint& from,
                                Clock::time_point now) {
  if (bytes.empty()) return;
  if ((bytes[0] >> 4) == p::kWireVersion && (bytes[0] & 0x0f) < 0x0f) {
    on_feedback(bytes, from, now);
  } else {
    on_command(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), from,
               now);
  }
}

void SenderSession::on_command(std::string_view line, const p::Endpoint& from,
                               Clock::time_point now) {
  auto parsed = p::parse_command(line);
  HostReport* h = parsed ? host_by_key(parsed->signer) : nullptr;
  if (h == nullptr || !p::verify_command(parsed.value(), h->host->key)) {
    ++stats_.feedback_dropped;  // malformed, unknown host, or forged
    return;
  }
  if (auto* r = std::get_if<p::Recv>(&parsed->command)) {
    if (r->session != config_.session || r->host != h->host->name || r->name != config_.name) {
      ++stats_.feedback_dropped;
      return;
    }
    ++stats_.feedback_received;
    if (!h->registered) {
      h->registered = true;
      h->registered_at = now;
      h->have_at_registration = r->have;
      h->from = from;
    }
  } else if (auto* f = std::get_if<p::Fin>(&parsed->command)) {
    if (f->session != config_.session || f->host != h->host->name || f->name != config_.name) {
      ++stats_.feedback_dropped;
      return;
    }
    ++stats_.feedback_received;
    if (!h->fin) h->fin_at = now;
    h->fin = true;
    h->fin_status = f->status;
    h->fin_message = f->message;
    h->fin_version = f->version;
    h->fin_digest = f->digest;
  } else if (auto* d = std::get_if<p::Deny>(&parsed->command)) {
    if (d->session != config_.session || d->host != h->host->name) {
      ++stats_.feedback_dropped;
      return;
    }
    ++stats_.feedback_received;
    h->denied = true;
    h->deny_reason = d->reason;
  } else {
    ++stats_.feedback_dropped;
  }
}

void SenderSession::on_feedback(std::span<const std::uint8_t> bytes, const p::Endpoint& from,
                                Clock::time_point now) {
  auto parsed = p::parse_data_packet(bytes);
  const auto* fb = parsed ? std::get_if<p::SignedFeedback>(&parsed.value()) : nullptr;
  HostReport* h = fb != nullptr ? host_by_key(fb->signer) : nullptr;
  if (h == nullptr || fb->session != config_.session || !p::verify_feedback(*fb, h->host->key)) {
    ++stats_.feedback_dropped;
    return;
  }
  if (!h->registered) {  // feedback proves the host joined even if its RECV was lost
    h->registered = true;
    h->registered_at = now;
    h->from = from;
  }
  if (const auto* nak = std::get_if<p::Nak>(&fb->feedback)) {
    if (nak->file_id != config_.file_id) return;
    ++stats_.feedback_received;
    ++h->naks;
    h->last_nak_round = nak->round;
    if (nak->round == round_) {
      round_loss_ = std::max(round_loss_, static_cast<double>(nak->loss) / p::kLossScale);
    }
    for (const p::NakEntry& e : nak->entries) {
      for (std::uint32_t b = e.first_block; b < e.first_block + e.run && b < plan_.block_count();
           ++b) {
        need_[b] = std::max<std::uint32_t>(
            need_[b], std::min<std::uint32_t>(e.need, plan_.source_symbols(b)));
      }
    }
  } else if (const auto* c = std::get_if<p::Complete>(&fb->feedback)) {
    if (c->file_id != config_.file_id || c->digest != digest_) {
      ++stats_.feedback_dropped;
      return;
    }
    ++stats_.feedback_received;
    if (!h->completed) {
      h->completed = true;
      h->completed_at = now;
      h->digest = c->digest;
    }
    // Acknowledge every COMPLETE (the host repeats it until acknowledged).
    p::CompleteAck ack{config_.file_id, {fb->signer}};
    std::array<std::uint8_t, p::kMaxControlDatagram> buf{};
    if (auto n = p::encode_feedback(ack, config_.session, key_, buf); n && out_used_ < kSlots) {
      queue(std::span(buf.data(), n.value()), from);
      ++stats_.control_packets;
    }
  } else {
    ++stats_.feedback_dropped;
  }
}

}  // namespace fleetcast::sender
