// The DHCP lint (sender/lint/): the dhcpd.conf subset parser, the Kea JSON reader, and the
// refusals: two servers lending one address, failover peers that disagree, HA peers with
// different pools.
#include "sender/lint/lint.hpp"

#include <gtest/gtest.h>

#include "sender/lint/dhcpd_conf.hpp"
#include "sender/lint/kea_conf.hpp"
#include "tests/unit/protocol/test_keys.hpp"

namespace fleetcast::sender::lint {
namespace {

bool any_contains(const std::vector<std::string>& lines, const std::string& what) {
  for (const auto& l : lines) {
    if (l.find(what) != std::string::npos) return true;
  }
  return false;
}

TEST(DhcpdConf, RangesPoolsAndPeers) {
  const auto m = parse_dhcpd_conf(R"(# a school's dhcpd.conf
option domain-name "a{b};c";   # braces and ; inside a string
failover peer "pair" {
  primary; address 10.0.0.1; port 647; peer address 10.0.0.2; peer port 847;
  mclt 60; split 128;
}
include "/etc/dhcp/local.conf";
shared-network campus {
  subnet 192.168.0.0 netmask 255.255.0.0 {
    pool { failover peer "pair"; range 192.168.100.1 192.168.101.254; }
    pool { range 192.168.9.1 192.168.9.9; deny all clients; }
  }
  subnet 10.1.0.0 netmask 255.255.255.0 {
    range dynamic-bootp 10.1.0.50;
    host printer { hardware ethernet 00:11:22:33:44:55; fixed-address 10.1.0.5; }
  }
}
group { subnet 172.16.0.0 netmask 255.255.240.0 { range 172.16.1.1 172.16.1.20; } }
)");
  ASSERT_EQ(m.ranges.size(), 4u);
  EXPECT_EQ(format_range(m.ranges[0]), "192.168.100.1-192.168.101.254");
  EXPECT_EQ(m.ranges[0].subnet, "192.168.0.0/16");
  EXPECT_EQ(m.ranges[0].failover_peer, "pair");
  EXPECT_EQ(m.ranges[0].line, 10);
  EXPECT_TRUE(m.ranges[1].retired);
  EXPECT_EQ(format_range(m.ranges[2]), "10.1.0.50-10.1.0.50");
  EXPECT_EQ(m.ranges[2].subnet, "10.1.0.0/24");
  EXPECT_EQ(m.ranges[3].subnet, "172.16.0.0/20");
  ASSERT_EQ(m.peers.size(), 1u);
  EXPECT_EQ(m.peers[0].role, "primary");
  EXPECT_TRUE(m.peers[0].mclt && m.peers[0].split && !m.peers[0].hba);
  ASSERT_EQ(m.notes.size(), 1u);
  EXPECT_NE(m.notes[0].find("include \"/etc/dhcp/local.conf\" is not followed"), std::string::npos);
}

TEST(DhcpdConf, MalformedTextSaysWhere) {
  auto error = [](const char* text) {
    try {
      (void)parse_dhcpd_conf(text);
    } catch (const DhcpdConfError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(error("subnet 10.0.0.0 netmask 255.0.0.0 {\n range 10.0.0.1 10.0.0.9\n}\n"),
            "line 2: 'range' statement without its ';'");
  EXPECT_EQ(error("subnet 10.0.0.0 netmask 255.0.0.0 {\n"), "line 1: block never closed");
  EXPECT_EQ(error("}\n"), "line 1: '}' without '{'");
  EXPECT_EQ(error("option x \"never closed;\n"), "line 1: unclosed string");
  EXPECT_EQ(error("range 10.0.0.1 10.0.0.2;\n"), "line 1: a range outside any subnet");
  EXPECT_EQ(error("subnet 10.0.0.0 netmask 255.0.0.0 { range 10.0.0.9 10.0.0.1; }"),
            "line 1: expected 'range LOW [HIGH];'");
}

TEST(KeaConf, PoolsAndHa) {
  const auto m = parse_kea_conf(R"(// Kea's comments, all three kinds
{ "Dhcp4": {
  # a hash comment with a "quote
  "subnet4": [ { "id": 1, "subnet": "192.168.0.0/16",
                 "pools": [ { "pool": "192.168.100.1 - 192.168.101.254" }, { "pool": "192.168.7.0/24" } ] } ],
  /* block */ "shared-networks": [ { "name": "n", "subnet4": [
      { "id": 2, "subnet": "10.0.0.0/24", "pools": [ { "pool": "10.0.0.10-10.0.0.20" } ] } ] } ],
  "hooks-libraries": [ { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_ha.so",
      "parameters": { "high-availability": [ { "this-server-name": "r1", "mode": "hot-standby" } ] } } ],
  "option-data": [ { "name": "domain-name", "data": "not#a#comment" } ]
} })");
  ASSERT_EQ(m.ranges.size(), 3u);
  EXPECT_EQ(format_range(m.ranges[1]), "192.168.7.0-192.168.7.255");
  EXPECT_EQ(m.ranges[2].subnet, "10.0.0.0/24");
  EXPECT_EQ(m.ha_this, "r1");
  EXPECT_THROW((void)parse_kea_conf("{ \"Dhcp4\": { "), KeaConfError);
  EXPECT_THROW(
      (void)parse_kea_conf(R"({ "Dhcp4": { "subnet4": [ { "pools": [ { "pool": "x" } ] } ] } })"),
      KeaConfError);
  // Found by fuzz_dhcp_conf: a prefix length that is no number.
  EXPECT_THROW((void)parse_kea_conf(
                   R"({ "Dhcp4": { "subnet4": [ { "pools": [ { "pool": "10.0.0.0/[4" } ] } ] } })"),
               KeaConfError);
}

class Lint : public ::testing::Test {
 protected:
  const Host* host(const std::string& name, std::vector<std::string> groups = {}) {
    hosts_.push_back(std::make_unique<Host>(Host{
        name, protocol::testing::seeded_key(static_cast<std::uint8_t>(hosts_.size())).public_key(),
        std::move(groups)}));
    return hosts_.back().get();
  }
  Server dhcpd(const Host* h, const std::string& conf) {
    return {h, "dhcpd", parse_dhcpd_conf(conf)};
  }
  std::vector<std::unique_ptr<Host>> hosts_;
};

constexpr const char* kPool =
    "subnet 192.168.0.0 netmask 255.255.0.0 { pool { failover peer \"pair\"; range "
    "192.168.100.1 192.168.101.254; } }\n";
constexpr const char* kPrimary =
    "failover peer \"pair\" { primary; address 10.0.0.1; peer address 10.0.0.2; mclt 60; split "
    "128; }\n";
constexpr const char* kSecondary =
    "failover peer \"pair\" { secondary; address 10.0.0.2; peer address 10.0.0.1; }\n";

// Two servers that are not partners lend one address: refused, naming both, the addresses and
// the subnet. Servers in different inventory groups (separate LANs) may reuse addresses.
TEST_F(Lint, OverlapBetweenServersThatAreNotPartners) {
  const Host* a = host("school-a-1", {"school-a"});
  const Host* b = host("school-a-2", {"school-a"});
  const Host* c = host("school-b-1", {"school-b"});
  const auto r = lint_servers(
      {dhcpd(a, "subnet 192.168.0.0 netmask 255.255.0.0 { range 192.168.1.1 192.168.1.100; }"),
       dhcpd(b, "subnet 192.168.0.0 netmask 255.255.0.0 { range 192.168.1.90 192.168.1.200; }"),
       dhcpd(c, "subnet 192.168.0.0 netmask 255.255.0.0 { range 192.168.1.1 192.168.1.100; }")},
      {});
  ASSERT_EQ(r.refusals.size(), 1u);
  EXPECT_EQ(
      r.refusals[0],
      "school-a-1 and school-a-2 would both lend 192.168.1.90-192.168.1.100 (school-a-1: range "
      "192.168.1.1-192.168.1.100 in subnet 192.168.0.0/16 (line 1); school-a-2: range "
      "192.168.1.90-192.168.1.200 in subnet 192.168.0.0/16 (line 1)); they are not partners "
      "in one redundancy group, and no inventory groups put them on separate LANs");
}

TEST_F(Lint, FailoverPairs) {
  const Host* p = host("r1");
  const Host* s = host("r2");
  const std::vector<RedundancyGroup> groups{
      {"pair", Service::dhcpd, {{"r1", "primary"}, {"r2", "secondary"}}}};
  // A correct pair: the same pools, overlapping by design.
  EXPECT_TRUE(lint_servers({dhcpd(p, std::string(kPrimary) + kPool),
                            dhcpd(s, std::string(kSecondary) + kPool)},
                           groups)
                  .ok());
  // Different pools.
  const std::string other_pool =
      "subnet 192.168.0.0 netmask 255.255.0.0 { pool { failover peer \"pair\"; range "
      "192.168.100.1 192.168.100.254; } }\n";
  auto r = lint_servers(
      {dhcpd(p, std::string(kPrimary) + kPool), dhcpd(s, std::string(kSecondary) + other_pool)},
      groups);
  EXPECT_TRUE(any_contains(r.refusals,
                           "dhcpd failover pair pair: r1 declares range "
                           "192.168.100.1-192.168.101.254 in subnet 192.168.0.0/16 "
                           "(failover peer \"pair\"), r2 does not"));
  // mclt on the secondary (dhcpd -t accepts it), a role the inventory contradicts, no peer.
  const std::string mclt = "failover peer \"pair\" { secondary; mclt 60; }\n";
  r = lint_servers({dhcpd(p, std::string(kPrimary) + kPool), dhcpd(s, mclt + kPool)}, groups);
  EXPECT_TRUE(any_contains(
      r.refusals,
      "r2 (failover peer \"pair\", line 1): the secondary declares mclt; only the primary may"));
  r = lint_servers(
      {dhcpd(p, std::string(kSecondary) + kPool), dhcpd(s, std::string(kSecondary) + kPool)},
      groups);
  EXPECT_TRUE(any_contains(
      r.refusals,
      "r1 (failover peer \"pair\", line 1) says secondary, the inventory says primary"));
  r = lint_servers({dhcpd(p, kPool), dhcpd(s, std::string(kSecondary) + kPool)}, groups);
  EXPECT_TRUE(any_contains(r.refusals, "r1's configuration declares no failover peer"));
}

TEST_F(Lint, KeaHaPoolsMustMatch) {
  const Host* p = host("k1");
  const Host* s = host("k2");
  const std::vector<RedundancyGroup> groups{
      {"ha", Service::kea, {{"k1", "primary"}, {"k2", "standby"}}}};
  auto kea = [](const Host* h, const char* pool) {
    return Server{
        h, "kea4",
        parse_kea_conf(
            std::string(
                R"({ "Dhcp4": { "subnet4": [ { "subnet": "10.0.0.0/24", "pools": [ { "pool": ")") +
            pool + R"(" } ] } ] } })")};
  };
  EXPECT_TRUE(
      lint_servers({kea(p, "10.0.0.10 - 10.0.0.20"), kea(s, "10.0.0.10 - 10.0.0.20")}, groups)
          .ok());
  const auto r =
      lint_servers({kea(p, "10.0.0.10 - 10.0.0.20"), kea(s, "10.0.0.10 - 10.0.0.30")}, groups);
  EXPECT_TRUE(any_contains(r.refusals, "kea HA group ha: k2 declares range 10.0.0.10-10.0.0.30"));
  // Not partners (no group): the same pools are two servers lending the same addresses.
  EXPECT_FALSE(
      lint_servers({kea(p, "10.0.0.10 - 10.0.0.20"), kea(s, "10.0.0.10 - 10.0.0.20")}, {}).ok());
}

}  // namespace
}  // namespace fleetcast::sender::lint

