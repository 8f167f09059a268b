#include "receiver/reception/fin_outbox.hpp"

#include <algorithm>
#include <iterator>

namespace fleetcast::receiver {
namespace p = protocol;
namespace {

using namespace std::chrono_literals;
// After the first send: again after 1 s, then after 2 s more.
constexpr Clock::duration kFinRepeats[] = {1s, 2s};

}  // namespace

void FinOutbox::keep(p::Fin fin, const p::Endpoint& reply, Clock::time_point first,
                     bool asked_only) {
  std::erase_if(out_, [&](const Out& o) { return o.fin.session == fin.session; });
  if (out_.size() == kMaxFins) out_.erase(out_.begin());
  out_.push_back(Out{std::move(fin), reply, asked_only ? Clock::time_point::max() : first,
                     asked_only ? static_cast<int>(std::size(kFinRepeats)) : 0});
}

void FinOutbox::ask(p::SessionId session, Clock::time_point at) {
  for (Out& o : out_) {
    if (o.fin.session == session) o.next = std::min(o.next, at);
  }
}

void FinOutbox::send_due(Clock::time_point now,
                         const std::function<bool(const p::Fin&, const p::Endpoint&)>& send) {
  for (Out& o : out_) {
    if (now < o.next) continue;
    p::Fin fin = o.fin;
    while (!send(fin, o.reply) && fin.message.size() > 3) {
      fin.message.replace(0, std::min(fin.message.size(), std::size_t{64}), "...");
    }
    const auto i = static_cast<std::size_t>(o.repeats++);
    o.next = i < std::size(kFinRepeats) ? now + kFinRepeats[i] : Clock::time_point::max();
  }
}

Clock::time_point FinOutbox::next_wakeup() const {
  Clock::time_point t = Clock::time_point::max();
  for (const Out& o : out_) t = std::min(t, o.next);
  return t;
}

std::size_t FinOutbox::pending() const {
  return static_cast<std::size_t>(
      std::count_if(out_.begin(), out_.end(), [](const Out& o) { return o.repeats == 0; }));
}

}  // namespace fleetcast::receiver
