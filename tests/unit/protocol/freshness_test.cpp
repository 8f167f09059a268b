// Replays refused before any signature (protocol/freshness.hpp): per (verb, session) a line
// older than the newest verified one is a replay, a command acts once per time value, and an
// ABORT ends its session's announcements.
#include "protocol/freshness.hpp"

#include <gtest/gtest.h>

namespace fleetcast::protocol {
namespace {

Stamp stamp(const Command& c) {
  return stamp_of(c).value();
}

// Older lines of a session are replays; the newest may repeat; other sessions and other verbs
// are kept apart.
TEST(replayed, OlderLinesOfASessionAreReplays) {
  Freshness f;
  const Stamp status10 = stamp(StatusRequest{"b", {7}, 1000});
  const Stamp status11 = stamp(StatusRequest{"b", {7}, 1001});
  const Stamp other = stamp(StatusRequest{"b", {8}, 900});
  const Stamp activate = stamp(Activate{"b", {7}, 1, {}, 0, {}, 900});
  EXPECT_FALSE(f.older(status10));
  f.seen(status11);
  EXPECT_TRUE(f.older(status10));
  EXPECT_FALSE(f.older(status11)) << "the newest itself (the cache knows its bytes)";
  EXPECT_FALSE(f.older(other));
  EXPECT_FALSE(f.older(activate));
  EXPECT_FALSE(stamp_of(Fin{}).has_value()) << "a host's command carries no manager time";
}

// A command acts once per time value: replaying the newest line changes nothing.
TEST(replayed, ACommandActsOncePerTime) {
  Freshness f;
  const Stamp s1 = stamp(StatusRequest{"b", {7}, 1000});
  const Stamp s2 = stamp(StatusRequest{"b", {7}, 1001});
  EXPECT_TRUE(f.act(s1));
  EXPECT_FALSE(f.act(s1));
  EXPECT_TRUE(f.act(s2));
  EXPECT_FALSE(f.act(s1));
}

// After an ABORT at time T, the session's announcements up to T are replays.
TEST(replayed, AbortEndsItsAnnouncements) {
  Freshness f;
  Update u;
  u.session = {7};
  u.time = 1000;
  f.seen(stamp(u));
  f.close_announcements({7}, 1005);
  u.time = 1005;
  EXPECT_TRUE(f.older(stamp(u)));
  u.time = 1006;
  EXPECT_FALSE(f.older(stamp(u))) << "a manager that announces it again later";
}

// The table is bounded: the oldest entries go first.
TEST(replayed, TableIsBounded) {
  Freshness f;
  for (std::uint64_t i = 1; i <= 2 * Freshness::kMaxEntries; ++i) {
    f.seen(stamp(StatusRequest{"b", {i}, 1000 + i}));
  }
  EXPECT_FALSE(f.older(stamp(StatusRequest{"b", {1}, 5})));
  EXPECT_TRUE(f.older(stamp(StatusRequest{"b", {2 * Freshness::kMaxEntries}, 5})));
}

}  // namespace
}  // namespace fleetcast::protocol
