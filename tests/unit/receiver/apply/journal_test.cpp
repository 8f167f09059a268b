// The apply journal: what a restarted receiver finds, and the installed versions.
#include "receiver/apply/journal.hpp"

#include "protocol/text.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fleetcast::receiver {
namespace {

namespace fs = std::filesystem;

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fleetcast-journal-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path db() const { return dir_ / "apply.db"; }

  // A digest and a session named by one letter and one number, for reading.
  static protocol::Digest digest(char c) {
    return protocol::digest(protocol::as_bytes(std::string(1, c)));
  }
  static ApplyRecord record(char digest_of, std::uint64_t session) {
    ApplyRecord r;
    r.file_name = "school-dhcp-7.fcb";
    r.digest = digest(digest_of);
    r.session = protocol::SessionId{session};
    r.reply = protocol::text::parse_endpoint("[fd00::1]:5003", "").value();
    return r;
  }

  fs::path dir_;
};

TEST_F(JournalTest, AnInterruptedApplyIsFoundByTheNextProcessInItsPhase) {
  std::int64_t id = 0;
  {
    Journal j(db());
    id = j.begin(record('a', 1));
    j.set_bundle(id, "school-dhcp", 7, "dhcp-server");
    j.set_phase(id, Phase::check);
    j.set_phase(id, Phase::backup);
    j.set_phase(id, Phase::apply);
  }  // the process dies here: nothing but the database survives
  Journal again(db());
  const auto open = again.unfinished();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].id, id);
  EXPECT_EQ(open[0].phase, Phase::apply);
  EXPECT_EQ(open[0].name, "school-dhcp");
  EXPECT_EQ(open[0].version, 7u);
  EXPECT_EQ(open[0].session, protocol::SessionId{1});
  EXPECT_EQ(open[0].digest, digest('a'));
  EXPECT_EQ(protocol::text::format_endpoint(*open[0].reply), "[fd00::1]:5003");
  EXPECT_FALSE(open[0].status) << "not finished";
  EXPECT_EQ(again.installed_version("school-dhcp"), 0u);
}

TEST_F(JournalTest, RollbackRemembersWhichPhaseFailed) {
  Journal j(db());
  const auto id = j.begin(record('a', 1));
  j.set_bundle(id, "school-dhcp", 7, "dhcp-server");
  j.set_phase(id, Phase::rollback, "verify");
  const auto r = j.get(id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->phase, Phase::rollback);
  EXPECT_EQ(r->failed_phase, "verify");
}

TEST_F(JournalTest, OnlyAnAppliedFinishInstallsAVersion) {
  Journal j(db());
  const auto first = j.begin(record('a', 1));
  j.set_bundle(first, "school-dhcp", 7, "dhcp-server");
  j.finish(first, protocol::FinStatus::applied, "version 7 applied", true);
  const auto second = j.begin(record('b', 2));
  j.set_bundle(second, "school-dhcp", 8, "dhcp-server");
  j.finish(second, protocol::FinStatus::rolled_back, "probe failed", false);
  const auto other = j.begin(record('c', 3));
  j.set_bundle(other, "web-conf", 3, "config-files");
  j.finish(other, protocol::FinStatus::applied, "ok", true);

  protocol::Digest installed{};
  EXPECT_EQ(j.installed_version("school-dhcp", &installed), 7u);
  EXPECT_EQ(installed, digest('a'));
  EXPECT_EQ(j.installed_version("web-conf", &installed), 3u);
  EXPECT_EQ(installed, digest('c'));
  EXPECT_EQ(j.installed_version("nothing"), 0u);
  EXPECT_TRUE(j.unfinished().empty());

  const auto done = j.finished_for(digest('b'), protocol::SessionId{2});
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, protocol::FinStatus::rolled_back);
  EXPECT_EQ(done->message, "probe failed");
  EXPECT_FALSE(j.finished_for(digest('b'),
                              protocol::SessionId{1}));  // another session's FIN is not this one's
}

TEST_F(JournalTest, ADamagedDatabaseIsAnErrorNotAnEmptyJournal) {
  {
    std::ofstream out(db(), std::ios::binary);
    out << std::string(8192, 'x');
  }
  EXPECT_THROW(
      {
        Journal j(db());
        (void)j.unfinished();
      },
      JournalError);
}

}  // namespace
}  // namespace fleetcast::receiver
