// One wave's ACTIVATE (sender/rollout/activation.hpp): lines that fit a datagram and name every
// host once, repeats with a fresh time, done on every host's result (a late `held` is none),
// forged or foreign FINs dropped, silent hosts left without a result at the timeout.
#include "sender/rollout/activation.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tests/unit/protocol/test_keys.hpp"

namespace fleetcast::sender {
namespace {

namespace p = protocol;

class Capture : public p::Transport {
 public:
  std::size_t send(std::span<const p::Datagram> ds) override {
    for (const auto& d : ds) lines.emplace_back(d.bytes.begin(), d.bytes.end());
    return ds.size();
  }
  std::vector<std::string> lines;
};

class ActivationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (std::uint8_t i = 0; i < 100; ++i) {
      keys_.push_back(p::testing::seeded_key(static_cast<std::uint8_t>(20 + i)));
      hosts_.push_back(Host{
          "school-" + std::to_string(i) + ".district.example.org", keys_.back().public_key(), {}});
    }
    for (const Host& h : hosts_) targets_.push_back(&h);
    config_.name = "school-dhcp-7.fcb";
    config_.session = {0x1234};
    config_.version = 7;
    config_.digest = p::digest(p::as_bytes("bundle"));
    config_.wave = 2;
    config_.ctrl_group = p::text::parse_endpoint("[ff15::f1ee:1]:4710", "").value();
    config_.wall_time = 1795000000;
    config_.timeout = 30s;
  }
  std::string fin(std::size_t host, p::FinStatus status, std::uint64_t session = 0x1234) {
    p::Fin f{config_.name, hosts_[host].name, "ok", {session}, status, 7, config_.digest};
    const auto mac = p::feedback_mac_key(keys_[host], manager_.public_key()).value();
    return p::encode_maced_command(f, keys_[host], mac).value();
  }
  void feed(Activation& a, const std::string& line, Clock::time_point now) {
    a.on_datagram(p::as_bytes(line), from_, now);
  }

  std::vector<p::SecretKey> keys_;
  std::vector<Host> hosts_;
  std::vector<const Host*> targets_;
  ActivationConfig config_;
  p::SecretKey manager_ = p::testing::seeded_key(0);
  p::Endpoint from_ = p::text::parse_endpoint("[fd00:fc::65]:40000", "").value();
};

// Every host is named in exactly one signed line that fits a datagram; repeats carry the time
// that passed.
TEST_F(ActivationTest, LinesFitAndNameEveryHostOnce) {
  const auto t0 = Clock::time_point{} + 1h;
  Activation a(config_, targets_, manager_, t0);
  Capture out;
  a.tick(t0, out);
  ASSERT_GT(out.lines.size(), 1u) << "100 long names do not fit one line";
  std::multiset<std::string> named;
  for (const std::string& line : out.lines) {
    EXPECT_LE(line.size(), p::kMaxControlDatagram);
    const auto maced = p::split_line_mac(line);
    EXPECT_TRUE(p::line_mac_ok(maced, p::fleet_key(manager_))) << "the fleet key's MAC";
    auto parsed = p::parse_command(maced.signed_line);
    ASSERT_TRUE(parsed) << line;
    ASSERT_TRUE(p::verify_command(parsed.value(), manager_.public_key()));
    const auto& act = std::get<p::Activate>(parsed->command);
    EXPECT_EQ(act.time, 1795000000u);
    EXPECT_EQ(act.wave, 2u);
    for (const auto& e : act.targets.entries) named.insert(e);
  }
  EXPECT_EQ(named.size(), hosts_.size());
  for (const Host& h : hosts_) EXPECT_EQ(named.count(h.name), 1u) << h.name;
  const std::size_t per_send = out.lines.size();
  a.tick(t0 + 500ms, out);
  EXPECT_EQ(out.lines.size(), per_send) << "no repeat before the interval";
  a.tick(t0 + 2500ms, out);
  ASSERT_EQ(out.lines.size(), 2 * per_send);
  auto again = p::parse_command(p::split_line_mac(out.lines.back()).signed_line);
  EXPECT_EQ(std::get<p::Activate>(again->command).time, 1795000002u);
}

// Done once every host reported a result; a `held` repeat, another session's FIN and a forged
// one are not results.
TEST_F(ActivationTest, DoneOnEveryResult) {
  targets_.resize(3);
  const auto t0 = Clock::time_point{} + 1h;
  Activation a(config_, targets_, manager_, t0);
  Capture out;
  a.tick(t0, out);
  feed(a, fin(0, p::FinStatus::held), t0);
  feed(a, fin(1, p::FinStatus::applied, 0x9999), t0);  // another session
  std::string forged = fin(2, p::FinStatus::applied);
  forged.replace(forged.find(" ok "), 4, " OK ");
  feed(a, forged, t0);
  EXPECT_FALSE(a.result(0));
  EXPECT_FALSE(a.result(1));
  EXPECT_FALSE(a.result(2));
  EXPECT_EQ(a.dropped(), 2u);
  feed(a, fin(0, p::FinStatus::applied), t0 + 1s);
  feed(a, fin(1, p::FinStatus::rolled_back), t0 + 1s);
  EXPECT_FALSE(a.done());
  feed(a, fin(2, p::FinStatus::applied), t0 + 2s);
  EXPECT_TRUE(a.done());
  EXPECT_FALSE(a.timed_out());
  EXPECT_EQ(a.result(1), p::FinStatus::rolled_back);
}

// A host that never answers: the activation ends at its timeout, that host without a result.
TEST_F(ActivationTest, TimeoutLeavesSilentHostsWithoutResult) {
  targets_.resize(2);
  const auto t0 = Clock::time_point{} + 1h;
  Activation a(config_, targets_, manager_, t0);
  Capture out;
  a.tick(t0, out);
  feed(a, fin(0, p::FinStatus::applied), t0);
  a.tick(t0 + 29s, out);
  EXPECT_FALSE(a.done());
  EXPECT_EQ(a.next_wakeup(t0 + 29s), t0 + 30s);
  a.tick(t0 + 30s, out);
  EXPECT_TRUE(a.done());
  EXPECT_TRUE(a.timed_out());
  EXPECT_TRUE(a.result(0));
  EXPECT_FALSE(a.result(1));
}

// The maintenance window closes mid-wave: no ACTIVATE after it, but a host that got one still
// reports its result, which counts, until the wave's timeout.
TEST_F(ActivationTest, WindowCloseStopsActivateNotResults) {
  targets_.resize(2);
  const auto t0 = Clock::time_point{} + 1h;
  config_.stop_sending = t0 + 2500ms;
  Activation a(config_, targets_, manager_, t0);
  Capture out;
  for (auto t = t0; t < t0 + 10s; t += 500ms) a.tick(t, out);
  EXPECT_EQ(out.lines.size(), 3u) << "ACTIVATE at 0, 1 and 2 s, none after the close";
  EXPECT_FALSE(a.done());
  feed(a, fin(1, p::FinStatus::applied), t0 + 12s);
  EXPECT_TRUE(a.result(1));
  a.tick(t0 + 30s, out);
  EXPECT_TRUE(a.done());
  EXPECT_EQ(out.lines.size(), 3u);
  EXPECT_FALSE(a.result(0)) << "the host that never reported counts as silent";
}

}  // namespace
}  // namespace fleetcast::sender
