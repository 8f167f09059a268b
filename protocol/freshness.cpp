#include "protocol/freshness.hpp"

#include <algorithm>
#include <type_traits>

namespace fleetcast::protocol {

std::optional<Stamp> stamp_of(const Command& command) {
  return std::visit(
      [&](const auto& c) -> std::optional<Stamp> {
        if constexpr (requires { c.time; }) {
          return Stamp{command.index(), std::decay_t<decltype(c)>::kVerb, c.name, c.session,
                       c.time};
        } else {
          return std::nullopt;
        }
      },
      command);
}

bool Freshness::older(const Stamp& s) const {
  const auto it = entries_.find(Key(s.kind, s.session.value));
  return it != entries_.end() && s.time < it->second.newest;
}

Freshness::Entry& Freshness::entry(const Stamp& s) {
  const Key key(s.kind, s.session.value);
  auto it = entries_.find(key);
  if (it != entries_.end()) return it->second;
  if (entries_.size() >= kMaxEntries) {
    entries_.erase(std::min_element(
        entries_.begin(), entries_.end(),
        [](const auto& a, const auto& b) { return a.second.newest < b.second.newest; }));
  }
  return entries_[key];
}

void Freshness::seen(const Stamp& s) {
  Entry& e = entry(s);
  e.newest = std::max(e.newest, s.time);
}

bool Freshness::act(const Stamp& s) {
  Entry& e = entry(s);
  if (e.acted != 0 && s.time <= e.acted) return false;
  e.acted = s.time;
  return true;
}

void Freshness::close_announcements(SessionId session, std::uint64_t time) {
  static_assert(std::is_same_v<std::variant_alternative_t<0, Command>, Update>);
  Entry& e = entry(Stamp{0, Update::kVerb, {}, session, time});
  e.newest = std::max(e.newest, time + 1);
  e.acted = std::max(e.acted, time);
}

}  // namespace fleetcast::protocol
