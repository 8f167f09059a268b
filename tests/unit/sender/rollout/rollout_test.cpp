// Tests for sender/rollout/rollout.hpp: whole rollouts against real host agents
// (receiver/reception/agent.hpp) over an in-memory network, on a fake clock, with a real receipt
// store: waves, halt, soak, maintenance windows opening and closing, pause, abort, a manager
// restart in each phase, and a resume after the inventory changed. The hosts' applier is scripted
// (the apply itself has its own tests): a hold is `held`, an activation applies or rolls back as
// the test says, and every apply is counted.

#include "sender/rollout/rollout.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <map>
#include <random>

#include "protocol/text.hpp"
#include "receiver/reception/agent.hpp"
#include "tests/unit/protocol/test_keys.hpp"
#include "tests/unit/sender/delivery/fake_network.hpp"

namespace fleetcast::sender {
namespace {

namespace p = protocol;
using namespace std::chrono_literals;

using testing::endpoint;
using testing::kCtrl;
using testing::kData;
using testing::kReply;
using testing::Outbox;
using testing::Packet;

constexpr std::int64_t kEpoch = 1795000000;  // the fake wall clock at the fake clock's zero

struct Node {
  std::string name;
  p::SecretKey key;
  std::filesystem::path dir;
  p::Endpoint address;
  std::unique_ptr<receiver::Agent> agent;
  p::FinStatus activation_result = p::FinStatus::applied;
  int holds = 0;                                 // hold applies (check, keep) run
  int activations = 0;                           // activations applied (or rolled back)
  std::optional<double> activated_at;            // fake seconds of its first activation
  std::optional<receiver::ApplyOutcome> held;    // the hold's record (session, reply)
  std::optional<receiver::ApplyOutcome> result;  // the activation's, reported again on a repeat
  bool hangs = false;                            // its activation never ends (no FIN)
};

class RolloutMachine : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("fleetcast-rollout-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::mt19937_64 rng(5);
    file_.resize(20'000);
    for (auto& b : file_) b = static_cast<std::uint8_t>(rng());
    store_ = std::make_unique<Store>(root_ / "state");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  Node& add(const std::string& name) {
    const auto i = nodes_.size();
    auto n = std::make_unique<Node>(
        Node{name, p::testing::seeded_key(static_cast<std::uint8_t>(40 + i)), root_ / name,
             endpoint("[fd00::" + std::to_string(10 + i) + "]:5000"), nullptr,
             p::FinStatus::applied, 0, 0, std::nullopt, std::nullopt, std::nullopt, false});
    std::filesystem::create_directories(n->dir / "spool");
    std::filesystem::create_directories(n->dir / "state");
    inventory_.add(Host{name, n->key.public_key(), {}});
    start_agent(*n);
    nodes_.push_back(std::move(n));
    return *nodes_.back();
  }
  void start_agent(Node& n) {
    receiver::AgentConfig c;
    c.host_name = n.name;
    c.manager = manager_.public_key();
    c.spool = n.dir / "spool";
    c.state = n.dir / "state";
    c.reply_spread = 20ms;
    c.wall_clock = [this] { return static_cast<std::uint64_t>(wall().time_since_epoch().count()); };
    n.agent = std::make_unique<receiver::Agent>(
        c, n.key, [](const log::Event&) {}, std::hash<std::string>{}(n.name), now_);
  }
  Node& node(const std::string& name) {
    for (auto& n : nodes_) {
      if (n->name == name) return *n;
    }
    throw std::logic_error(name);
  }
  SysSeconds wall() const {
    return SysSeconds(std::chrono::seconds(
        kEpoch +
        std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch()).count()));
  }
  double fake_seconds() const { return std::chrono::duration<double>(now_ - t0_).count(); }

  // The plan for every host added so far, in order.
  RolloutPlan plan(const std::string& waves, const std::string& max_fail = "0") {
    RolloutOptions r;
    r.waves = parse_waves(waves, nullptr).value();
    r.waves_text = waves;
    r.max_fail = Amount::parse(max_fail).value();
    std::vector<const Host*> targets;
    for (const auto& n : nodes_) targets.push_back(inventory_.find(n->name));
    return make_plan(targets, inventory_, r);
  }
  WindowSet window(const std::string& text) {
    WindowSet set;
    set.add(Window::parse(text, nullptr).value());
    return set;
  }
  // "daily HH:MM-HH:MM UTC" opening `from` after the fake wall clock's now, open for `length`.
  std::string window_text(std::chrono::seconds from, std::chrono::seconds length) {
    auto hhmm = [](SysSeconds t) {
      const auto day = std::chrono::floor<std::chrono::days>(t);
      const std::chrono::hh_mm_ss hms(t - day);
      char buf[8];
      std::snprintf(buf, sizeof buf, "%02d:%02d", static_cast<int>(hms.hours().count()),
                    static_cast<int>(hms.minutes().count()));
      return std::string(buf);
    };
    const auto open = std::chrono::ceil<std::chrono::minutes>(wall() + from);
    return "daily " + hhmm(SysSeconds(open)) + "-" + hhmm(SysSeconds(open + length)) + " UTC";
  }

  // A new rollout of the file (the store records it), or the stored one resumed.
  std::unique_ptr<Rollout> start(RolloutPlan plan, bool resume = false) {
    std::vector<const Host*> targets;
    for (const auto& name : plan.hosts) targets.push_back(inventory_.find(name));
    if (!resume) {
      session_.name = "bundle.fcb";
      session_.session.value = 0x4242;
      session_.file_id = 0x42;
      session_.ctrl_group = kCtrl;
      session_.data_group = kData;
      session_.reply = kReply;
      session_.symbol_size = 1000;
      session_.max_k = 16;
      session_.registration_timeout = 2s;
      session_.deadline = 60s;
      session_.collect_fin = true;
      session_.fin_timeout = 10s;
      session_.version = 7;
      session_.wall_time = static_cast<std::uint64_t>(wall().time_since_epoch().count());
      SessionRecord rec{session_.session,
                        session_.file_id,
                        session_.name,
                        "school-dhcp",
                        7,
                        "",
                        p::ApplyMode::hold,
                        kEpoch};
      store_->begin_session(rec, targets);
      id_ = store_->begin_rollout(session_.session, plan, {"fleetcast-sender", "rollout", "run"});
    }
    RolloutBundle b{session_,        p::io::InputFile::from_bytes(file_), targets, "school-dhcp", 7,
                    p::digest(file_)};
    RolloutOutput out;
    out.say = [this](const std::string& line) { said_.push_back(line); };
    return std::make_unique<Rollout>(
        std::move(plan), std::move(b), manager_, store_.get(), id_, resume,
        [this] { return wall(); }, std::move(out), now_);
  }

  // Runs until the rollout is done, `until` says stop (checked each step), or the step bound.
  void run(Rollout& r, const std::function<bool()>& until = {}, int steps = 200000) {
    Outbox manager_out(q_, kReply);
    for (int i = 0; i < steps && !r.done(); ++i) {
      if (until && until()) return;
      r.tick(now_, manager_out);
      deliver(r);
      Clock::time_point next = r.next_wakeup(now_);
      for (auto& n : nodes_) {
        if (!n->agent) continue;
        Outbox out(q_, n->address);
        n->agent->tick(now_, out);
        answer_jobs(*n);
        deliver(r);
        next = std::min(next, n->agent->next_wakeup(now_));
      }
      now_ = std::max(next, now_ + 1ms);
    }
  }

  void deliver(Rollout& r) {
    while (!q_.empty()) {
      Packet pk = std::move(q_.front());
      q_.pop_front();
      if (pk.to == kReply) {
        r.on_datagram(pk.bytes, pk.from, now_);
        continue;
      }
      for (auto& n : nodes_) {
        if (!n->agent) continue;
        if (pk.to == kCtrl) n->agent->on_ctrl(pk.bytes, now_, pk.from);
        if ((pk.to == kData && n->agent->data_group()) || pk.to == n->address) {
          n->agent->on_data(pk.bytes, now_, pk.from);
        }
      }
    }
  }

  // The scripted applier, as the journal makes the real one: a hold checks and keeps (held); an
  // activation of the held bundle applies or rolls back once, a repeat reports that result again.
  void answer_jobs(Node& n) {
    while (auto job = n.agent->take_apply_job()) {
      if (job->activation) {
        if (!n.held || n.hangs) continue;  // nothing held: nothing to report
        if (!n.result) {
          ++n.activations;
          if (!n.activated_at) n.activated_at = fake_seconds();
          n.result = n.held;
          n.result->status = n.activation_result;
          n.result->message =
              n.activation_result == p::FinStatus::applied ? "ok" : "the health gate failed";
        }
        n.agent->on_applied(*n.result, now_);
        continue;
      }
      if (!n.held) {
        ++n.holds;
        receiver::ApplyOutcome o;
        o.record.file_name = job->file_name;
        o.record.digest = job->digest;
        o.record.session = job->session;
        o.record.reply = job->reply;
        o.record.version = 7;
        o.status = p::FinStatus::held;
        o.message = "checked, held";
        n.held = o;
      }
      n.agent->on_applied(n.result ? *n.result : *n.held, now_);
    }
  }

  std::vector<std::size_t> waves_in_store() { return store_->waves_started(id_); }
  std::string state_in_store() { return store_->rollout_view(id_)->state; }
  bool said(const std::string& part) const {
    for (const auto& l : said_) {
      if (l.find(part) != std::string::npos) return true;
    }
    return false;
  }

  std::filesystem::path root_;
  std::vector<std::uint8_t> file_;
  p::SecretKey manager_ = p::testing::seeded_key(0);
  Inventory inventory_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<Store> store_;
  SessionConfig session_;
  std::int64_t id_ = 0;
  std::deque<Packet> q_;
  Clock::time_point now_ = Clock::time_point{} + 1000s;
  Clock::time_point t0_ = now_;
  std::vector<std::string> said_;
};

// Every host receives and holds the bundle once, then the canary applies before the rest; the
// store has both waves and the rollout done.
TEST_F(RolloutMachine, WavesActivateInOrder) {
  for (const char* n : {"h0", "h1", "h2", "h3"}) add(n);
  auto r = start(plan("1,100%"));
  run(*r);
  ASSERT_TRUE(r->done());
  EXPECT_TRUE(r->succeeded());
  for (const auto& n : nodes_) {
    EXPECT_EQ(n->holds, 1) << n->name;
    EXPECT_EQ(n->activations, 1) << n->name;
    if (n->name != "h0") {
      EXPECT_GT(*n->activated_at, *node("h0").activated_at) << n->name;
    }
  }
  EXPECT_EQ(waves_in_store(), (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(state_in_store(), "done");
  EXPECT_TRUE(said("RECAP school-dhcp version 7:  applied=4"));
  EXPECT_LT(fake_seconds(), 30.0);
}

// The canary rolls back: with --max-fail 0 the rollout halts after wave 1 and the other hosts
// keep the bundle held, never activated.
TEST_F(RolloutMachine, HaltsOnTheFirstFailure) {
  for (const char* n : {"h0", "h1", "h2"}) add(n);
  node("h0").activation_result = p::FinStatus::rolled_back;
  auto r = start(plan("1,100%"));
  run(*r);
  ASSERT_TRUE(r->done());
  EXPECT_FALSE(r->succeeded());
  EXPECT_TRUE(r->tracker().halted());
  EXPECT_EQ(node("h1").activations + node("h2").activations, 0);
  EXPECT_EQ(r->tracker().state(1), HostState::held);
  EXPECT_EQ(state_in_store(), "halted");
  EXPECT_EQ(r->hosts()[0].status(), "rolled-back");
}

// --max-fail 1 tolerates the canary's failure: the next wave goes on.
TEST_F(RolloutMachine, ToleratedFailureGoesOn) {
  for (const char* n : {"h0", "h1", "h2"}) add(n);
  node("h0").activation_result = p::FinStatus::rolled_back;
  auto r = start(plan("1,100%", "1"));
  run(*r);
  ASSERT_TRUE(r->done());
  EXPECT_FALSE(r->tracker().halted());
  EXPECT_EQ(node("h1").activations, 1);
  EXPECT_EQ(node("h2").activations, 1);
  EXPECT_EQ(state_in_store(), "done");
}

// The soak holds the next wave back for its whole length after the last result.
TEST_F(RolloutMachine, SoakHoldsTheNextWave) {
  for (const char* n : {"h0", "h1"}) add(n);
  RolloutPlan p = plan("1,100%");
  p.soak = 600s;
  auto r = start(std::move(p));
  run(*r);
  ASSERT_TRUE(r->succeeded());
  EXPECT_GE(*node("h1").activated_at - *node("h0").activated_at, 600.0);
  EXPECT_LT(*node("h1").activated_at - *node("h0").activated_at, 620.0);
}

// A window that opens in 10 minutes: the hosts receive and hold the bundle at once, and the
// ACTIVATE waits for the opening.
TEST_F(RolloutMachine, WaitsForTheWindowToOpen) {
  for (const char* n : {"h0", "h1"}) add(n);
  RolloutPlan p = plan("1,100%");
  const std::string w = window_text(600s, 3600s);
  for (auto& set : p.windows) set = window(w);
  auto r = start(std::move(p));
  run(*r);
  ASSERT_TRUE(r->succeeded());
  EXPECT_EQ(node("h0").holds, 1);
  EXPECT_GE(*node("h0").activated_at, 600.0 - 60);  // the opening minute
  EXPECT_LE(*node("h0").activated_at, 660.0);
  EXPECT_TRUE(said("wave 1: waiting for the window"));
}

// Two hosts of one wave with different windows: the open one is activated now, the other when
// its window opens; a host whose window closes before its turn is left held.
TEST_F(RolloutMachine, WindowsOpenAndCloseWithinAWave) {
  for (const char* n : {"h0", "h1", "h2"}) add(n);
  RolloutPlan p = plan("100%", "2");
  p.windows[0] = window(window_text(-60s, 3600s));  // open now
  p.windows[1] = window(window_text(900s, 3600s));  // opens in 15 minutes
  auto r = start(std::move(p));
  run(*r);
  ASSERT_TRUE(r->done());
  EXPECT_LT(*node("h0").activated_at, 60.0);
  EXPECT_GE(*node("h1").activated_at, 840.0);
  EXPECT_EQ(node("h2").activations, 1);
  EXPECT_TRUE(said("inside the window until"));
  EXPECT_TRUE(r->succeeded());
}

// An ACTIVATE stops at the window's close: a host that never got one (silent until then)
// reports no result and counts as failed; nothing is activated outside the window.
TEST_F(RolloutMachine, NoActivateAfterTheWindowCloses) {
  for (const char* n : {"h0", "h1"}) add(n);
  RolloutPlan p = plan("100%", "1");
  p.windows[1] = window(window_text(-60s, 120s));  // closes within a minute
  p.activate_timeout = 300s;
  auto r = start(std::move(p));
  // h1 stops listening once it holds the bundle, and comes back after the window closed.
  run(*r, [&] { return node("h1").holds == 1 && node("h0").holds == 1; });
  auto h1 = std::move(node("h1").agent);
  const auto back = now_ + 180s;
  run(*r, [&] { return now_ >= back; });
  node("h1").agent = std::move(h1);
  run(*r);
  ASSERT_TRUE(r->done());
  EXPECT_EQ(node("h1").activations, 0) << "no ACTIVATE after the window closed";
  EXPECT_EQ(r->hosts()[1].status(), "silent");
}

// rollout pause during the soak: no new wave; the rollout is paused in the store. Resumed (a
// new manager), it activates the rest, and nobody applies twice.
TEST_F(RolloutMachine, PauseThenResume) {
  for (const char* n : {"h0", "h1", "h2"}) add(n);
  RolloutPlan p = plan("1,100%");
  p.soak = 300s;
  auto r = start(p);
  run(*r, [&] { return node("h0").activations == 1 && said("soaking"); });
  ASSERT_TRUE(store_->request(Request::pause));
  run(*r);
  ASSERT_TRUE(r->done());
  EXPECT_EQ(r->request(), Request::pause);
  EXPECT_EQ(state_in_store(), "paused");
  EXPECT_EQ(node("h1").activations, 0);
  store_->set_running(id_);
  auto again = start(p, true);
  run(*again);
  ASSERT_TRUE(again->succeeded());
  for (const auto& n : nodes_) EXPECT_EQ(n->activations, 1) << n->name;
  EXPECT_TRUE(said("wave 1: done before the restart"));
  EXPECT_EQ(state_in_store(), "done");
}

// rollout abort while a window is awaited: the rollout ends aborted, nobody activated.
TEST_F(RolloutMachine, AbortWhileWaitingForAWindow) {
  for (const char* n : {"h0", "h1"}) add(n);
  RolloutPlan p = plan("1,100%");
  for (auto& set : p.windows) set = window(window_text(1200s, 600s));
  auto r = start(std::move(p));
  run(*r, [&] { return said("waiting for the window"); });
  ASSERT_TRUE(store_->request(Request::abort));
  run(*r);
  ASSERT_TRUE(r->done());
  EXPECT_EQ(state_in_store(), "aborted");
  EXPECT_EQ(node("h0").activations + node("h1").activations, 0);
  EXPECT_LT(fake_seconds(), 1200.0);
}

// serve's SIGTERM during a soak: the rollout starts no new wave and stays running in the store.
TEST_F(RolloutMachine, InterruptLeavesItRunning) {
  for (const char* n : {"h0", "h1"}) add(n);
  RolloutPlan p = plan("1,100%");
  p.soak = 300s;
  auto r = start(std::move(p));
  run(*r, [&] { return said("soaking"); });
  r->interrupt();
  run(*r);
  ASSERT_TRUE(r->done());
  EXPECT_EQ(r->request(), Request::interrupt);
  EXPECT_EQ(state_in_store(), "running");
  EXPECT_TRUE(said("INTERRUPTED after wave 1"));
}

// A manager killed in each phase (distribution, activation of wave 1, soak, before wave 2's
// window): the next manager resumes from the store, and each host holds once and applies once.
TEST_F(RolloutMachine, ManagerRestartInEachPhase) {
  struct Kill {
    const char* phase;
    std::function<bool()> when;
  };
  const std::vector<Kill> kills = {
      {"distribution", [this] { return node("h0").holds == 1; }},
      {"activation", [this] { return said("wave 1: activating"); }},
      {"soak", [this] { return said("soaking"); }},
      {"window", [this] { return said("wave 2: waiting for the window"); }},
  };
  for (const Kill& k : kills) {
    TearDown();
    SetUp();
    nodes_.clear();
    inventory_ = Inventory();
    said_.clear();
    for (const char* n : {"h0", "h1", "h2"}) add(n);
    RolloutPlan p = plan("1,100%");
    p.soak = 120s;
    p.windows[1] = p.windows[2] = window(window_text(1200s, 3600s));
    auto r = start(p);
    run(*r, k.when);
    ASSERT_FALSE(r->done()) << k.phase;
    r.reset();  // killed: nothing more from this manager
    q_.clear();
    now_ += 5s;
    auto again = start(p, true);
    run(*again);
    ASSERT_TRUE(again->done()) << k.phase;
    EXPECT_TRUE(again->succeeded()) << k.phase;
    for (const auto& n : nodes_) {
      EXPECT_EQ(n->holds, 1) << k.phase << " " << n->name;
      EXPECT_EQ(n->activations, 1) << k.phase << " " << n->name;
    }
    EXPECT_EQ(state_in_store(), "done") << k.phase;
  }
}

// The inventory changes between the kill and the resume (a host added, the order changed):
// the resumed rollout reads its plan from the store and activates exactly the stored waves;
// the new host is not in it.
TEST_F(RolloutMachine, ResumeAfterTheInventoryChangedUsesTheStoredWaves) {
  for (const char* n : {"h0", "h1", "h2", "h3"}) add(n);
  RolloutPlan p = plan("1,2,100%");  // {h0} {h1} {h2 h3}
  p.soak = 60s;
  auto r = start(p);
  run(*r, [&] { return said("soaking"); });
  r.reset();
  // The inventory now lists h3 first and a new host h4.
  Inventory changed;
  changed.add(Host{"h4", p::testing::seeded_key(99).public_key(), {}});
  for (const char* n : {"h3", "h2", "h1", "h0"}) changed.add(*inventory_.find(n));
  std::vector<const Host*> now_targets;
  for (const char* n : {"h4", "h3", "h2", "h1", "h0"}) now_targets.push_back(changed.find(n));
  RolloutOptions o;
  o.waves = parse_waves("1,2,100%", nullptr).value();
  const RolloutPlan recomputed = make_plan(now_targets, changed, o);
  ASSERT_NE(recomputed.hosts[recomputed.waves[1][0]], "h1") << "the test needs other waves";
  const auto record = store_->unfinished_rollout();
  ASSERT_TRUE(record);
  auto stored = plan_from_json(record->plan, nullptr);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->hosts, p.hosts);
  EXPECT_EQ(stored->waves, p.waves);
  Node& h4 = add("h4");
  auto again = start(*stored, true);
  run(*again);
  ASSERT_TRUE(again->succeeded());
  EXPECT_LT(*node("h1").activated_at, *node("h2").activated_at);
  EXPECT_EQ(h4.holds + h4.activations, 0) << "not in the stored plan";
  for (const char* n : {"h0", "h1", "h2", "h3"}) EXPECT_EQ(node(n).activations, 1) << n;
  EXPECT_EQ(waves_in_store(), (std::vector<std::size_t>{1, 2, 3}));
  const auto view = store_->rollout_view(id_);
  EXPECT_EQ(view->waves[1].hosts, (std::vector<std::string>{"h1"}));
  EXPECT_EQ(view->waves[2].hosts, (std::vector<std::string>{"h2", "h3"}));
}

// A host off during the distribution comes back during an hour's soak: the catch-up before
// its wave reaches it (its announcements carry the time they are sent, inside the host's clock
// window), and it applies with its wave.
TEST_F(RolloutMachine, CatchUpAfterALongSoakReachesALateHost) {
  for (const char* n : {"h0", "h1"}) add(n);
  auto late = std::move(node("h1").agent);
  RolloutPlan p = plan("1,100%", "1");
  p.soak = 3600s;
  auto r = start(std::move(p));
  run(*r, [&] { return said("soaking"); });
  EXPECT_EQ(r->hosts()[1].status(), "silent");
  node("h1").agent = std::move(late);
  run(*r);
  ASSERT_TRUE(r->done());
  EXPECT_TRUE(said("catch-up: delivering"));
  EXPECT_EQ(node("h1").holds, 1);
  EXPECT_EQ(node("h1").activations, 1);
  EXPECT_TRUE(r->succeeded());
  EXPECT_GT(fake_seconds(), 3600.0);
}

// A host whose activation never reports (it died while applying): no result within
// --activate-timeout, it counts as failed and the rollout halts.
TEST_F(RolloutMachine, SilentHostAtActivationHalts) {
  for (const char* n : {"h0", "h1"}) add(n);
  node("h0").hangs = true;
  RolloutPlan p = plan("1,100%");
  p.activate_timeout = 30s;
  auto r = start(std::move(p));
  run(*r);
  ASSERT_TRUE(r->done());
  EXPECT_EQ(r->hosts()[0].status(), "silent");
  EXPECT_TRUE(r->tracker().halted());
  EXPECT_EQ(node("h1").activations, 0);
  EXPECT_GE(fake_seconds(), 30.0);
}

}  // namespace
}  // namespace fleetcast::sender
