// Sites and relays: the relay frame (protocol/relay/frame.hpp), the relay's check before it
// multicasts a frame on its LAN (receiver/relay/relay.hpp), the inventory's sites
// (sender/fleet/site.hpp) and the manager's one copy per site (sender/delivery/site_fanout.hpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "protocol/control.hpp"
#include "protocol/fleet_key.hpp"
#include "protocol/relay/frame.hpp"
#include "protocol/signature.hpp"
#include "receiver/relay/relay.hpp"
#include "sender/delivery/site_fanout.hpp"
#include "sender/fleet/inventory.hpp"
#include "tests/unit/protocol/test_keys.hpp"

namespace fleetcast {
namespace {

namespace p = protocol;
using p::testing::seeded_key;

p::Endpoint endpoint(std::string_view address, std::uint16_t port) {
  return p::text::parse_address(address, port, "test").value();
}

const p::Endpoint kCtrl = endpoint("ff15::f1ee:1", 4710);
const p::Endpoint kData = endpoint("ff15::f1ee:2", 4711);
const p::Endpoint kManager = endpoint("fd00:fc::1", 4712);
const auto t0 = Clock::time_point{} + std::chrono::hours(1);

std::vector<std::uint8_t> frame(std::span<const std::uint8_t> datagram, const p::Endpoint& to) {
  std::vector<std::uint8_t> out;
  p::encode_relay_frame(datagram, to, out);
  return out;
}

std::string status_line(const p::SecretKey& key, std::uint64_t time) {
  p::StatusRequest s{"motd.fcb", p::SessionId{42}, time};
  return p::encode_command(s, key).value();
}

TEST(relay, FrameRoundTripsAndRefusesWhatIsNotOne) {
  const std::vector<std::uint8_t> datagram = {1, 2, 3, 4, 5};
  const auto f = frame(datagram, kData);
  ASSERT_EQ(f.size(), p::kRelayFrameBytes + datagram.size());
  EXPECT_EQ(f[0], 0xFC);
  EXPECT_EQ(f[1], 0x01);
  EXPECT_EQ(f[2], 4711 >> 8);
  EXPECT_EQ(f[3], 4711 & 0xff);
  const auto back = p::decode_relay_frame(f);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->to, kData);
  EXPECT_EQ(std::vector<std::uint8_t>(back->datagram.begin(), back->datagram.end()), datagram);

  auto bad = f;
  bad[1] = 2;  // another version
  EXPECT_FALSE(p::decode_relay_frame(bad));
  EXPECT_FALSE(p::decode_relay_frame(frame(datagram, kManager)));  // unicast: never relayed
  EXPECT_FALSE(p::decode_relay_frame(frame({}, kData)));           // nothing in it
  EXPECT_FALSE(p::decode_relay_frame(std::span(f).first(p::kRelayFrameBytes - 1)));
  auto no_port = f;
  no_port[2] = no_port[3] = 0;
  EXPECT_FALSE(p::decode_relay_frame(no_port));
}

// Data from a source no manager line verified from is not multicast; a line the manager signed
// is, and pins its source for the data; another key's line, a forged one and junk are not.
TEST(relay, ForwardsOnlyWhatTheManagerSignedAndItsSourcesData) {
  const auto manager = seeded_key(1);
  const auto other = seeded_key(2);
  receiver::SiteRelay relay(manager.public_key(), kCtrl);
  const std::vector<std::uint8_t> symbol(1412, 7);

  EXPECT_FALSE(relay.on_frame(frame(symbol, kData), kManager, t0));
  EXPECT_EQ(relay.counters().dropped[p::Drop::not_ours], 1u);

  const std::string foreign = status_line(other, 1000);
  EXPECT_FALSE(relay.on_frame(frame(p::as_bytes(foreign), kCtrl), kManager, t0));
  std::string forged = status_line(manager, 1000);
  forged[forged.size() - 3] = forged[forged.size() - 3] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(relay.on_frame(frame(p::as_bytes(forged), kCtrl), kManager, t0));
  EXPECT_EQ(relay.counters().dropped[p::Drop::forged], 1u);
  EXPECT_FALSE(relay.on_frame(frame(symbol, kData), kManager, t0));  // still nothing pinned

  // (A source whose line failed waits a second, verify_budget.hpp.)
  const std::string genuine = status_line(manager, 1000);
  const auto t1 = t0 + std::chrono::seconds(2);
  // (The answer points into the frame: it must outlive it.)
  const auto genuine_frame = frame(p::as_bytes(genuine), kCtrl);
  const auto line = relay.on_frame(genuine_frame, kManager, t1);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->to, kCtrl);
  EXPECT_EQ(
      std::string(reinterpret_cast<const char*>(line->datagram.data()), line->datagram.size()),
      genuine);  // byte for byte
  const auto data_frame = frame(symbol, kData);
  const auto data = relay.on_frame(data_frame, kManager, t1 + std::chrono::seconds(1));
  ASSERT_TRUE(data);
  EXPECT_EQ(data->to, kData);
  // Another source's data stays out; the pin lapses after kPinFor without a manager line.
  EXPECT_FALSE(relay.on_frame(frame(symbol, kData), endpoint("fd00:fc::66", 4712), t1));
  EXPECT_FALSE(relay.on_frame(frame(symbol, kData), kManager,
                              t1 + receiver::SiteRelay::kPinFor + std::chrono::seconds(1)));
  EXPECT_EQ(relay.counters().forwarded, 2u);
  EXPECT_FALSE(relay.on_frame(std::vector<std::uint8_t>{0xFC}, kManager, t0));
  EXPECT_EQ(relay.counters().dropped[p::Drop::malformed], 1u);
}

