// The receipt store (sender/store/store.hpp): every signed reply kept once and verifiable later,
// the latest result per host and bundle, silent hosts listed, a changed receipt detected.
#include "sender/store/store.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>

#include "protocol/io/file.hpp"
#include "protocol/text.hpp"
#include "tests/unit/protocol/test_keys.hpp"

namespace fleetcast::sender {
namespace {

namespace p = protocol;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (std::uint8_t i = 0; i < 3; ++i) {
      keys_.push_back(p::testing::seeded_key(static_cast<std::uint8_t>(40 + i)));
      std::string name = "h";  // appended: 'literal + temporary' trips GCC 12 -Wrestrict
      name += std::to_string(i + 1);
      hosts_.push_back(Host{name, keys_.back().public_key(), {"dhcp"}});
    }
    for (const Host& h : hosts_) targets_.push_back(&h);
  }
  SessionRecord session(std::uint64_t id, std::uint64_t version) {
    SessionRecord r;
    r.session = {id};
    r.file_name = "school-dhcp-";
    r.file_name += std::to_string(version);
    r.file_name += ".fcb";
    r.bundle = "school-dhcp";
    r.version = version;
    r.digest = std::string(64, 'a');
    r.apply = p::ApplyMode::now;
    r.started_at = 1795000000;
    return r;
  }
  std::string fin(std::size_t host, std::uint64_t session, p::FinStatus status,
                  std::uint64_t version, const std::string& message) {
    p::Fin f{"school-dhcp.fcb", hosts_[host].name, message, {session}, status, version, {}};
    return p::encode_command(f, keys_[host]).value();
  }

  p::io::TempDir dir_{"fleetcast-store"};
  std::vector<p::SecretKey> keys_;
  std::vector<Host> hosts_;
  std::vector<const Host*> targets_;
};

// What a session learned of each host's path is kept per host (a later session replaces it, a
// host it did not reach keeps its own), and outlives the process (a new Store reads it).
TEST_F(StoreTest, HostPathsAreKeptPerHost) {
  {
    Store store(dir_.path());
    EXPECT_TRUE(store.host_paths().empty());
    store.record_host_paths(
        {{"h1", HostPath{12'500'000, 500, 0}}, {"h2", HostPath{12'500'000, 0, 0}}});
    store.record_host_paths({{"h2", HostPath{50'000'000, 1500, 1795000000}}});
  }
  const auto paths = Store(dir_.path()).host_paths();
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(paths.at("h1").rate, 12'500'000u);
  EXPECT_EQ(paths.at("h1").base, 500);
  EXPECT_GT(paths.at("h1").at, 0);
  EXPECT_EQ(paths.at("h2").rate, 50'000'000u);
  EXPECT_EQ(paths.at("h2").base, 1500);
  EXPECT_EQ(paths.at("h2").at, 1795000000);
}

// Which hosts hold a manager's fleet key: what their RECVs said last, per manager key; a host
// that said it lost the key is forgotten.
TEST_F(StoreTest, FleetKeyHoldersArePerManager) {
  const protocol::KeyId manager{0x1111}, other{0x2222};
  {
    Store store(dir_.path());
    EXPECT_TRUE(store.fleet_key_holders(manager).empty());
    store.record_fleet_keys(manager, {{"h1", true}, {"h2", true}, {"h3", false}});
    store.record_fleet_keys(manager, {{"h2", false}});
    store.record_fleet_keys(other, {{"h4", true}});
  }
  Store store(dir_.path());
  EXPECT_EQ(store.fleet_key_holders(manager), std::vector<std::string>{"h1"});
  EXPECT_EQ(store.fleet_key_holders(other), std::vector<std::string>{"h4"});
}

// Latest result per host: a later session's FIN wins; the installed version is the newest
// applied one; a host that never answered is listed as such; repeats are stored once.
TEST_F(StoreTest, StatusShowsLatestResultPerHost) {
  Store store(dir_.path());
  store.begin_session(session(1, 6), targets_);
  store.record_receipt({1}, "h1", "FIN", fin(0, 1, p::FinStatus::applied, 6, "ok"));
  store.record_receipt({1}, "h1", "FIN", fin(0, 1, p::FinStatus::applied, 6, "ok"));  // repeat
  store.record_receipt({1}, "h2", "FIN", fin(1, 1, p::FinStatus::applied, 6, "ok"));
  store.begin_session(session(2, 7), targets_);
  store.record_receipt({2}, "h1", "FIN", fin(0, 2, p::FinStatus::applied, 7, "ok"));
  store.record_receipt({2}, "h2", "FIN", fin(1, 2, p::FinStatus::rolled_back, 7, "probe failed"));
  store.end_session({2}, false);
  EXPECT_EQ(store.receipts().size(), 4u);
  const auto rows = store.status("school-dhcp", "");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].host, "h1");
  EXPECT_EQ(rows[0].status, "applied");
  EXPECT_EQ(rows[0].installed, 7u);
  EXPECT_EQ(rows[1].status, "rolled-back");
  EXPECT_EQ(rows[1].message, "probe failed");
  EXPECT_EQ(rows[1].installed, 6u);
  EXPECT_EQ(rows[2].status, "no answer");
  EXPECT_EQ(store.status("school-dhcp", "h2").size(), 1u);
  EXPECT_TRUE(store.status("other", "").empty());
}

