// Tests for protocol/control.hpp: golden lines, round trips of every command, signature checks,
// and rejection of malformed, truncated, oversized, reordered and inconsistent lines.

#include "protocol/control.hpp"

#include <gtest/gtest.h>

#include "tests/unit/protocol/test_keys.hpp"

namespace fleetcast::protocol {
namespace {

// The golden UPDATE below, field by field: the paper's six positional fields (name, size,
// file ID, first and last sequence = source symbols 1..ceil(1234560 / 1400) = 882, digest),
// then named fields in fixed order, the signer's key ID and the Ed25519 signature.
constexpr std::string_view kGoldenUpdate =
    "UPDATE update.tar.gz 1234560 3 1 882 "
    "e6873303ee5858645afba3926d38dcded211b49dd44a1ca70bc230ff73039aee "
    "session=0123456789abcdef "
    "version=7 kind=dhcp-server apply=now symbol=1400 k=200 "
    "data=[ff15::f1ee:2]:4711 reply=[fd00:fc::1]:4712 targets=school-1.example,@kea "
    "time=1795000000 key=9d24e2eeaf27c2a0 "
    "sig=28517197a699f5634bf0231b313133da9fe3c3f370b865838ac85d763c91b61d5dcb91b2420a7244febd0973"
    "5250bd86b869d0453066ca6a6b12db142ab0560b";

// FIN with a free-text message: spaces and commas percent-escaped.
constexpr std::string_view kGoldenFin =
    "FIN update.tar.gz school-1.example kea-dhcp4%20-t:%20ok%2C%202%20pools "
    "session=0123456789abcdef status=applied version=7 "
    "digest=e6873303ee5858645afba3926d38dcded211b49dd44a1ca70bc230ff73039aee "
    "key=9d24e2eeaf27c2a0 "
    "sig=92358319e7df52cb843d8c60de2329cd548921f427fa107251f2f0e9d1e544cbc817f211529cd8b321803d2e"
    "207423f6465d4dc318830d2f7af1da31141b5302";

Update sample_update() {
  Update u;
  u.name = "update.tar.gz";
  u.size = 1234560;
  u.file_id = 3;
  u.first_seq = 1;
  u.last_seq = 882;
  u.digest = digest(as_bytes("fleetcast"));
  u.session.value = 0x0123456789abcdefULL;
  u.version = 7;
  u.kind = "dhcp-server";
  u.apply = ApplyMode::now;
  u.symbol_size = 1400;
  u.max_k = 200;
  u.data = text::parse_endpoint("[ff15::f1ee:2]:4711", "").value();
  u.reply = text::parse_endpoint("[fd00:fc::1]:4712", "").value();
  u.targets.entries = {"school-1.example", "@kea"};
  u.time = 1795000000;
  return u;
}

Fin sample_fin() {
  Fin f;
  f.name = "update.tar.gz";
  f.host = "school-1.example";
  f.message = "kea-dhcp4 -t: ok, 2 pools";
  f.session.value = 0x0123456789abcdefULL;
  f.status = FinStatus::applied;
  f.version = 7;
  f.digest = digest(as_bytes("fleetcast"));
  return f;
}

std::string encode(const Command& c) {
  auto line = encode_command(c, testing::seeded_key(0));
  EXPECT_TRUE(line) << (line ? "" : to_string(line.failure()));
  return line ? line.value() : std::string();
}

Failure parse_failure(std::string_view line) {
  auto r = parse_command(line);
  EXPECT_FALSE(r) << "accepted: " << line;
  return r ? Failure{Error::truncated, "accepted"} : r.failure();
}

// Encoding reproduces the golden bytes; parsing them yields the same values and a valid signature.
TEST(Control, GoldenUpdateAndFin) {
  EXPECT_EQ(encode(sample_update()), kGoldenUpdate);
  EXPECT_EQ(encode(sample_fin()), kGoldenFin);
  auto parsed = parse_command(kGoldenUpdate);
  ASSERT_TRUE(parsed);
  const auto& u = std::get<Update>(parsed->command);
  EXPECT_EQ(u.size, 1234560u);
  EXPECT_EQ(u.targets.entries.size(), 2u);
  EXPECT_EQ(text::hex64(parsed->signer.value), "9d24e2eeaf27c2a0");
  EXPECT_TRUE(verify_command(parsed.value(), testing::seeded_key(0).public_key()));
  auto fin = parse_command(kGoldenFin);
  ASSERT_TRUE(fin);
  EXPECT_EQ(std::get<Fin>(fin->command).message, "kea-dhcp4 -t: ok, 2 pools");
  EXPECT_EQ(std::get<Fin>(fin->command).status, FinStatus::applied);
}

// Every command survives encode -> parse -> encode unchanged and verifies.
TEST(Control, EveryCommandRoundTrips) {
  Recv recv{"update.tar.gz", "h1.example", {42}, 17};
  Deny deny{"update.tar.gz", "h1.example", "kind dhcp-server not allowed", {42}};
  StatusRequest status{"update.tar.gz", {42}, 1795000001};
  Abort abort{"update.tar.gz", "", {42}, 1795000002};  // empty reason encodes as "-"
  Activate activate{"update.tar.gz", {42}, 7, digest(as_bytes("x")), 2, Targets::all(), 1795000003};
  Fin fin = sample_fin();
  fin.message = "-";
  fin.status = FinStatus::rolled_back;
  const std::vector<Command> commands{sample_update(), recv, deny, status, abort, activate, fin};
  for (const Command& c : commands) {
    const std::string line = encode(c);
    auto parsed = parse_command(line);
    ASSERT_TRUE(parsed) << line << ": " << to_string(parsed.failure());
    EXPECT_EQ(verb(parsed->command), verb(c));
    EXPECT_EQ(encode(parsed->command), line);
    EXPECT_TRUE(verify_command(parsed.value(), testing::seeded_key(0).public_key()));
  }
  EXPECT_TRUE(encode(abort).find(" - session=") != std::string::npos);
}

// Rollouts: UPDATE apply=hold and FIN status=held round-trip; unknown modes and statuses are
// refused by the parser.
TEST(Control, HoldAndHeldRoundTrip) {
  Update u = sample_update();
  u.apply = ApplyMode::hold;
  const std::string update = encode(u);
  EXPECT_NE(update.find(" apply=hold "), std::string::npos) << update;
  auto parsed = parse_command(update);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(std::get<Update>(parsed->command).apply, ApplyMode::hold);
  Fin fin = sample_fin();
  fin.status = FinStatus::held;
  const std::string line = encode(fin);
  EXPECT_NE(line.find(" status=held "), std::string::npos) << line;
  auto back = parse_command(line);
  ASSERT_TRUE(back);
  EXPECT_EQ(std::get<Fin>(back->command).status, FinStatus::held);
  std::string later = update;
  later.replace(later.find("apply=hold"), 10, "apply=soon");
  EXPECT_FALSE(parse_command(later));
  EXPECT_EQ(fin_status_from("held"), FinStatus::held);
  EXPECT_FALSE(fin_status_from("done"));
}

// Golden lines of the other commands (deterministic key; ABORT's empty reason is "-").
TEST(Control, GoldenEveryOtherCommand) {
  const std::string sig_recv =
      "e32a83fcdeabc1d169e4a42b5bd722d61cca55b8ae587c5124c52f6c1b3c23fffa1f8e4eec9d13f52950757e02"
      "14a6c6518e29c69b1117167eebb97c36a3e700";
  const std::string sig_deny =
      "b78612630914b3aab88f6f5c720314b9e4f51509a05bc0039dae1c43447d495efba849c0edf4dfffdca95b03e8"
      "4d0170ee82d87c5cff3dac22794d0c747dc80d";
  const std::string sig_status =
      "155a70b3859200946629a1741e99ba1640d749ee69db2e2fef8a3940e387e016d1009cedfa6eb5ef19f98da0ab"
      "d8966dbee31cd1dd3f9a708e1baae4259d2f0d";
  const std::string sig_abort =
      "a94b2e110cd5d5c6fc7f9f0856c2cbaef3087b566b2586e7099580b3bcfdbfd4d6edbbdbf88a9d4733a28fcde2"
      "9e627fba0fb56c196b24339115a57376fd5008";
  const std::string sig_activate =
      "a86609f08a1e41e75ed607809a54a17ce354d939c8b5f05d195c7cab24354c7e9f47cb7270d9e71d0ff8375ab2"
      "a8a3e898743e30455f8c93a22d7214af06730b";
  const std::string id = " key=9d24e2eeaf27c2a0 sig=";
  const std::string recv = encode(Recv{"update.tar.gz", "h1.example", {42}, 17, 1});
  EXPECT_EQ(recv, "RECV update.tar.gz h1.example session=000000000000002a have=17 fleet=1" + id +
                      sig_recv);
  std::string two = recv;  // fleet is 0 or 1
  two.replace(two.find("fleet=1"), 7, "fleet=2");
  EXPECT_FALSE(parse_command(two));
  EXPECT_EQ(encode(Deny{"update.tar.gz", "h1.example", "kind dhcp-server not allowed", {42}}),
            "DENY update.tar.gz h1.example kind%20dhcp-server%20not%20allowed "
            "session=000000000000002a" +
                id + sig_deny);
  EXPECT_EQ(
      encode(StatusRequest{"update.tar.gz", {42}, 1795000001, Targets{{"h1.example", "@lab"}}}),
      "STATUS update.tar.gz session=000000000000002a time=1795000001 "
      "targets=h1.example,@lab" +
          id + sig_status);
  EXPECT_EQ(encode(Abort{"update.tar.gz", "", {42}, 1795000002}),
            "ABORT update.tar.gz - session=000000000000002a time=1795000002" + id + sig_abort);
  EXPECT_EQ(encode(Activate{
                "update.tar.gz", {42}, 7, digest(as_bytes("x")), 2, Targets::all(), 1795000003}),
            "ACTIVATE update.tar.gz session=000000000000002a version=7 "
            "digest=d161d71145abeec5ef15abcf0459cec60a27321e2f0ac0ef7ace5254f5944476 wave=2 "
            "targets=* time=1795000003" +
                id + sig_activate);
}

// A wrong key, a changed byte, or a key ID that names another key never verifies.
TEST(Control, SignatureFailures) {
  auto parsed = parse_command(kGoldenUpdate);
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(verify_command(parsed.value(), testing::seeded_key(1).public_key()));
  std::string tampered(kGoldenUpdate);
  tampered.replace(tampered.find("version=7"), 9, "version=8");
  auto t = parse_command(tampered);
  ASSERT_TRUE(t);
  EXPECT_FALSE(verify_command(t.value(), testing::seeded_key(0).public_key()));
  // Re-signed by another key but claiming the manager's key ID.
  std::string line = encode_command(sample_update(), testing::seeded_key(1)).value();
  line.replace(line.find("key=") + 4, 16, "9d24e2eeaf27c2a0");
  auto forged = parse_command(line);
  ASSERT_TRUE(forged);
  EXPECT_FALSE(verify_command(forged.value(), testing::seeded_key(0).public_key()));
  EXPECT_FALSE(verify_command(forged.value(), testing::seeded_key(1).public_key()));
}

// Malformed lines: each gives a typed error naming the field.
TEST(Control, RejectsMalformedLines) {
  const std::string g(kGoldenUpdate);
  auto with = [&](std::string_view from, std::string_view to) {
    std::string s = g;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  EXPECT_EQ(parse_failure("").error, Error::truncated);
  EXPECT_EQ(parse_failure(std::string(1233, 'A')).error, Error::too_long);
  EXPECT_EQ(parse_failure(g + "\n").error, Error::bad_character);
  EXPECT_EQ(parse_failure(with(" 1234560 ", "  1234560 ")).error, Error::bad_character);
  EXPECT_EQ(parse_failure(with("UPDATE ", "UPDATE\t")).error, Error::bad_character);
  EXPECT_EQ(parse_failure(with("update.tar.gz", "upd\xc3\xa4te")).error, Error::bad_character);
  EXPECT_EQ(parse_failure(with("UPDATE", "UPLOAD")).error, Error::bad_type);
  EXPECT_EQ(parse_failure(with("1234560", "01234560")).error, Error::bad_number);
  EXPECT_EQ(parse_failure(with(" 3 1 ", " 65536 1 ")).where, "file-id");
  EXPECT_EQ(parse_failure(with("k=200", "k=255")).error, Error::out_of_range);
  EXPECT_EQ(parse_failure(with("symbol=1400", "symbol=15")).error, Error::out_of_range);
  EXPECT_EQ(parse_failure(with(" 882 ", " 881 ")).error, Error::inconsistent);
  EXPECT_EQ(parse_failure(with(" 1 882 ", " 2 883 ")).error, Error::inconsistent);
  EXPECT_EQ(parse_failure(with("[ff15::f1ee:2]", "[fd00::2]")).error, Error::inconsistent);
  EXPECT_EQ(parse_failure(with("[fd00:fc::1]", "[ff02::1]")).error, Error::inconsistent);
  EXPECT_EQ(parse_failure(with("version=7 kind", "kind")).error, Error::unexpected_field);
  EXPECT_EQ(parse_failure(with("version=7 kind=dhcp-server", "kind=dhcp-server version=7")).error,
            Error::unexpected_field);
  EXPECT_EQ(parse_failure(with("time=1795000000 ", "time=1795000000 x=1 ")).error,
            Error::field_count);
  EXPECT_EQ(parse_failure(with("@kea", "@kea,@kea")).error, Error::inconsistent);
  EXPECT_EQ(parse_failure(with("@kea", "")).error, Error::bad_character);   // trailing comma
  EXPECT_EQ(parse_failure(with("@kea", "*")).error, Error::bad_character);  // * must stand alone
  EXPECT_EQ(parse_failure(with("update.tar.gz", "..")).error, Error::bad_character);
  EXPECT_EQ(parse_failure(with("update.tar.gz", "a/b")).error, Error::bad_character);
  EXPECT_EQ(parse_failure(with("update.tar.gz", "a%2Fb")).error, Error::bad_escape);
  EXPECT_EQ(parse_failure(with("kind=dhcp-server", "kind=DHCP")).error, Error::bad_character);
  EXPECT_EQ(parse_failure(with("key=9d24e2ee", "key=9D24E2EE")).where, "key");
  EXPECT_EQ(parse_failure(g.substr(0, g.size() - 2)).where, "sig");
  EXPECT_EQ(parse_failure(g.substr(0, g.find(" key="))).error, Error::unexpected_field);
  EXPECT_EQ(parse_failure("RECV a key=0000000000000000 sig=" + std::string(128, '0')).error,
            Error::field_count);
}

// The encoder refuses what the parser would refuse, naming the field.
TEST(Control, EncoderValidates) {
  Update u = sample_update();
  u.last_seq = 1;
  EXPECT_EQ(encode_command(u, testing::seeded_key(0)).failure().where, "last");
  u = sample_update();
  u.name = "../etc/passwd";
  EXPECT_EQ(encode_command(u, testing::seeded_key(0)).failure().where, "name");
  u = sample_update();
  u.targets.entries.clear();
  EXPECT_EQ(encode_command(u, testing::seeded_key(0)).failure().where, "targets");
  u = sample_update();
  for (int i = 0; i < 60; ++i)
    u.targets.entries.push_back("school-" + std::to_string(i) + ".example.jp");
  EXPECT_EQ(encode_command(u, testing::seeded_key(0)).failure().error, Error::too_long);
  Fin f = sample_fin();
  f.message = std::string(kMaxTextBytes + 1, 'x');
  EXPECT_EQ(encode_command(f, testing::seeded_key(0)).failure().where, "message");
}

// Targets match hosts by name and by group.
TEST(Control, TargetsInclude) {
  Targets t{{"h1", "@kea"}};
  EXPECT_TRUE(t.includes("h1", {}));
  EXPECT_TRUE(t.includes("h2", {"dhcpd", "kea"}));
  EXPECT_FALSE(t.includes("h2", {"dhcpd"}));
  EXPECT_TRUE(Targets::all().includes("any", {}));
}

}  // namespace
}  // namespace fleetcast::protocol
