// Retention: finished applies leave only logs, limits hold, a pending rollback keeps its files.
#include "receiver/apply/retention.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "protocol/io/file.hpp"

namespace fleetcast::receiver {
namespace {

namespace fs = std::filesystem;

void touch(const fs::path& p, std::size_t bytes = 100) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << std::string(bytes, 'x');
}

// "web-V.fcb", built without 'literal + temporary' (GCC 12 -Wrestrict false positive).
std::string web(std::uint64_t v) {
  std::string s = "web-";
  s += std::to_string(v);
  s += ".fcb";
  return s;
}

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(state()); }
  fs::path state() const { return dir_.path() / "state"; }
  fs::path spool() const { return dir_.path() / "spool"; }
  // An apply of `file` (bundle `name` version `version`), with its work files and backup;
  // finished unless `pending`.
  std::int64_t apply(Journal& j, const std::string& file, const std::string& name,
                     std::uint64_t version, bool pending = false) {
    ApplyRecord r;
    r.file_name = file;
    r.digest.fill(0xdd);
    const auto id = j.begin(r);
    j.set_bundle(id, name, version, "config-files");
    const fs::path work = state() / "apply" / std::to_string(id);
    touch(work / "bundle.fcb");
    touch(work / "payload/site.conf");
    touch(work / "check.log");
    touch(state() / "backups" / name / std::to_string(version) / "previous/site");
    touch(spool() / file);
    if (pending) {
      j.set_phase(id, Phase::verify);
    } else {
      j.finish(id, protocol::FinStatus::applied, "ok", true);
    }
    return id;
  }

  protocol::io::TempDir dir_{"fleetcast-retention"};
};

// Finished applies keep their logs only, and only the newest keep_applies of them.
TEST_F(RetentionTest, FinishedAppliesKeepOnlyLogsUpToTheLimit) {
  Journal j(state() / "apply.db");
  for (std::uint64_t v = 1; v <= 6; ++v) apply(j, web(v), "web", v);
  const Freed f = prune_state(state(), j, {4, 3, 3});
  EXPECT_GT(f.files, 0u);
  EXPECT_FALSE(fs::exists(state() / "apply/1"));
  EXPECT_FALSE(fs::exists(state() / "apply/2"));
  for (int id = 3; id <= 6; ++id) {
    const fs::path work = state() / "apply" / std::to_string(id);
    EXPECT_TRUE(fs::exists(work / "check.log")) << id;
    EXPECT_FALSE(fs::exists(work / "bundle.fcb")) << id;
    EXPECT_FALSE(fs::exists(work / "payload")) << id;
  }
  // Backups: versions 4, 5, 6 of web stay.
  EXPECT_FALSE(fs::exists(state() / "backups/web/3"));
  EXPECT_TRUE(fs::exists(state() / "backups/web/4"));
  EXPECT_TRUE(fs::exists(state() / "backups/web/6"));
}

// An unfinished apply (a rollback may still run) keeps its bundle copy, payload and backup,
// however old it is and whatever the limits say.
TEST_F(RetentionTest, APendingRollbackKeepsEverything) {
  Journal j(state() / "apply.db");
  const auto pending = apply(j, "old.fcb", "web", 1, true);
  for (std::uint64_t v = 2; v <= 6; ++v) apply(j, web(v), "web", v);
  prune_state(state(), j, {1, 1, 1});
  const fs::path work = state() / "apply" / std::to_string(pending);
  EXPECT_TRUE(fs::exists(work / "bundle.fcb"));
  EXPECT_TRUE(fs::exists(work / "payload/site.conf"));
  EXPECT_TRUE(fs::exists(state() / "backups/web/1/previous/site"));
  EXPECT_TRUE(fs::exists(state() / "backups/web/6"));
  EXPECT_FALSE(fs::exists(state() / "backups/web/5"));
  prune_spool(spool(), state(), j, {1, 1, 1}, "");
  EXPECT_TRUE(fs::exists(spool() / "old.fcb"));  // its apply is not finished
}

// The spool keeps the newest applied bundles, the current reception and one older partial
// file; files delivered without an apply are never touched.
TEST_F(RetentionTest, SpoolKeepsNewestAppliedAndOnePartial) {
  Journal j(state() / "apply.db");
  for (std::uint64_t v = 1; v <= 5; ++v) apply(j, web(v), "web", v);
  touch(spool() / "operator-file.iso");
  touch(state() / "web-1.fcb.state");
  touch(spool() / ".a.part");
  touch(spool() / ".b.part");
  touch(spool() / ".current.part");
  fs::last_write_time(spool() / ".a.part",
                      fs::file_time_type::clock::now() - std::chrono::hours(2));
  touch(state() / "a.state");
  prune_spool(spool(), state(), j, {20, 3, 2}, "current");
  EXPECT_FALSE(fs::exists(spool() / "web-1.fcb"));
  EXPECT_FALSE(fs::exists(state() / "web-1.fcb.state"));
  EXPECT_FALSE(fs::exists(spool() / "web-3.fcb"));
  EXPECT_TRUE(fs::exists(spool() / "web-4.fcb"));
  EXPECT_TRUE(fs::exists(spool() / "web-5.fcb"));
  EXPECT_TRUE(fs::exists(spool() / "operator-file.iso"));
  EXPECT_TRUE(fs::exists(spool() / ".current.part"));
  EXPECT_TRUE(fs::exists(spool() / ".b.part"));
  EXPECT_FALSE(fs::exists(spool() / ".a.part"));
  EXPECT_FALSE(fs::exists(state() / "a.state"));
}

// A bundle held for a later ACTIVATE stays in the spool whatever the limit says.
TEST_F(RetentionTest, HeldBundlesStayInTheSpool) {
  Journal j(state() / "apply.db");
  ApplyRecord r;
  r.file_name = "held.fcb";
  r.digest.fill(0xee);
  r.mode = protocol::ApplyMode::hold;
  const auto id = j.begin(r);
  j.finish(id, protocol::FinStatus::held, "held for activation", false);
  touch(spool() / "held.fcb");
  for (std::uint64_t v = 1; v <= 3; ++v) apply(j, web(v), "web", v);
  prune_spool(spool(), state(), j, {20, 3, 1}, "");
  EXPECT_TRUE(fs::exists(spool() / "held.fcb"));
  EXPECT_FALSE(fs::exists(spool() / "web-1.fcb"));
  EXPECT_TRUE(fs::exists(spool() / "web-3.fcb"));
}

}  // namespace
}  // namespace fleetcast::receiver