// status --refresh asks each host about its newest session of each bundle, with the key the
// host had then: h1 and h2 about session 2, h3 (not in session 2) about session 1.
TEST_F(StoreTest, LatestSessionPerHostAndBundle) {
  Store store(dir_.path());
  store.begin_session(session(1, 6), targets_);
  store.begin_session(session(2, 7), {targets_[0], targets_[1]});
  const auto latest = store.latest_sessions("school-dhcp", "");
  ASSERT_EQ(latest.size(), 2u);
  std::map<std::uint64_t, std::vector<std::string>> asked;
  for (const auto& s : latest) {
    for (const Host& h : s.hosts) {
      asked[s.session.value].push_back(h.name);
      EXPECT_EQ(h.key, hosts_[h.name == "h1" ? 0 : h.name == "h2" ? 1 : 2].key);
    }
    EXPECT_EQ(s.file_name, s.session.value == 1 ? "school-dhcp-6.fcb" : "school-dhcp-7.fcb");
  }
  EXPECT_EQ(asked[2], (std::vector<std::string>{"h1", "h2"}));
  EXPECT_EQ(asked[1], (std::vector<std::string>{"h3"}));
  ASSERT_EQ(store.latest_sessions("", "h3").size(), 1u);
  EXPECT_TRUE(store.latest_sessions("other", "").empty());
}

// The inventory keeps maintenance windows per group: read, checked (a bad one names its line),
// and written back by save() with the hosts.
TEST_F(StoreTest, InventoryWindowsPerGroup) {
  const auto path = dir_.path() / "inventory";
  std::string text = "# school servers\nwindow dhcp Mon-Fri 22:00-05:00 Asia/Tokyo\n";
  text += "host h1 " + p::text::hex(hosts_[0].key.bytes) + " dhcp\n";
  p::io::write_file_atomic(path, p::as_bytes(text));
  Inventory inv = Inventory::load(path);
  ASSERT_EQ(inv.windows().size(), 1u);
  EXPECT_EQ(inv.windows().at("dhcp"), "Mon-Fri 22:00-05:00 Asia/Tokyo");
  inv.save(path);
  EXPECT_EQ(Inventory::load(path).windows(), inv.windows());
  EXPECT_EQ(Inventory::load(path).hosts().size(), 1u);
  p::io::write_file_atomic(path, p::as_bytes(text + "window dhcp Mon-Fri 25:00-05:00 UTC\n"));
  try {
    Inventory::load(path);
    FAIL() << "a bad window was accepted";
  } catch (const InventoryError& e) {
    EXPECT_NE(std::string(e.what()).find(":4: window of group dhcp"), std::string::npos)
        << e.what();
  }
}

// Every stored reply verifies with the key its host had; a changed byte, or a reply stored
// under another host's key, does not. The store survives a reopen.
TEST_F(StoreTest, ReceiptsVerifyLater) {
  {
    Store store(dir_.path());
    store.begin_session(session(1, 6), targets_);
    store.record_receipt({1}, "h1", "FIN", fin(0, 1, p::FinStatus::applied, 6, "ok"));
    store.record_receipt({1}, "h2", "FIN", fin(0, 1, p::FinStatus::applied, 6, "ok"));  // h1's
  }
  const Store store(dir_.path());
  const auto receipts = store.receipts();
  ASSERT_EQ(receipts.size(), 2u);
  EXPECT_TRUE(verify_receipt(receipts[0]));
  EXPECT_FALSE(verify_receipt(receipts[1])) << "signed by h1's key, stored as h2's";
  StoredReceipt changed = receipts[0];
  changed.line.replace(changed.line.find("status=applied"), 14, "status=failed ");
  EXPECT_FALSE(verify_receipt(changed));
}