// A flood of forged lines costs the relay its budget, not a verification each.
TEST(relay, ForgedLinesCostNoMoreThanTheBudget) {
  const auto manager = seeded_key(1);
  receiver::SiteRelay relay(manager.public_key(), kCtrl);
  for (std::uint64_t i = 0; i < 1000; ++i) {
    std::string forged = status_line(manager, 1000 + i);
    forged[forged.size() - 3] = forged[forged.size() - 3] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(relay.on_frame(frame(p::as_bytes(forged), kCtrl), kManager, t0));
  }
  EXPECT_LE(relay.counters().dropped[p::Drop::forged], p::VerifyBudget::kPerSourcePerSecond);
  EXPECT_GE(relay.counters().dropped[p::Drop::over_budget], 900u);
}

TEST(site, ParsesFormatsAndChecksItsHosts) {
  std::string error;
  const auto s = sender::parse_site(
      "school-a relay=s1r1 address=fd00:fc:1::65 uplink=50 hosts=s1r2,s1r3", &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->relay, "s1r1");
  EXPECT_EQ(s->at, endpoint("fd00:fc:1::65", p::kDefaultRelayPort));
  EXPECT_EQ(s->uplink_mbit, 50);
  EXPECT_EQ(s->members, (std::vector<std::string>{"s1r1", "s1r2", "s1r3"}));  // the relay first
  const auto again = sender::parse_site(sender::format_site(*s), &error);
  ASSERT_TRUE(again) << error;
  EXPECT_EQ(again->at, s->at);
  EXPECT_EQ(again->members, s->members);

  EXPECT_FALSE(sender::parse_site("school-a relay=s1r1", &error));
  EXPECT_NE(error.find("address"), std::string::npos);
  EXPECT_FALSE(sender::parse_site("school-a relay=s1r1 address=ff15::1", &error));
  EXPECT_FALSE(sender::parse_site("school-a relay=s1r1 address=fd00::1 uplink=-3", &error));
  EXPECT_FALSE(sender::parse_site("school-a relay=s1r1 address=fd00::1 color=red", &error));
  EXPECT_NE(error.find("color"), std::string::npos);

  const auto path = std::filesystem::temp_directory_path() / "fleetcast-site-inventory";
  sender::Inventory inv;
  for (int i = 1; i <= 3; ++i) {
    inv.add({"s1r" + std::to_string(i),
             seeded_key(static_cast<std::uint8_t>(10 + i)).public_key(),
             {}});
  }
  sender::Site missing = *s;
  missing.members.push_back("s9r9");
  EXPECT_THROW(inv.set_site(missing), sender::InventoryError);
  inv.set_site(*s);
  sender::Site second = *again;
  second.name = "school-b";
  EXPECT_THROW(inv.set_site(second), sender::InventoryError);  // a host behind two sites
  inv.save(path);
  const auto loaded = sender::Inventory::load(path);
  std::filesystem::remove(path);
  ASSERT_EQ(loaded.sites().size(), 1u);
  ASSERT_NE(loaded.site_of("s1r3"), nullptr);
  EXPECT_EQ(loaded.site_of("s1r3")->name, "school-a");
  EXPECT_EQ(loaded.site_of("nobody"), nullptr);
}

// A transport that takes at most `room` datagrams per call, keeping copies of what it took.
struct Socket : p::Transport {
  std::size_t room = 1000;
  std::vector<std::pair<std::vector<std::uint8_t>, p::Endpoint>> sent;
  std::size_t send(std::span<const p::Datagram> datagrams) override {
    const std::size_t n = std::min(room, datagrams.size());
    for (std::size_t i = 0; i < n; ++i) {
      sent.emplace_back(
          std::vector<std::uint8_t>(datagrams[i].bytes.begin(), datagrams[i].bytes.end()),
          datagrams[i].to);
    }
    return n;
  }
};

// Every multicast datagram goes to its group and, framed, to each relay, in order and whole,
// also when the socket takes only part of a batch; unicast passes through once.
TEST(site, FanoutSendsOneFramedCopyPerRelay) {
  Socket socket;
  const auto r1 = endpoint("fd00:fc:1::65", 4713), r2 = endpoint("fd00:fc:2::65", 4713);
  sender::SiteFanout fanout(socket, {r1, r2});
  const std::vector<std::uint8_t> a = {1, 2, 3}, b = {4, 5}, c = {6};
  const p::Datagram batch[] = {{a, kData}, {b, kCtrl}, {c, endpoint("fd00:fc:1::66", 4712)}};
  socket.room = 4;  // the buffer fills in the middle of b's copies
  EXPECT_EQ(fanout.send(batch), 3u);
  EXPECT_FALSE(fanout.idle());
  socket.room = 0;
  EXPECT_EQ(fanout.send(batch), 0u);  // copies still wait: nothing more is taken
  socket.room = 1000;
  EXPECT_TRUE(fanout.flush());
  ASSERT_EQ(socket.sent.size(), 7u);
  EXPECT_EQ(socket.sent[0].second, kData);
  EXPECT_EQ(socket.sent[0].first, a);
  for (std::size_t i : {1u, 2u, 4u, 5u}) {
    const auto f = p::decode_relay_frame(socket.sent[i].first);
    ASSERT_TRUE(f);
    EXPECT_EQ(socket.sent[i].second, i == 1 || i == 4 ? r1 : r2);
    EXPECT_EQ(f->to, i < 3 ? kData : kCtrl);
  }
  EXPECT_EQ(socket.sent[3].second, kCtrl);
  EXPECT_EQ(socket.sent[6].first, c);  // unicast: unframed, to nobody else
  EXPECT_EQ(fanout.stats()[0].frames, 2u);
  EXPECT_EQ(fanout.stats()[1].bytes, 2 * p::kRelayFrameBytes + a.size() + b.size());
}

}  // namespace
}  // namespace fleetcast