namespace fleetcast::sender::lint {
namespace {

TEST(LeaseReport, ParsesTheScriptsLastLine) {
  auto r = parse_lease_report(
      "dhcpd serving (pid 7); leases: 5 active (10.0.0.1, 192.168.1.3-192.168.1.5)");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.count, 5u);
  ASSERT_EQ(r.runs.size(), 2u);
  EXPECT_EQ(format_ipv4(r.runs[1].second), "192.168.1.5");
  EXPECT_TRUE(parse_lease_report("...; leases: 0 active").complete);
  r = parse_lease_report("leases: 90 active (10.0.0.1, 10.0.0.3, ...)");
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.runs.size(), 2u);
  EXPECT_TRUE(parse_lease_report("no report here").runs.empty());
  EXPECT_TRUE(parse_lease_report("leases: 2 active (10.0.0.9-10.0.0.1)").runs.empty());
}

// Reported leases outside every new range: refused (a note with keep-old-ranges); covered by
// two adjacent ranges: fine.
TEST_F(Lint, ReportedLeasesMustStayCovered) {
  const Host* h = host("r1");
  const Server s = dhcpd(h,
                         "subnet 10.0.0.0 netmask 255.255.255.0 { range 10.0.0.10 10.0.0.19; "
                         "range 10.0.0.20 10.0.0.29; }");
  const std::map<std::string, LeaseReport> covered{
      {"r1", {"leases: 3 active (10.0.0.18-10.0.0.21)", 0}}};
  Report r;
  check_leases({s}, covered, false, r);
  EXPECT_TRUE(r.ok());
  const std::map<std::string, LeaseReport> outside{
      {"r1", {"leases: 4 active (10.0.0.5, 10.0.0.28-10.0.0.31)", 1795000000}}};
  check_leases({s}, outside, false, r);
  ASSERT_EQ(r.refusals.size(), 1u);
  EXPECT_NE(r.refusals[0].find("r1 reported 4 active lease(s) (2026-11-18 "), std::string::npos)
      << r.refusals[0];
  EXPECT_NE(r.refusals[0].find("has no range holding 10.0.0.5, 10.0.0.30-10.0.0.31"),
            std::string::npos)
      << r.refusals[0];
  Report kept;
  check_leases({s}, outside, true, kept);
  EXPECT_TRUE(kept.ok());
  EXPECT_EQ(kept.notes.size(), 1u);
}

}  // namespace
}  // namespace fleetcast::sender::lint
