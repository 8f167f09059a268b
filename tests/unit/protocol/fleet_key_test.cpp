// The fleet key (protocol/fleet_key.hpp): the MAC on every signed line, and KEYS lines that only
// their recipients can open.
#include "protocol/fleet_key.hpp"

#include <gtest/gtest.h>

#include "protocol/text.hpp"
#include "tests/unit/protocol/test_keys.hpp"

namespace fleetcast::protocol {
namespace {

const SecretKey kManager = testing::seeded_key(0);

// Deterministic per manager key, different for another; the MAC covers the whole signed line.
TEST(FleetKey, LineMac) {
  const MacKey fleet = fleet_key(kManager);
  EXPECT_EQ(fleet.bytes, fleet_key(testing::seeded_key(0)).bytes);
  EXPECT_NE(fleet.bytes, fleet_key(testing::seeded_key(1)).bytes);
  const StatusRequest s{"motd.fcb", {0x1234}, 1795000000};
  const std::string line = encode_maced_command(s, kManager, fleet).value();
  const MacedLine m = split_line_mac(line);
  ASSERT_TRUE(m.mac);
  EXPECT_EQ(m.signed_line, encode_command(s, kManager).value());
  EXPECT_TRUE(line_mac_ok(m, fleet));
  EXPECT_FALSE(line_mac_ok(m, fleet_key(testing::seeded_key(1))));
  for (std::size_t at : {std::size_t{0}, line.size() / 2, line.size() - 1}) {
    std::string bad = line;
    bad[at] = bad[at] == '0' ? '1' : '0';
    const MacedLine b = split_line_mac(bad);
    EXPECT_FALSE(b.mac && line_mac_ok(b, fleet)) << at;
  }
  // A line without a MAC, or with a malformed one, has none.
  EXPECT_FALSE(split_line_mac(m.signed_line).mac);
  EXPECT_FALSE(split_line_mac(std::string(m.signed_line) + " mac=XYZ").mac);
  EXPECT_FALSE(line_mac_ok(split_line_mac(m.signed_line), fleet));
  // The MAC counts against the datagram: a line that fits only without it is refused.
  Update u;
  u.name = "n";
  u.kind = "file";
  u.size = 1;
  u.first_seq = u.last_seq = 1;
  u.symbol_size = 16;
  u.max_k = 1;
  u.data = text::parse_endpoint("[ff15::f1ee:2]:4711", "").value();
  u.reply = text::parse_endpoint("[fd00::1]:4712", "").value();
  std::string long_name(255, 'x');
  for (std::size_t n = 0; n < 70; ++n) {
    u.targets.entries.push_back(long_name.substr(0, 14) + std::to_string(n));
    auto plain = encode_command(u, kManager);
    if (!plain) {
      ADD_FAILURE() << to_string(plain.failure()) << " at " << n;
      break;
    }
    if (plain.value().size() + 37 > kMaxControlDatagram) {
      EXPECT_FALSE(encode_maced_command(u, kManager, fleet));
      return;
    }
    EXPECT_TRUE(encode_maced_command(u, kManager, fleet));
  }
  ADD_FAILURE() << "no targets list came within 37 bytes of the limit";
}

// Each recipient opens its own entry; another host, another manager's line or a flipped bit
// opens nothing. Lines hold at most kMaxKeysEntries entries and fit one datagram.
TEST(FleetKey, KeysLines) {
  const MacKey fleet = fleet_key(kManager);
  std::vector<SecretKey> hosts;
  std::vector<KeysRecipient> recipients;
  for (std::uint8_t i = 0; i < 23; ++i) {
    hosts.push_back(testing::seeded_key(static_cast<std::uint8_t>(10 + i)));
    recipients.push_back(
        {hosts.back().key_id(), fleet_wrap_key(kManager, hosts.back().public_key()).value()});
  }
  const auto lines = encode_keys_lines(kManager.key_id(), fleet, recipients);
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& l : lines) {
    EXPECT_LE(l.size(), kMaxControlDatagram);
    EXPECT_TRUE(is_keys_line(l));
  }
  const SecretKey outsider = testing::seeded_key(200);
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    const auto& line = lines[i / kMaxKeysEntries];
    const MacKey wrap = fleet_wrap_key(hosts[i], kManager.public_key()).value();
    const auto got = open_keys_line(line, kManager.key_id(), hosts[i].key_id(), wrap);
    ASSERT_TRUE(got) << i;
    EXPECT_EQ(got->bytes, fleet.bytes);
    // Someone else's wrap key under this host's ID, or another manager's ID: nothing.
    const MacKey other = fleet_wrap_key(outsider, kManager.public_key()).value();
    EXPECT_FALSE(open_keys_line(line, kManager.key_id(), hosts[i].key_id(), other));
    EXPECT_FALSE(open_keys_line(line, outsider.key_id(), hosts[i].key_id(), wrap));
    EXPECT_FALSE(open_keys_line(line, kManager.key_id(), outsider.key_id(), wrap));
    std::string bad = line;
    const std::size_t at = line.find(text::hex64(hosts[i].key_id().value)) + 17 + 5;
    bad[at] = bad[at] == '0' ? '1' : '0';
    EXPECT_FALSE(open_keys_line(bad, kManager.key_id(), hosts[i].key_id(), wrap));
  }
  EXPECT_FALSE(open_keys_line("KEYS", kManager.key_id(), hosts[0].key_id(), recipients[0].wrap));
  EXPECT_FALSE(
      open_keys_line("UPDATE x", kManager.key_id(), hosts[0].key_id(), recipients[0].wrap));
  EXPECT_TRUE(encode_keys_lines(kManager.key_id(), fleet, {}).empty());
}

}  // namespace
}  // namespace fleetcast::protocol
