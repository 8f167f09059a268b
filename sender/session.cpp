#include "sender/session.hpp"

#include <algorithm>
#include <cmath>

namespace fleetcast::sender {
namespace p = protocol;
namespace {

constexpr std::size_t kSlots = 64;  // datagrams built ahead of the transport
constexpr double kMaxLossEstimate = 0.6;
constexpr auto kWaitSlack = 250ms;

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
  host_needs_.resize(hosts_.size());
  host_needs_round_.assign(hosts_.size(), 0);
  mix_.resize(plan_.symbol_size());
  const std::size_t parts = std::clamp<std::size_t>(config_.max_parts, 1, p::kMaxMixedParts);
  max_packet_cost_ = (parts >= 2 ? p::mixed_datagram_bytes(parts, plan_.symbol_size())
                                 : p::kHeaderBytes + plan_.symbol_size()) +
                     kWireOverhead;

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
      std::max<std::size_t>(max_packet_cost_ - kWireOverhead, p::kMaxControlDatagram);
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
      t = std::min(t, pacer_.ready_at(max_packet_cost_, now));
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

// Round 0: every source symbol plus the proactive parity. Later rounds: what the NAKs ask for.
void SenderSession::start_round(Clock::time_point now) {
  RoundPackets packets;
  if (stats_.rounds == 0) {
    for (std::uint32_t b = 0; b < plan_.block_count(); ++b) {
      const std::uint32_t k = plan_.source_symbols(b);
      const auto c = k + static_cast<std::uint32_t>(std::ceil(config_.proactive * k));
      for (std::uint32_t i = 0; i < c; ++i) packets.add(std::span(&b, 1));
    }
  } else {
    packets =
        plan_repair(RepairInput{&plan_, host_needs_, stats_.loss_estimate, config_.max_parts});
    for (auto& needs : host_needs_) needs.clear();
  }
  assign_symbols(packets);
  encode_parity();
  round_ = ++stats_.rounds;
  round_sent_bytes_ = 0;
  phase_ = Phase::stream;
  (void)now;
}

// Gives each part the block's next ESI, each parity part a slot (a block's slots are contiguous,
// in ESI order, so encode_parity codes them in place), and each packet its lane (the block of
// its first part) for interleaving.
void SenderSession::assign_symbols(const RoundPackets& packets) {
  const std::uint32_t blocks = plan_.block_count();
  parts_.clear();
  packet_first_.assign(1, 0);
  parity_first_.assign(blocks + 1, 0);
  std::vector<std::uint32_t> lane_count(blocks, 0);
  round_total_bytes_ = 0;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const auto blocks_of = packets.packet(i);
    for (const std::uint32_t b : blocks_of) {
      const auto esi = esi_of(sent_[b]++);
      parts_.push_back(Part{b, esi, 0});
      if (esi >= plan_.source_symbols(b)) ++parity_first_[b + 1];
    }
    packet_first_.push_back(static_cast<std::uint32_t>(parts_.size()));
    ++lane_count[blocks_of[0]];
    round_total_bytes_ +=
        (blocks_of.size() > 1 ? p::mixed_datagram_bytes(blocks_of.size(), plan_.symbol_size())
                              : p::kHeaderBytes + plan_.symbol_size()) +
        kWireOverhead;
  }
  for (std::uint32_t b = 0; b < blocks; ++b) parity_first_[b + 1] += parity_first_[b];
  slot_esi_.resize(parity_first_[blocks]);
  std::vector<std::uint32_t> free_slot(parity_first_.begin(), parity_first_.end() - 1);
  for (Part& part : parts_) {
    if (part.esi < plan_.source_symbols(part.block)) continue;
    part.slot = free_slot[part.block]++;
    slot_esi_[part.slot] = part.esi;
  }
  round_parity_.assign(slot_esi_.size() * plan_.symbol_size(), 0);

