// Where file-kind bundles may write: the receiver's own files never, allow-targets when set.
#include "receiver/apply/target_policy.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "protocol/io/file.hpp"

namespace fleetcast::receiver {
namespace {

namespace fs = std::filesystem;

class TargetPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root() / "etc/fleetcast");
    fs::create_directories(root() / "etc/dhcp");
    fs::create_directories(root() / "var/lib/fleetcast");
    fs::create_directory_symlink(root() / "var/lib/fleetcast", root() / "etc/state-link");
    policy_.protected_paths = {{root() / "etc/fleetcast/host.key", "the receiver's own key"},
                               {root() / "var/lib/fleetcast", "the receiver's state directory"}};
  }
  fs::path root() const { return dir_.path(); }

  protocol::io::TempDir dir_{"fleetcast-targets"};
  TargetPolicy policy_;
};

// A protected file and anything under a protected directory are refused, naming what it is.
TEST_F(TargetPolicyTest, ProtectedPathsAreRefused) {
  auto why = refuse_target(policy_, root() / "etc/fleetcast/host.key");
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("the receiver's own key"), std::string::npos) << *why;
  EXPECT_TRUE(refuse_target(policy_, root() / "var/lib/fleetcast/apply.db"));
  EXPECT_TRUE(refuse_target(policy_, root() / "var/lib/fleetcast/new/dir/file"));
  EXPECT_FALSE(refuse_target(policy_, root() / "etc/fleetcast/other.conf"));
  EXPECT_FALSE(refuse_target(policy_, root() / "var/lib/fleetcast-other/x"));
}

// A link in the path does not hide a protected directory, nor does a '..' detour.
TEST_F(TargetPolicyTest, LinksAndDotDotAreResolved) {
  EXPECT_TRUE(refuse_target(policy_, root() / "etc/state-link/apply.db"));
  EXPECT_TRUE(refuse_target(policy_, root() / "etc/dhcp/../fleetcast/host.key"));
}

// With allow-targets, only paths under a listed directory pass; relative targets never do.
TEST_F(TargetPolicyTest, AllowTargetsLimitsWhereFilesGo) {
  policy_.allowed = {root() / "etc/dhcp"};
  EXPECT_FALSE(refuse_target(policy_, root() / "etc/dhcp/dhcpd.conf"));
  auto why = refuse_target(policy_, root() / "etc/motd");
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("outside allow-targets"), std::string::npos) << *why;
  EXPECT_TRUE(refuse_target(policy_, root() / "etc/dhcpd.conf"));  // a prefix, not a parent
  EXPECT_TRUE(refuse_target(policy_, "etc/dhcp/dhcpd.conf"));
}

}  // namespace
}  // namespace fleetcast::receiver
