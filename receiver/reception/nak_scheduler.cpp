#include "receiver/reception/nak_scheduler.hpp"

#include <algorithm>

namespace fleetcast::receiver {
namespace p = protocol;

void NakScheduler::reset(Clock::time_point now) {
  round_ = 0;
  packets_ = 0;
  nak_at_ = Clock::time_point::max();
  last_data_ = now;
}

void NakScheduler::on_packet(std::uint32_t sequence, Clock::time_point now) {
  last_data_ = now;
  if (packets_++ == 0) first_seq_ = sequence;
}

void NakScheduler::stop() {
  packets_ = 0;
  nak_at_ = Clock::time_point::max();
}

void NakScheduler::on_round(const p::Round& r, Clock::duration delay, Clock::time_point now) {
  if (r.round <= round_) return;
  round_ = r.round;
  end_seq_ = r.next_sequence;
  nak_at_ = now + delay;
}

// Loss while listening: packets missed between the first one this process saw in the session
// and the end of the last round (cumulative, so small repair rounds do not make it noisy; an
// outage before the first packet is not counted).
std::uint16_t NakScheduler::loss() const {
  const std::uint32_t span = end_seq_ - first_seq_;
  if (packets_ == 0 || span < packets_ || span >= (1u << 31)) return 0;
  return static_cast<std::uint16_t>(p::kLossScale - packets_ * p::kLossScale / span);
}

std::vector<p::Nak> NakScheduler::due(Clock::time_point now, Clock::duration idle_after,
                                      const Assembler& a, std::uint16_t file_id) {
  if (nak_at_ == Clock::time_point::max() && listening() && now - last_data_ >= idle_after) {
    nak_at_ = now;  // no round marker reached us: ask anyway
    last_data_ = now;
  }
  if (now < nak_at_) return {};
  nak_at_ = Clock::time_point::max();
  const auto entries = a.missing(kMaxNakPackets * p::kMaxNakEntries);
  auto chunks = a.missing_chunks(p::kMaxNakChunkRequests);
  std::vector<p::Nak> out;
  const std::uint16_t measured = loss();
  // One NAK, in as many packets as its entries need (ascending: the manager joins them).
  for (std::size_t i = 0; i < entries.size(); i += p::kMaxNakEntries) {
    const auto part =
        std::span(entries).subspan(i, std::min(p::kMaxNakEntries, entries.size() - i));
    out.push_back(
        p::Nak{file_id, a.complete_prefix(), round_, {part.begin(), part.end()}, measured});
  }
  // AUTH chunks that symbols kept aside wait for: one more packet of the same NAK.
  if (!chunks.empty()) {
    p::Nak ask{file_id, a.complete_prefix(), round_, {}, measured};
    ask.chunk_requests = std::move(chunks);
    out.push_back(std::move(ask));
  }
  return out;
}

Clock::time_point NakScheduler::next_wakeup(Clock::duration idle_after) const {
  return listening() ? std::min(nak_at_, last_data_ + idle_after) : nak_at_;
}

}  // namespace fleetcast::receiver