  lane_first_.assign(blocks + 1, 0);
  for (std::uint32_t b = 0; b < blocks; ++b) lane_first_[b + 1] = lane_first_[b] + lane_count[b];
  lanes_.resize(packets.size());
  std::vector<std::uint32_t> fill(lane_first_.begin(), lane_first_.end() - 1);
  for (std::uint32_t i = 0; i < packets.size(); ++i) {
    lanes_[fill[parts_[packet_first_[i]].block]++] = i;
  }
  order_ = std::make_unique<fec::Interleaver>(std::move(lane_count));
}

// Encodes every parity symbol of the round, one codec call per block.
void SenderSession::encode_parity() {
  const std::size_t s = plan_.symbol_size();
  std::vector<fec::Symbol> src;
  std::vector<fec::MutableSymbol> out;
  for (std::uint32_t b = 0; b < plan_.block_count(); ++b) {
    const std::uint32_t first = parity_first_[b];
    const std::uint32_t count = parity_first_[b + 1] - first;
    if (count == 0) continue;
    out.clear();
    for (std::uint32_t i = first; i < first + count; ++i)
      out.emplace_back(&round_parity_[i * s], s);
    src.clear();
    const std::uint64_t first_symbol = plan_.first_symbol(b);
    for (std::uint32_t j = 0; j < plan_.source_symbols(b); ++j) {
      src.emplace_back(&file_[(first_symbol + j) * s], s);
    }
    if (codec_->encode(src, std::span(slot_esi_).subspan(first, count), out) != fec::Status::ok) {
      throw std::logic_error("encode failed for a valid block");
    }
  }
}

const std::uint8_t* SenderSession::symbol(const Part& part) const {
  const std::size_t s = plan_.symbol_size();
  return part.esi < plan_.source_symbols(part.block)
             ? &file_[(plan_.first_symbol(part.block) + part.esi) * s]
             : &round_parity_[part.slot * s];
}

std::size_t SenderSession::build_packet(std::uint32_t packet) {
  const std::size_t s = plan_.symbol_size();
  const auto parts = std::span(parts_).subspan(packet_first_[packet],
                                               packet_first_[packet + 1] - packet_first_[packet]);
  if (parts.size() == 1) {
    const Part& part = parts[0];
    const bool parity = part.esi >= plan_.source_symbols(part.block);
    ++(parity ? stats_.parity_packets : stats_.data_packets);
    return p::encode_symbol(p::SymbolPacket{parity, config_.file_id, sequence_++, part.block,
                                            part.esi, std::span(symbol(part), s)},
                            next_slot());
  }
  p::MixedPacket m;
  m.file_id = config_.file_id;
  m.sequence = sequence_++;
  m.count = static_cast<std::uint8_t>(parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) m.parts[i] = {parts[i].block, parts[i].esi};
  std::sort(m.parts.begin(), m.parts.begin() + m.count,
            [](const p::SymbolId& a, const p::SymbolId& b) { return a.sbn < b.sbn; });
  std::copy_n(symbol(parts[0]), s, mix_.begin());
  for (std::size_t i = 1; i < parts.size(); ++i) {
    fec::add_symbol(mix_, fec::Symbol(symbol(parts[i]), s));
  }
  m.payload = mix_;
  ++stats_.mixed_packets;
  return p::encode_mixed(m, next_slot());
}

void SenderSession::stream(Clock::time_point now, p::Transport& t) {
  fec::BlockSymbol next{};
  while (out_used_ < kSlots && pacer_.available(now) >= max_packet_cost_) {
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
    const std::size_t n = build_packet(lanes_[lane_first_[next.block] + next.index]);
    if (n == 0) throw std::logic_error("a data packet does not encode");
    commit(n, config_.data_group);
    pacer_.consume(n + kWireOverhead);
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
    on_nak(static_cast<std::size_t>(h - hosts_.data()), *nak);
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
      host_needs_[static_cast<std::size_t>(h - hosts_.data())].clear();
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

// A host's NAK for one round may take several packets, each continuing where the previous one
// ended; a packet of a newer round, or one that starts again from the front, replaces what the
// host said before. A late NAK of an older round is not used for planning.
void SenderSession::on_nak(std::size_t host, const p::Nak& nak) {
  auto& needs = host_needs_[host];
  if (hosts_[host].completed || nak.round < host_needs_round_[host]) return;
  const bool continues =
      nak.round == host_needs_round_[host] && !needs.empty() &&
      nak.entries.front().first_block >= std::uint64_t{needs.back().first_block} + needs.back().run;
  if (!continues) needs.clear();
  host_needs_round_[host] = nak.round;
  needs.insert(needs.end(), nak.entries.begin(), nak.entries.end());
}

}  // namespace fleetcast::sender
