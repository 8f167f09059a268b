// Maintenance windows (sender/fleet/window.hpp): local time in a zone, windows that span
// midnight, day lists, the next opening, DST gaps, and clear refusals.
#include "sender/fleet/window.hpp"

#include <date/date.h>
#include <gtest/gtest.h>

namespace fleetcast::sender {
namespace {

using namespace std::chrono;

SysSeconds utc(int y, unsigned m, unsigned d, int hh, int mm, int ss = 0) {
  return date::sys_days{date::year{y} / date::month{m} / date::day{d}} + hours(hh) + minutes(mm) +
         seconds(ss);
}

// Mon-Fri 22:00-05:00 in Tokyo (UTC+9): Monday 22:00 JST is 13:00 UTC; the Friday window ends
// Saturday 05:00 JST (Friday 20:00 UTC); nothing opens on the weekend.
TEST(Window, WeekdayNightsInTokyo) {
  std::string error;
  const auto w = Window::parse("Mon-Fri 22:00-05:00 Asia/Tokyo", &error);
  ASSERT_TRUE(w) << error;
  EXPECT_FALSE(w->contains(utc(2026, 11, 30, 12, 59, 59)));  // Mon 21:59:59 JST
  EXPECT_TRUE(w->contains(utc(2026, 11, 30, 13, 0)));        // Mon 22:00 JST
  EXPECT_TRUE(w->contains(utc(2026, 12, 4, 19, 59)));        // Sat 04:59 JST (Friday's)
  EXPECT_FALSE(w->contains(utc(2026, 12, 4, 20, 0)));        // Sat 05:00 JST
  EXPECT_FALSE(w->contains(utc(2026, 12, 5, 14, 0)));        // Sat 23:00 JST
  EXPECT_EQ(w->closes_at(utc(2026, 11, 30, 15, 0)), utc(2026, 11, 30, 20, 0));
  // From Saturday noon JST, the next opening is Monday 22:00 JST.
  EXPECT_EQ(w->next_open(utc(2026, 12, 5, 3, 0)), utc(2026, 12, 7, 13, 0));
  EXPECT_EQ(w->next_open(utc(2026, 11, 30, 14, 0)), utc(2026, 11, 30, 14, 0));  // inside
}

// Day lists and wrapping ranges; seconds in the times.
TEST(Window, DayListsAndSeconds) {
  const auto w = Window::parse("Fri-Sun,Wed 01:00:30-01:00:45 UTC", nullptr);
  ASSERT_TRUE(w);
  EXPECT_TRUE(w->contains(utc(2026, 12, 6, 1, 0, 30)));   // Sunday
  EXPECT_FALSE(w->contains(utc(2026, 12, 6, 1, 0, 45)));  // closed
  EXPECT_FALSE(w->contains(utc(2026, 12, 7, 1, 0, 35)));  // Monday
  EXPECT_TRUE(w->contains(utc(2026, 12, 2, 1, 0, 40)));   // Wednesday
  EXPECT_EQ(w->next_open(utc(2026, 12, 7, 0, 0)), utc(2026, 12, 9, 1, 0, 30));
}

// A local time that does not exist (Berlin springs forward 02:00 -> 03:00 on 2026-03-29):
// the window opens at the end of the gap, and still closes later.
TEST(Window, DstGap) {
  const auto w = Window::parse("daily 02:30-04:00 Europe/Berlin", nullptr);
  ASSERT_TRUE(w);
  const SysSeconds open = w->next_open(utc(2026, 3, 28, 23, 0));
  EXPECT_EQ(open, utc(2026, 3, 29, 1, 0));  // 03:00 CEST, the end of the gap
  EXPECT_EQ(w->closes_at(open), utc(2026, 3, 29, 2, 0));
}

// Refusals name what is wrong.
TEST(Window, BadTextIsRefused) {
  std::string error;
  EXPECT_FALSE(Window::parse("Mon-Fri 22:00-05:00", &error));
  EXPECT_NE(error.find("DAYS"), std::string::npos);
  EXPECT_FALSE(Window::parse("Mon-Fry 22:00-05:00 UTC", &error));
  EXPECT_NE(error.find("Mon-Fry"), std::string::npos);
  EXPECT_FALSE(Window::parse("daily 24:00-05:00 UTC", &error));
  EXPECT_FALSE(Window::parse("daily 05:00-05:00 UTC", &error));
  EXPECT_FALSE(Window::parse("daily 22:00-05:00 Mars/Olympus", &error));
  EXPECT_NE(error.find("Mars/Olympus"), std::string::npos);
}

// rollout start --at: now, +SECONDS, or a UTC time; anything else is refused.
TEST(Window, Instants) {
  const SysSeconds now = utc(2026, 11, 29, 1, 2, 3);
  EXPECT_EQ(parse_instant("now", now), now);
  EXPECT_EQ(parse_instant("+90", now), now + seconds(90));
  EXPECT_EQ(parse_instant("2026-12-24T22:00:00Z", now), utc(2026, 12, 24, 22, 0));
  EXPECT_FALSE(parse_instant("+", now));
  EXPECT_FALSE(parse_instant("+-5", now));
  EXPECT_FALSE(parse_instant("2026-12-24 22:00", now));
  EXPECT_FALSE(parse_instant("2026-12-24T22:00:00Zx", now));
  EXPECT_FALSE(parse_instant("tomorrow", now));
}

// A host in two groups is activated only where both windows overlap: a Tokyo weeknight window
// and a UTC window, the next instant inside both, the first closing, and sets that never meet.
TEST(WindowSet, IntersectionOfWindows) {
  WindowSet set;
  EXPECT_TRUE(set.contains(utc(2026, 11, 30, 0, 0)));  // no window: any time
  EXPECT_EQ(set.text(), "any time");
  set.add(Window::parse("Mon-Fri 22:00-05:00 Asia/Tokyo", nullptr).value());  // 13:00-20:00 UTC
  set.add(Window::parse("daily 18:00-23:00 UTC", nullptr).value());
  EXPECT_FALSE(set.contains(utc(2026, 11, 30, 14, 0)));  // Tokyo open, UTC not
  EXPECT_TRUE(set.contains(utc(2026, 11, 30, 18, 30)));
  EXPECT_EQ(set.next_open(utc(2026, 11, 30, 12, 0)), utc(2026, 11, 30, 18, 0));
  EXPECT_EQ(set.closes_at(utc(2026, 11, 30, 18, 30)), utc(2026, 11, 30, 20, 0));  // Tokyo first
  // From Friday 21:00 UTC (both closed; Tokyo reopens Monday) to Monday 18:00 UTC.
  EXPECT_EQ(set.next_open(utc(2026, 12, 4, 21, 0)), utc(2026, 12, 7, 18, 0));
  EXPECT_EQ(set.text(), "'Mon-Fri 22:00-05:00 Asia/Tokyo' and 'daily 18:00-23:00 UTC'");

  WindowSet never;
  never.add(Window::parse("daily 01:00-02:00 UTC", nullptr).value());
  never.add(Window::parse("daily 03:00-04:00 UTC", nullptr).value());
  EXPECT_FALSE(never.next_open(utc(2026, 11, 30, 0, 0)));
}

}  // namespace
}  // namespace fleetcast::sender
