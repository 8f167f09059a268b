// The applier (receiver/apply/apply.hpp) with a real sealed bundle, a real journal and a stand-in
// update script that records each phase it runs: a delivered bundle is applied at most once per
// (digest, session), whatever arrives later (a re-announcement after a restart, a replayed
// UPDATE or ACTIVATE), and a bundle held for activation runs once when activated.
#include "receiver/apply/apply.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "protocol/bundle/archive.hpp"
#include "protocol/bundle/seal.hpp"
#include "protocol/io/file.hpp"
#include "protocol/io/random_access.hpp"
#include "tests/unit/protocol/test_keys.hpp"

namespace fleetcast::receiver {
namespace {

namespace fs = std::filesystem;
namespace p = protocol;

// The stand-in for update-scripts/patch: appends its phase to $FLEETCAST_HOST_PHASES and fails
// the phase named by $FLEETCAST_HOST_FAIL_IN.
constexpr std::string_view kScript =
    "#!/bin/sh\n"
    "echo \"$FLEETCAST_PHASE\" >>\"$FLEETCAST_HOST_PHASES\"\n"
    "[ \"$FLEETCAST_PHASE\" = \"${FLEETCAST_HOST_FAIL_IN:-}\" ] && { echo broken; exit 1; }\n"
    "exit 0\n";

class ApplyOnce : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string leaf = "fleetcast-apply-";
    leaf.append(std::to_string(::getpid())).append("-");
    leaf.append(::testing::UnitTest::GetInstance()->current_test_info()->name());
    dir_ = fs::temp_directory_path() / leaf;
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "src");
    fs::create_directories(dir_ / "scripts");
    std::ofstream(dir_ / "src/manifest.ini")
        << "[bundle]\nname = fix\nversion = 3\nkind = patch\n\n[patch]\nscript = fix.sh\n";
    std::ofstream(dir_ / "src/fix.sh") << "true\n";
    const auto content = p::bundle::pack_directory(dir_ / "src", nullptr);
    const auto sealed = p::bundle::seal(content, manager_);
    p::io::write_file_atomic(dir_ / "fix-3.fcb", sealed, 0600);
    p::io::write_file_atomic(dir_ / "scripts/patch", p::as_bytes(kScript), 0755);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A receiver process's applier: a new one is a restart (recover() first, as run does).
  std::unique_ptr<Applier> start(const std::string& fail_in = "") {
    ApplyConfig c;
    c.host_name = "h1";
    c.manager = manager_.public_key();
    c.state = dir_ / "state";
    c.scripts = dir_ / "scripts";
    c.host_facts = {{"phases", (dir_ / "phases").string()}, {"fail-in", fail_in}};
    auto a = std::make_unique<Applier>(c, [](const log::Event&) {});
    EXPECT_TRUE(a->recover().empty());
    return a;
  }
  ApplyJob job(p::ApplyMode mode, bool activation = false) const {
    ApplyJob j;
    j.bundle = dir_ / "fix-3.fcb";
    j.file_name = "fix-3.fcb";
    j.digest = p::io::InputFile::open(j.bundle)->digest();
    j.session = p::SessionId{0x12ab};
    j.reply = p::text::parse_endpoint("[fd00::1]:4712", "").value();
    j.mode = mode;
    j.activation = activation;
    j.announced_version = 3;
    j.announced_kind = activation ? "" : "patch";
    return j;
  }
  // The phases the script ran, in order, joined by spaces.
  std::string phases() const {
    std::ifstream in(dir_ / "phases");
    std::string out, line;
    while (std::getline(in, line)) out += (out.empty() ? "" : " ") + line;
    return out;
  }

  fs::path dir_;
  p::SecretKey manager_ = p::testing::seeded_key(0);
};
using replay = ApplyOnce;  // ctest -R 'harden|replay|secret|budget' runs the issue-26 tests

// Issue 26, item 2: a rolled-back apply is reported again on every later request of its
// session (a re-announcement, a catch-up, a replayed UPDATE), across three restarts, and never
// runs again: the journal shows one attempt.
TEST_F(replay, RolledBackApplyNeverRunsAgainAcrossRestarts) {
  auto first = start("verify")->apply(job(p::ApplyMode::now));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, p::FinStatus::rolled_back) << first->message;
  const std::string ran = phases();
  EXPECT_EQ(ran, "check backup apply verify rollback");
  for (int restart = 0; restart < 3; ++restart) {
    auto again = start("")->apply(job(p::ApplyMode::now));  // the script would pass now
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, p::FinStatus::rolled_back) << "restart " << restart;
    EXPECT_EQ(again->record.id, first->record.id) << "the same journal entry, reported again";
  }
  EXPECT_EQ(phases(), ran) << "no phase ran again";
  const Journal journal(dir_ / "state/apply.db");
  const auto results = journal.latest_results(64);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].id, first->record.id);
  EXPECT_EQ(journal.installed_version("fix"), 0u);
}

// A rollout: held at distribution, activated once. A restart re-announcing the session, and
// replayed ACTIVATEs, run nothing more: the activation's result is reported.
TEST_F(replay, HeldBundleActivatesOnce) {
  auto a = start();
  const auto held = a->apply(job(p::ApplyMode::hold));
  ASSERT_TRUE(held);
  EXPECT_EQ(held->status, p::FinStatus::held);
  const auto applied = a->apply(job(p::ApplyMode::now, true));
  ASSERT_TRUE(applied);
  EXPECT_EQ(applied->status, p::FinStatus::applied) << applied->message;
  const std::string ran = phases();
  EXPECT_EQ(ran, "check check backup apply verify");
  a = start();
  const auto reheld = a->apply(job(p::ApplyMode::hold));  // the session announced again
  ASSERT_TRUE(reheld);
  EXPECT_EQ(reheld->status, p::FinStatus::applied);
  for (int i = 0; i < 3; ++i) {
    const auto replayed = a->apply(job(p::ApplyMode::now, true));
    ASSERT_TRUE(replayed);
    EXPECT_EQ(replayed->status, p::FinStatus::applied);
    EXPECT_EQ(replayed->record.id, applied->record.id);
  }
  EXPECT_EQ(phases(), ran);
  // An ACTIVATE of another session's bundle, or of one never held here: nothing to report.
  auto other = job(p::ApplyMode::now, true);
  other.session = p::SessionId{0x99cd};
  EXPECT_FALSE(a->apply(other));
}

// A local apply (fleetcast-receiver apply, no session) is the administrator's own: it runs each
// time it is asked (the version check still refuses what is in place).
TEST_F(replay, LocalApplyIsNotBoundToASession) {
  auto a = start("verify");
  auto local = job(p::ApplyMode::now);
  local.session.reset();
  local.reply.reset();
  EXPECT_EQ(a->apply(local)->status, p::FinStatus::rolled_back);
  EXPECT_EQ(a->apply(local)->status, p::FinStatus::rolled_back);
  EXPECT_EQ(phases(), "check backup apply verify rollback check backup apply verify rollback");
}

}  // namespace
}  // namespace fleetcast::receiver
