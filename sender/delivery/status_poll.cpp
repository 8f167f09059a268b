#include "sender/delivery/status_poll.hpp"
#include "protocol/io/clock.hpp"

#include <algorithm>
#include <ctime>

namespace fleetcast::sender {
namespace p = protocol;

StatusPoll::StatusPoll(const std::vector<StatusQuery>& queries, p::Endpoint ctrl_group,
                       const p::SecretKey& key, Clock::time_point now, Clock::duration limit)
    : queries_(queries),
      ctrl_group_(ctrl_group),
      key_(key),
      fleet_(p::fleet_key(key)),
      end_(now + limit),
      next_(now) {
  for (const StatusQuery& q : queries_) receipts_.emplace_back(q.hosts, q.name, q.session);
  for (Receipts& r : receipts_) r.authenticate(key_);
  done_ = queries_.empty();
}

void StatusPoll::observe(const std::function<Receipts::Observer(std::size_t)>& observer) {
  for (std::size_t i = 0; i < receipts_.size(); ++i) receipts_[i].observe(observer(i));
}

void StatusPoll::on_datagram(std::span<const std::uint8_t> bytes, const p::Endpoint& from,
                             Clock::time_point now) {
  const std::string_view line(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  // Only a FIN answers; the session it names picks the receipts that verify it (once).
  const auto parsed = p::parse_command(p::split_line_mac(line).signed_line);
  const auto* fin = parsed ? std::get_if<p::Fin>(&parsed->command) : nullptr;
  if (fin == nullptr) return;
  for (std::size_t i = 0; i < queries_.size(); ++i) {
    if (queries_[i].session == fin->session && queries_[i].name == fin->name) {
      (void)receipts_[i].on_command(line, from, now);
      return;
    }
  }
}

bool StatusPoll::all_answered() const {
  return std::all_of(receipts_.begin(), receipts_.end(), [](const Receipts& r) {
    return std::all_of(r.hosts().begin(), r.hosts().end(),
                       [](const HostReport& h) { return h.fin; });
  });
}

std::size_t StatusPoll::answered() const {
  std::size_t n = 0;
  for (const Receipts& r : receipts_) {
    n += static_cast<std::size_t>(std::count_if(r.hosts().begin(), r.hosts().end(),
                                                [](const HostReport& h) { return h.fin; }));
  }
  return n;
}

std::size_t StatusPoll::asked() const {
  std::size_t n = 0;
  for (const Receipts& r : receipts_) n += r.hosts().size();
  return n;
}

void StatusPoll::tick(Clock::time_point now, p::Transport& t) {
  if (done_) return;
  done_ = now >= end_ || all_answered();
  if (done_ || now < next_) return;
  for (std::size_t i = 0; i < queries_.size(); ++i) {
    const auto& hs = receipts_[i].hosts();
    if (std::all_of(hs.begin(), hs.end(), [](const HostReport& h) { return h.fin; })) continue;
    const p::StatusRequest req{queries_[i].name, queries_[i].session, p::io::wall_seconds(),
                               p::Targets::all()};
    if (auto line = p::encode_maced_command(req, key_, fleet_)) {
      const p::Datagram d{p::as_bytes(line.value()), ctrl_group_};
      (void)t.send(std::span(&d, 1));
    }
  }
  next_ = now + std::chrono::seconds(1);
}

Clock::time_point StatusPoll::next_wakeup(Clock::time_point now) const {
  return std::max(now, std::min(next_, end_));
}

}  // namespace fleetcast::sender
