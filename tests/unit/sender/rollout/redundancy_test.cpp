// Redundancy groups (sender/rollout/redundancy.hpp): what the inventory accepts, how the wave
// planner orders members (the primary / master last, never two in one wave), and the tracker
// never touching a member whose predecessor did not apply.
#include "sender/rollout/redundancy.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "sender/fleet/inventory.hpp"
#include "tests/unit/protocol/test_keys.hpp"

namespace fleetcast::sender {
namespace {

std::vector<Amount> waves(const char* text) {
  return parse_waves(text, nullptr).value();
}

RedundancyGroup pair(std::string name, std::string primary, std::string secondary) {
  return {std::move(name),
          Service::dhcpd,
          {{std::move(primary), "primary"}, {std::move(secondary), "secondary"}}};
}

std::size_t wave_of(const RedundantPlan& p, std::size_t host) {
  for (std::size_t w = 0; w < p.waves.size(); ++w) {
    for (std::size_t h : p.waves[w]) {
      if (h == host) return w;
    }
  }
  ADD_FAILURE() << "host " << host << " is in no wave";
  return 99;
}

TEST(Redundancy, GroupsAreChecked) {
  const std::vector<std::string> hosts{"r1", "r2", "r3", "r4"};
  EXPECT_EQ(check_groups({pair("a", "r1", "r2"), pair("b", "r3", "r4")}, hosts), "");
  EXPECT_NE(check_groups({pair("a", "r1", "r2"), pair("b", "r2", "r3")}, hosts)
                .find("r2 is in two dhcpd groups: a and b"),
            std::string::npos);
  // The same host in a dhcpd pair and a CARP group: two services, allowed.
  RedundancyGroup carp{"gw", Service::carp, {{"r1", "master"}, {"r3", "backup"}, {"r4", "backup"}}};
  EXPECT_EQ(check_groups({pair("a", "r1", "r2"), carp}, hosts), "");
  RedundancyGroup one{"solo", Service::kea, {{"r1", "primary"}}};
  EXPECT_NE(check_groups({one}, hosts).find("needs at least two"), std::string::npos);
  EXPECT_NE(check_groups({pair("a", "r1", "r9")}, hosts).find("r9 is not an inventory host"),
            std::string::npos);
  RedundancyGroup bad_role{"k", Service::kea, {{"r1", "primary"}, {"r2", "master"}}};
  EXPECT_NE(check_groups({bad_role}, hosts).find("role 'master'"), std::string::npos);
  RedundancyGroup two_primaries{"k", Service::kea, {{"r1", "primary"}, {"r2", "primary"}}};
  EXPECT_NE(check_groups({two_primaries}, hosts).find("exactly one primary"), std::string::npos);
  RedundancyGroup three{
      "d", Service::dhcpd, {{"r1", "primary"}, {"r2", "secondary"}, {"r3", "secondary"}}};
  EXPECT_NE(check_groups({three}, hosts).find("a pair"), std::string::npos);
  EXPECT_NE(check_groups({pair("a", "r1", "r2"), pair("a", "r3", "r4")}, hosts).find("twice"),
            std::string::npos);
  EXPECT_EQ(pair("a", "r1", "r2").describe(), "dhcpd a: r2 (secondary) then r1 (primary)");
}

// The secondary goes first and the primary waits for it in a later wave; other hosts keep
// their order.
TEST(Redundancy, SecondaryFirstPrimaryLater) {
  const std::vector<std::string> targets{"r1", "r2", "s1", "s2", "s3", "s4"};
  const auto p = plan_redundant_waves(waves("1,50%,100%"), targets, {pair("a", "r1", "r2")});
  EXPECT_TRUE(p.violations.empty());
  EXPECT_LT(wave_of(p, 1), wave_of(p, 0));
  EXPECT_EQ(p.waves.front(), std::vector<std::size_t>{1}) << "the secondary is the canary";
  ASSERT_EQ(p.before[0].size(), 1u);
  EXPECT_EQ(p.before[0][0].host, 1u);
  EXPECT_NE(p.before[0][0].why.find("r1 (primary) waits for r2 (secondary)"), std::string::npos);
  EXPECT_TRUE(p.before[1].empty());
  // A group with one targeted member constrains nothing.
  const auto q = plan_redundant_waves(waves("100%"), {"r1", "s1"}, {pair("a", "r1", "r2")});
  EXPECT_TRUE(q.violations.empty());
  EXPECT_EQ(q.waves.size(), 1u);
}

// Members the steps put together are moved a wave later; a plan with too few waves is a
// violation naming the group and both hosts.
TEST(Redundancy, MovesAndViolations) {
  const RedundancyGroup carp{
      "gw", Service::carp, {{"m", "master"}, {"b1", "backup"}, {"b2", "backup"}}};
  const std::vector<std::string> targets{"m", "b1", "b2", "p", "s"};
  // In rollout order b1, s, b2, p, m: wave 2 would hold s and p, so p moves to wave 3.
  const auto ok = plan_redundant_waves(waves("1,4,100%"), targets, {carp, pair("a", "p", "s")});
  EXPECT_TRUE(ok.violations.empty());
  EXPECT_LT(wave_of(ok, 1), wave_of(ok, 2));
  EXPECT_LT(wave_of(ok, 2), wave_of(ok, 0));
  EXPECT_LT(wave_of(ok, 4), wave_of(ok, 3));
  ASSERT_EQ(ok.notes.size(), 1u);
  EXPECT_EQ(ok.notes[0], "p (primary of a) moved to wave 3, after s (secondary)");
  const auto bad = plan_redundant_waves(waves("100%"), targets, {carp});
  ASSERT_FALSE(bad.violations.empty());
  EXPECT_NE(
      bad.violations[0].find("carp group gw: b2 (backup) would be in wave 1 with or before b1"),
      std::string::npos)
      << bad.violations[0];
}

// A secondary that fails halts the rollout before its primary's wave, whatever --max-fail
// tolerates: the primary keeps the bundle held, untouched.
TEST(Redundancy, FailedSecondaryHaltsBeforePrimary) {
  const std::vector<std::string> targets{"r1", "r2", "s1"};
  const auto p = plan_redundant_waves(waves("1,100%"), targets, {pair("a", "r1", "r2")});
  WaveTracker t(p.waves, targets.size(), Amount{5, false});
  for (std::size_t h = 0; h < p.before.size(); ++h) {
    for (const auto& b : p.before[h]) t.require_applied(h, b.host, b.why);
  }
  t.distributed(std::vector<bool>{true, true, true});
  ASSERT_EQ(t.start_next_wave(), std::optional<std::size_t>(0));
  t.result(1, false);  // r2, the secondary: rolled back (its health gate failed)
  EXPECT_FALSE(t.halted()) << "one failure is tolerated by --max-fail 5";
  EXPECT_EQ(t.start_next_wave(), std::nullopt);
  EXPECT_TRUE(t.halted());
  EXPECT_NE(t.halt_reason().find("r1 (primary) waits for r2 (secondary) to apply, which is failed"),
            std::string::npos)
      << t.halt_reason();
  EXPECT_EQ(t.state(0), HostState::held);
  // And when it applied, the primary follows.
  WaveTracker good(p.waves, targets.size(), Amount{0, false});
  for (const auto& b : p.before[0]) good.require_applied(0, b.host, b.why);
  good.distributed(std::vector<bool>{true, true, true});
  ASSERT_EQ(good.start_next_wave(), std::optional<std::size_t>(0));
  good.result(1, true);
  EXPECT_EQ(good.start_next_wave(), std::optional<std::size_t>(1));
  EXPECT_EQ(good.state(0), HostState::activated);
}

// The inventory keeps groups across save and load, and refuses bad ones with the line.
// A push to a pair applies it in turns (issue 26, item 8): the secondaries and every host
// outside a group first, the primaries next; a CARP group of three takes three turns; a push
// that names one member of a group only, or no group, applies everywhere at once.
TEST(harden_turns, PushAppliesGroupMembersInTurns) {
  const std::vector<std::string> hosts{"r1", "r2", "x", "c1", "c2", "c3"};
  const std::vector<RedundancyGroup> groups{
      pair("a", "r1", "r2"),
      {"v", Service::carp, {{"c1", "master"}, {"c2", "backup"}, {"c3", "backup"}}}};
  const auto steps = turn_steps(hosts, groups);
  ASSERT_EQ(steps.size(), 3u);
  const auto plan = plan_redundant_waves(steps, hosts, groups);
  EXPECT_TRUE(plan.violations.empty());
  ASSERT_EQ(plan.waves.size(), 3u);
  EXPECT_EQ(wave_of(plan, 1), 0u) << "r2 (secondary) first";
  EXPECT_EQ(wave_of(plan, 2), 0u) << "x, in no group, at once";
  EXPECT_EQ(wave_of(plan, 0), 1u) << "r1 (primary) after r2";
  EXPECT_EQ(wave_of(plan, 3), 2u) << "c1 (master) last";
  EXPECT_EQ(plan.before[0].size(), 1u) << "r1 waits for r2's result";
  EXPECT_TRUE(turn_steps({"r1", "x"}, groups).empty()) << "one member: no turns";
  EXPECT_TRUE(turn_steps(hosts, {}).empty());
}

TEST(Redundancy, InventoryLines) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("fleetcast-redundancy-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Inventory inv;
  for (std::uint8_t i = 1; i <= 3; ++i) {
    inv.add(Host{"r" + std::to_string(i), protocol::testing::seeded_key(i).public_key(), {}});
  }
  inv.set_redundancy(pair("dhcp-a", "r1", "r2"));
  EXPECT_THROW(inv.set_redundancy(pair("dhcp-b", "r2", "r3")), InventoryError);
  inv.save(dir / "inv");
  const Inventory back = Inventory::load(dir / "inv");
  ASSERT_EQ(back.redundancy().size(), 1u);
  EXPECT_EQ(back.redundancy()[0].describe(), "dhcpd dhcp-a: r2 (secondary) then r1 (primary)");
  {
    std::ofstream out(dir / "bad");
    out << "redundancy solo kea r1=primary\n";
  }
  try {
    (void)Inventory::load(dir / "bad");
    ADD_FAILURE() << "a group with one member was accepted";
  } catch (const InventoryError& e) {
    EXPECT_NE(std::string(e.what()).find(":1: kea group solo: has 1 member(s)"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fleetcast::sender