// A rollout lock is held by one owner at a time and released with it; a scheduled rollout is
// due at its time, then runs under its session.
TEST_F(StoreTest, ScheduleAndOwnership) {
  Store store(dir_.path());
  const auto id = store.schedule_rollout({"fleetcast-sender", "rollout", "start", "x.fcb"}, 1000);
  EXPECT_FALSE(store.due_rollout(999));
  const auto due = store.due_rollout(1000);
  ASSERT_TRUE(due);
  EXPECT_EQ(due->id, id);
  EXPECT_EQ(due->argv.at(2), "start");
  store.begin_session(session(7, 1), targets_);
  RolloutPlan plan;
  plan.hosts = {"h1"};
  plan.waves = {{0}};
  plan.windows.resize(1);
  plan.before.resize(1);
  plan.waves_text = "1,100%";
  store.start_scheduled(id, {7}, plan);
  EXPECT_FALSE(store.due_rollout(2000));
  ASSERT_EQ(store.running_rollouts().size(), 1u);
  EXPECT_EQ(store.running_rollouts()[0].session.value, 7u);
  const auto lock = dir_.path() / "rollout-1.lock";
  {
    p::io::FileLock owner;
    ASSERT_TRUE(owner.try_lock(lock));
    p::io::FileLock other;
    EXPECT_FALSE(other.try_lock(lock)) << "a second owner while the first holds it";
  }
  p::io::FileLock after;
  EXPECT_TRUE(after.try_lock(lock)) << "released with its owner";
  // `rollout status` shows the command line, and whether it overrode the rules.
  const auto view = store.rollout_view(id);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->argv.at(3), "x.fcb");
  EXPECT_FALSE(view->forced());
  store.begin_session(session(8, 1), targets_);
  const auto forced =
      store.begin_rollout({8}, plan, {"fleetcast-sender", "rollout", "run", "y.fcb", "--force"});
  EXPECT_TRUE(store.rollout_view(forced)->forced());
  // The plan comes back as it was stored (rollout/plan.hpp): resume reads it, not argv.
  const auto running = store.running_rollouts();
  ASSERT_EQ(running.size(), 2u);
  const auto back = plan_from_json(running[0].plan, nullptr);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->hosts, plan.hosts);
  EXPECT_EQ(back->waves, plan.waves);
  EXPECT_EQ(back->waves_text, "1,100%");
}

// The web view's read-only store stays open in the manager's process while rollouts open and
// close their own, and other processes (`status`, `rollout list`) open and close it meanwhile.
// Opening a store must not drop this process's locks on it (closing any descriptor of a file
// drops every POSIX lock of the process on it): before, another process closing its connection
// then took itself for the last one and deleted the WAL under the manager, whose next query
// failed "disk I/O error".
TEST_F(StoreTest, AReaderBesideOpeningAndClosingWritersKeepsWorking) {
  if (std::system("command -v sqlite3 >/dev/null") != 0) GTEST_SKIP() << "no sqlite3 program";
  const std::string query = "sqlite3 '" + (dir_.path() / "manager.db").string() +
                            "' 'SELECT COUNT(*) FROM hosts' >/dev/null";
  { Store create(dir_.path()); }
  Store reader(dir_.path(), Store::Access::read_only);
  for (std::uint64_t round = 1; round <= 3; ++round) {
    auto writer = std::make_unique<Store>(dir_.path());
    writer->begin_session(session(round, round), targets_);
    EXPECT_EQ(reader.host_rows().size(), 3u);
    { Store another(dir_.path()); }  // e.g. serve looking for a due rollout
    // Another process reads and closes (a fork would share this process's SQLite state).
    ASSERT_EQ(std::system(query.c_str()), 0) << query;
    writer->record_receipt({round}, "h1", "FIN", fin(0, round, p::FinStatus::applied, round, "ok"));
    writer.reset();  // the rollout ends
    EXPECT_EQ(reader.status("school-dhcp", "h1").back().installed, round);
  }
  Store after(dir_.path());
  EXPECT_EQ(after.receipts().size(), 3u);
  EXPECT_EQ(reader.receipts().size(), 3u);
}

// Several processes open a new manager.db at once (a rollout started while `serve` starts,
// status asked meanwhile): each one opens it. SQLite answered "database is locked" at once,
// without waiting, to about 1 in 100 of them before the set-up was retried.
TEST_F(StoreTest, ProcessesOpeningANewStoreAtOnce) {
  int failed = 0;
  for (int round = 0; round < 60; ++round) {
    const auto state = dir_.path() / ("state" + std::to_string(round));
    std::vector<pid_t> children;
    for (int i = 0; i < 3; ++i) {
      const pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        int code = 0;
        try {
          Store s(state);
        } catch (const std::exception&) {
          code = 1;
        }
        ::_exit(code);
      }
      children.push_back(pid);
    }
    for (const pid_t pid : children) {
      int status = 0;
      ASSERT_EQ(::waitpid(pid, &status, 0), pid);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    }
  }
  EXPECT_EQ(failed, 0) << "of 180 processes";
}

}  // namespace
}  // namespace fleetcast::sender
