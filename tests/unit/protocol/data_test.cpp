// Tests for protocol/data.hpp: annotated golden bytes, round trips of every packet type, and
// rejection of truncated, oversized, wrong-version, wrong-signature and garbage datagrams.

#include "protocol/data.hpp"

#include <gtest/gtest.h>

#include <random>

#include "protocol/text.hpp"
#include "tests/unit/protocol/test_keys.hpp"

namespace fleetcast::protocol {
namespace {

constexpr SessionId kSession{0x0123456789abcdefULL};

std::vector<std::uint8_t> unhex(std::string_view h) {
  std::vector<std::uint8_t> out(h.size() / 2);
  EXPECT_TRUE(text::unhex(h, out)) << h;
  return out;
}

// The MAC key between the test host (seed 0) and the test manager (seed 9).
MacKey test_mac(std::uint8_t host_seed = 0) {
  return feedback_mac_key(testing::seeded_key(host_seed), testing::seeded_key(9).public_key())
      .value();
}

std::vector<std::uint8_t> encode(const Feedback& f, std::uint8_t key_seed = 0) {
  std::vector<std::uint8_t> buf(kMaxControlDatagram);
  const MacKey mac = test_mac(key_seed);
  auto n = encode_feedback(f, kSession, testing::seeded_key(key_seed), buf, mac);
  EXPECT_TRUE(n) << (n ? "" : to_string(n.failure()));
  buf.resize(n ? n.value() : 0);
  return buf;
}

Failure failure_of(std::span<const std::uint8_t> bytes) {
  auto r = parse_data_packet(bytes);
  EXPECT_FALSE(r);
  return r ? Failure{Error::truncated, "accepted"} : r.failure();
}

// A parity symbol, byte by byte.
TEST(Data, GoldenSymbolPacket) {
  std::vector<std::uint8_t> payload(16);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i);
  SymbolPacket p{true, 3, 0x01020304, 0x00abcd, 201, payload};
  std::array<std::uint8_t, 64> buf{};
  const std::size_t n = encode_symbol(p, buf);
  const std::string golden =
      "14"        // version 1 | type 4 (parity)
      "03"        // header length: 3 words
      "0003"      // file ID 3
      "01020304"  // sequence
      "00abcd"
      "c9"                                 // FEC info: SBN 0x00abcd | ESI 201
      "000102030405060708090a0b0c0d0e0f";  // symbol
  EXPECT_EQ(text::hex(std::span(buf.data(), n)), golden);
  auto parsed = parse_data_packet(std::span(buf.data(), n));
  ASSERT_TRUE(parsed);
  const auto& s = std::get<SymbolPacket>(parsed.value());
  EXPECT_TRUE(s.parity);
  EXPECT_EQ(s.sbn, 0x00abcdu);
  EXPECT_EQ(s.esi, 201);
  EXPECT_EQ(s.sequence, 0x01020304u);
  EXPECT_TRUE(std::equal(s.payload.begin(), s.payload.end(), payload.begin(), payload.end()));
}

// A MIXED (cross-block repair) packet, byte by byte: three parts, the first in FEC info.
TEST(Data, GoldenMixedPacket) {
  std::vector<std::uint8_t> payload(16);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(0xf0 + i);
  MixedPacket m;
  m.file_id = 3;
  m.sequence = 0x01020304;
  m.count = 3;
  m.parts[0] = {0x000002, 130};
  m.parts[1] = {0x000007, 131};
  m.parts[2] = {0x00abcd, 5};
  m.payload = payload;
  std::array<std::uint8_t, 64> buf{};
  const std::size_t n = encode_mixed(m, buf);
  const std::string golden =
      "16"        // version 1 | type 6 (MIXED)
      "03"        // header length: 3 words
      "0003"      // file ID 3
      "01020304"  // sequence
      "000002"
      "82"  // FEC info: first part, block 2, ESI 130 (parity)
      "03"  // 3 parts
      "000007"
      "83"  // block 7, ESI 131
      "00abcd"
      "05"                                 // block 0xabcd, ESI 5 (a source symbol)
      "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";  // the sum of the three symbols
  EXPECT_EQ(text::hex(std::span(buf.data(), n)), golden);
  EXPECT_EQ(n, mixed_datagram_bytes(3, 16));
  auto parsed = parse_data_packet(std::span(buf.data(), n));
  ASSERT_TRUE(parsed);
  const auto& got = std::get<MixedPacket>(parsed.value());
  EXPECT_EQ(got.count, 3);
  EXPECT_TRUE(std::equal(got.ids().begin(), got.ids().end(), m.ids().begin(), m.ids().end()));
  EXPECT_EQ(got.sequence, 0x01020304u);
  EXPECT_EQ(got.file_id, 3);
  EXPECT_TRUE(std::equal(got.payload.begin(), got.payload.end(), payload.begin(), payload.end()));
}

// MIXED packets with one part, too many parts, parts out of order or a cut-off part list are
// refused by the encoder and the parser alike.
TEST(Data, MalformedMixedPackets) {
  std::vector<std::uint8_t> payload(kMinSymbolSize, 0x55);
  MixedPacket m;
  m.count = 2;
  m.parts[0] = {4, 200};
  m.parts[1] = {9, 200};
  m.payload = payload;
  std::vector<std::uint8_t> buf(kMaxDataDatagram);
  const std::size_t n = encode_mixed(m, buf);
  ASSERT_GT(n, 0u);
  const std::vector<std::uint8_t> good(buf.begin(), buf.begin() + static_cast<long>(n));
  ASSERT_TRUE(parse_data_packet(good));

  MixedPacket bad = m;
  bad.count = 1;
  EXPECT_EQ(encode_mixed(bad, buf), 0u);
  bad.count = kMaxMixedParts + 1;
  EXPECT_EQ(encode_mixed(bad, buf), 0u);
  bad = m;
  bad.parts[1].sbn = 4;  // not ascending: the same block twice
  EXPECT_EQ(encode_mixed(bad, buf), 0u);
  bad = m;
  bad.parts[1].sbn = kMaxSbn + 1;
  EXPECT_EQ(encode_mixed(bad, buf), 0u);
  EXPECT_EQ(encode_mixed(m, std::span(buf).first(n - 1)), 0u);

  auto v = good;
  v[kHeaderBytes] = 1;  // one part: that is a PARITY packet
  EXPECT_EQ(failure_of(v).error, Error::out_of_range);
  v[kHeaderBytes] = kMaxMixedParts + 1;
  EXPECT_EQ(failure_of(v).error, Error::out_of_range);
  v = good;
  v[kHeaderBytes + 3] = 4;  // second part names block 4 again
  EXPECT_EQ(failure_of(v).error, Error::inconsistent);
  v = good;
  v[kHeaderBytes] = kMaxMixedParts;  // claims more parts than the datagram holds
  EXPECT_FALSE(parse_data_packet(v));
  for (std::size_t cut = 0; cut < kHeaderBytes + 1 + 4 + kMinSymbolSize; ++cut) {
    EXPECT_FALSE(parse_data_packet(std::span(good).first(cut))) << "cut at " << cut;
  }
}

// A NAK, byte by byte, signed by the deterministic test key.
TEST(Data, GoldenNak) {
  Nak nak{3, 2, 1, {{2, 3, 1}, {5, 200, 4}}, 523};
  const std::string golden =
      "12"
      "03"
      "0003"              // version 1 | type 2 (NAK), 3 words, file ID 3
      "00000002"          // sequence: blocks 0..1 complete
      "00000001"          // FEC info: answers round 1
      "0123456789abcdef"  // session ID
      "9d24e2eeaf27c2a0"  // signer key ID
      "020b"              // loss: 523 / 10000 = 5.23 % of the round missed
      "0002"              // 2 entries
      "000002"
      "03"
      "0001"  // block 2 needs 3 more symbols
      "000005"
      "c8"
      "0004"                              // blocks 5..8 need 200 each
      "c3c65d250de1abbef83fa006928362c7"  // MAC (BLAKE2b-128 keyed with the host-manager key)
      "0ed0d2406f852723f93d050b6c5d4573be76290c3e3a4d0d77595ff10dca72d0"  // Ed25519
      "0bb4ddc550f258df696a35ef1c0cf7bc32367919b65f44c36879e08c1d4f9206";
  EXPECT_EQ(text::hex(encode(nak)), golden);
  const auto bytes = unhex(golden);
  auto parsed = parse_data_packet(bytes);
  ASSERT_TRUE(parsed);
  const auto& fb = std::get<SignedFeedback>(parsed.value());
  EXPECT_EQ(fb.session, kSession);
  EXPECT_TRUE(verify_feedback(fb, testing::seeded_key(0).public_key()));
  EXPECT_TRUE(check_mac(fb, test_mac()));
  const auto& n = std::get<Nak>(fb.feedback);
  EXPECT_EQ(n.entries, nak.entries);
  EXPECT_EQ(n.complete_prefix, 2u);
  EXPECT_EQ(n.round, 1u);
  EXPECT_EQ(n.loss, 523);
}

// Golden COMPLETE, COMPLETE-ACK, ROUND and DATA packets, field by field.
TEST(Data, GoldenEveryOtherType) {
  const std::string head =
      "0123456789abcdef"
      "9d24e2eeaf27c2a0";  // session, signer key ID
  EXPECT_EQ(text::hex(encode(Complete{3, digest(as_bytes("fleetcast"))})),
            "11"
            "03"
            "0003"
            "00000000"
            "00000000" +
                head +
                "e6873303ee5858645afba3926d38dcded211b49dd44a1ca70bc230ff73039aee"  // digest
                "ff7d365ac10af6b25b676ed3cf66fccb"                                  // MAC
                "7bcabfa3a7f7aacefa987d72f8ca918cce2468defd30f510ca80044b268c605e"  // signature
                "e7f568b0ee2d4ef48b8826ffd2f60151f0ec20a873529d8531a2dd4d5ece7809");
  EXPECT_EQ(text::hex(encode(
                CompleteAck{3, {KeyId{0x1112131415161718ULL}, KeyId{0x2122232425262728ULL}}})),
            "13"
            "03"
            "0003"
            "00000000"
            "00000000" +
                head +
                "0002"
                "1112131415161718"
                "2122232425262728"                  // 2 acknowledged hosts
                "bee1a76bf31c77ddb1cba0e0e58659c6"  // MAC (the manager's: fleet key)
                "0c89be3f151afd50183de3bdf477c3a6fec33ad6bdea9a7cb38e4d19ca203a41"
                "b1a097fe0978a62276590332069555c56449fb7e5730ed3fb5f2b4ce72b07607");
  EXPECT_EQ(text::hex(encode(Round{3, 2, 5000, 250})),
            "15"
            "03"
            "0003"
            "00001388"  // next round starts at sequence 5000
            "00000002"  // round 2
                + head +
                "000000fa"                          // NAK window 250 ms
                "6cbcd8a70edd196c5b46d786289982e7"  // MAC
                "ff0be5b2b9befd6493e7133ecd3905923166699fc0180a81dbe309920a442485"
                "e27a308f2c737fb6d9e9bbdcc54e4123671ab33317a734948af4e10309056208");
  std::array<std::uint8_t, 16> zeros{};
  std::array<std::uint8_t, 64> buf{};
  const std::size_t n = encode_symbol({false, 3, 7, 2, 5, zeros}, buf);
  EXPECT_EQ(text::hex(std::span(buf.data(), n)),
            "10"
            "03"
            "0003"
            "00000007"
            "000002"
            "05"  // DATA, sequence 7, SBN 2, ESI 5
            "00000000000000000000000000000000");
}

// Every feedback type round-trips and verifies; another key or a flipped bit does not verify.
TEST(Data, FeedbackRoundTripsAndVerifies) {
  std::vector<NakEntry> many;
  for (std::uint32_t i = 0; i < kMaxNakEntries; ++i) many.push_back({i * 2, 1, 1});
  const std::vector<Feedback> all{
      Complete{9, digest(as_bytes("f"))},
      Nak{9, 0, 3, many, kLossScale},
      CompleteAck{9, std::vector<KeyId>(kMaxAckedHosts, KeyId{5})},
      Round{9, 4, 1000, 250},
      MixedTable{9, 4, std::vector<std::array<std::uint8_t, 16>>(kMaxMixedTableHashes)},
      Probe{9, 4, 1000, 250'000, 25, KeyId{7}, 50, 8},
      LossReport{9, 4, 1000, 512, 2000, 1898, 3, 6100, 180},
      Roots{9,
            kMaxSbn,
            0x1f,
            {digest(as_bytes("0")), digest(as_bytes("1")), digest(as_bytes("2")),
             digest(as_bytes("3")), digest(as_bytes("4"))}},
      Roots{9, 3, 0x12, {digest(as_bytes("1")), digest(as_bytes("4"))}}};
  for (const Feedback& f : all) {
    const auto bytes = encode(f);
    ASSERT_LE(bytes.size(), kMaxControlDatagram);
    auto parsed = parse_data_packet(bytes);
    ASSERT_TRUE(parsed) << to_string(parsed.failure());
    const auto& fb = std::get<SignedFeedback>(parsed.value());
    EXPECT_EQ(fb.feedback.index(), f.index());
    if (const auto* l = std::get_if<LossReport>(&f)) {
      EXPECT_EQ(std::get<LossReport>(fb.feedback), *l) << "every field comes back";
    }
    if (const auto* pr = std::get_if<Probe>(&f)) {
      EXPECT_EQ(std::get<Probe>(fb.feedback), *pr) << "every field comes back";
    }
    if (const auto* r = std::get_if<Roots>(&f)) {
      EXPECT_EQ(std::get<Roots>(fb.feedback), *r) << "every field comes back";
      if (r->chunks == 0x1f) {
        EXPECT_EQ(bytes.size(), kWindowRootsDatagram);
      }
    }
    EXPECT_TRUE(verify_feedback(fb, testing::seeded_key(0).public_key()));
    EXPECT_FALSE(verify_feedback(fb, testing::seeded_key(1).public_key()));
    // Every packet carries a MAC (host feedback: host and manager; the manager's: the fleet).
    EXPECT_TRUE(check_mac(fb, test_mac()));
    EXPECT_FALSE(check_mac(fb, test_mac(1)));
    const auto manager_side =
        feedback_mac_key(testing::seeded_key(9), testing::seeded_key(0).public_key()).value();
    EXPECT_EQ(manager_side.bytes, test_mac().bytes) << "both sides derive the same key";
    for (std::size_t bit : {0ul, 8 * 13ul, 8 * (bytes.size() - 1)}) {
      auto flipped = bytes;
      flipped[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      auto p = parse_data_packet(flipped);
      if (p && std::holds_alternative<SignedFeedback>(p.value())) {
        EXPECT_FALSE(verify_feedback(std::get<SignedFeedback>(p.value()),
                                     testing::seeded_key(0).public_key()));
      }
    }
  }
}

// Encoders refuse values the parser would refuse.
TEST(Data, EncodersValidate) {
  std::vector<std::uint8_t> buf(kMaxControlDatagram);
  const SecretKey key = testing::seeded_key(0);
  const MacKey mac = test_mac();
  EXPECT_TRUE(encode_feedback(Nak{1, 0, 0, {{5, 1, 1}}}, kSession, key, buf, mac));
  EXPECT_FALSE(encode_feedback(Nak{1, 0, 0, {}}, kSession, key, buf, mac));
  const Digest d{};
  EXPECT_TRUE(encode_feedback(Roots{1, 2, 0x01, {d}}, kSession, key, buf, mac));
  EXPECT_FALSE(encode_feedback(Roots{1, 2, 0x00, {}}, kSession, key, buf, mac));
  EXPECT_FALSE(encode_feedback(Roots{1, 2, 0x20, {d}}, kSession, key, buf, mac));
  EXPECT_FALSE(encode_feedback(Roots{1, 2, 0x03, {d}}, kSession, key, buf, mac));
  EXPECT_FALSE(encode_feedback(Roots{1, kMaxSbn + 1, 0x01, {d}}, kSession, key, buf, mac));
  EXPECT_FALSE(encode_feedback(Nak{1, 0, 0, {{5, 1, 1}}, kLossScale + 1}, kSession, key, buf, mac));
  EXPECT_FALSE(encode_feedback(Nak{1, 0, 0, {{5, 1, 1}, {4, 1, 1}}}, kSession, key, buf, mac));
  EXPECT_FALSE(encode_feedback(Nak{1, 0, 0, {{5, 0, 1}}}, kSession, key, buf, mac));
  EXPECT_FALSE(encode_feedback(Nak{1, 0, 0, {{kMaxSbn, 1, 2}}}, kSession, key, buf, mac));
  EXPECT_FALSE(encode_feedback(Nak{1, 0, 0, std::vector<NakEntry>(kMaxNakEntries + 1, {0, 1, 1})},
                               kSession, key, buf, mac));
  std::vector<NakEntry> most;
  for (std::uint32_t i = 0; i < kMaxNakEntries; ++i) most.push_back({i * 2, 1, 1});
  EXPECT_TRUE(encode_feedback(Nak{1, 0, 0, most}, kSession, key, buf, mac))
      << "the most entries still fit one datagram with the MAC";
  EXPECT_FALSE(encode_feedback(CompleteAck{1, {}}, kSession, key, buf, mac));
  // Rate probes and reports: a loss over 100 %, more received than sent, an interval that
  // does not end after it began.
  EXPECT_FALSE(
      encode_feedback(Probe{1, 2, 0, 0, kLossScale + 1, KeyId{}, 0}, kSession, key, buf, mac));
  EXPECT_FALSE(
      encode_feedback(LossReport{1, 2, 0, kLossScale + 1, 10, 0, 1}, kSession, key, buf, mac));
  EXPECT_FALSE(encode_feedback(LossReport{1, 2, 0, 0, 10, 11, 1}, kSession, key, buf, mac));
  EXPECT_FALSE(encode_feedback(LossReport{1, 2, 0, 0, 10, 10, 2}, kSession, key, buf, mac));
  EXPECT_TRUE(encode_feedback(LossReport{1, 2, 0, 0, 10, 10, 1}, kSession, key, buf, mac));
  EXPECT_FALSE(
      encode_feedback(LossReport{1, 2, 0, 0, 10, 10, 1, kLossScale + 1}, kSession, key, buf, mac))
      << "a receive buffer fuller than full";
  EXPECT_FALSE(encode_feedback(Complete{1, {}}, kSession, key, std::span(buf).first(40), mac));
  std::vector<std::uint8_t> payload(kMinSymbolSize - 1);
  EXPECT_EQ(encode_symbol({false, 1, 0, 0, 0, payload}, buf), 0u);
  payload.resize(kMinSymbolSize);
  EXPECT_EQ(encode_symbol({false, 1, 0, kMaxSbn + 1, 0, payload}, buf), 0u);
  EXPECT_EQ(encode_symbol({false, 1, 0, 0, 0, payload}, std::span(buf).first(20)), 0u);
}

// A NAK may ask for AUTH chunks (alone, or after its entries): they round-trip; an empty NAK,
// a request without a chunk, with a chunk past 4, or out of order is refused.
TEST(Data, NakChunkRequests) {
  const SecretKey key = testing::seeded_key(3);
  std::array<std::uint8_t, kMaxControlDatagram> buf{};
  const MacKey mac = test_mac(3);
  Nak ask{3, 2, 1, {}, 120};
  ask.chunk_requests = {{4, 0b00101}, {9000, 0b10000}};
  for (const auto& entries : {std::vector<NakEntry>{}, std::vector<NakEntry>{{2, 3, 1}}}) {
    ask.entries = entries;
    auto n = encode_feedback(ask, kSession, key, buf, mac);
    ASSERT_TRUE(n);
    auto parsed = parse_data_packet(std::span(buf.data(), n.value()));
    ASSERT_TRUE(parsed);
    const auto& got = std::get<Nak>(std::get<SignedFeedback>(parsed.value()).feedback);
    EXPECT_EQ(got.chunk_requests, ask.chunk_requests);
    EXPECT_EQ(got.entries, entries);
    EXPECT_EQ(got.loss, 120);
  }
  ask.entries.clear();
  for (const auto& bad :
       {std::vector<ChunkRequest>{}, std::vector<ChunkRequest>{{4, 0}},
        std::vector<ChunkRequest>{{4, 0b100000}}, std::vector<ChunkRequest>{{9, 1}, {4, 1}},
        std::vector<ChunkRequest>{{9, 1}, {9, 2}},
        std::vector<ChunkRequest>(kMaxNakChunkRequests + 1, {1, 1})}) {
    ask.chunk_requests = bad;
    EXPECT_FALSE(encode_feedback(ask, kSession, key, buf, mac)) << bad.size();
  }
}

// Truncated, oversized, wrong-version, wrong-length and unknown-type datagrams are refused.
TEST(Data, RejectsMalformedDatagrams) {
  const auto nak = encode(Nak{3, 2, 1, {{2, 3, 1}}});
  EXPECT_EQ(failure_of({}).error, Error::truncated);
  EXPECT_EQ(failure_of(std::span(nak).first(11)).error, Error::truncated);
  for (std::size_t cut = 12; cut < nak.size(); ++cut) {
    EXPECT_FALSE(parse_data_packet(std::span(nak).first(cut))) << "cut at " << cut;
  }
  auto v = nak;
  v[0] = 0x22;  // version 2
  EXPECT_EQ(failure_of(v).error, Error::bad_version);
  v = nak;
  v[1] = 4;
  EXPECT_EQ(failure_of(v).error, Error::bad_length);
  v = nak;
  v[0] = 0x1f;
  EXPECT_EQ(failure_of(v).error, Error::bad_type);
  v = nak;
  v.insert(v.end() - kSignatureBytes - kFeedbackMacBytes, 0x00);  // read as 0 chunk requests
  EXPECT_EQ(failure_of(v).error, Error::out_of_range);
  v = nak;
  v.insert(v.end() - kSignatureBytes - kFeedbackMacBytes, {0x01, 0x00, 0x00});  // cut short
  EXPECT_EQ(failure_of(v).error, Error::truncated);
  std::vector<std::uint8_t> big(kMaxDataDatagram + 1, 0);
  big[0] = 0x10;
  big[1] = 3;
  EXPECT_EQ(failure_of(big).error, Error::too_long);
  std::vector<std::uint8_t> short_symbol(kHeaderBytes + kMinSymbolSize - 1, 0);
  short_symbol[0] = 0x10;
  short_symbol[1] = 3;
  EXPECT_EQ(failure_of(short_symbol).error, Error::truncated);
  auto report = encode(LossReport{3, 5, 100, 0, 10, 10, 4});
  report[37] = 11;  // received (body bytes 6-9 after the 28-byte head, low byte) above expected
  EXPECT_EQ(failure_of(report).error, Error::out_of_range);
  report = encode(LossReport{3, 5, 100, 0, 10, 10, 4});
  report[42] = 0xff;  // backlog (body bytes 14-15, high byte) over 100 %
  EXPECT_EQ(failure_of(report).error, Error::out_of_range);
  auto ack = encode(CompleteAck{3, {KeyId{1}}});
  ack[11] = 1;  // FEC info must be zero in an ACK
  EXPECT_EQ(failure_of(ack).error, Error::inconsistent);
  const Digest d{};
  auto roots = encode(Roots{3, 2, 0x01, {d}});
  constexpr std::size_t kChunksByte = kHeaderBytes + 16 + 3;
  roots[kChunksByte] = 0x00;  // no root
  EXPECT_EQ(failure_of(roots).error, Error::out_of_range);
  roots[kChunksByte] = 0x20;  // chunk 5
  EXPECT_EQ(failure_of(roots).error, Error::out_of_range);
  roots[kChunksByte] = 0x03;  // two roots named, one there
  EXPECT_FALSE(parse_data_packet(roots));
  roots = encode(Roots{3, 2, 0x01, {d}});
  roots[7] = 1;  // a sequence number in ROOTS
  EXPECT_EQ(failure_of(roots).error, Error::inconsistent);
}

// Random garbage never crashes the parser (the fuzzers go much further).
TEST(Data, RandomGarbageIsRefusedOrParsed) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::uint8_t> g(rng() % 1300);
    for (auto& b : g) b = static_cast<std::uint8_t>(rng());
    if (!g.empty()) g[0] = static_cast<std::uint8_t>(0x10 | (g[0] & 0x0f));
    if (g.size() > 1) g[1] = 3;
    (void)parse_data_packet(g);
  }
}

}  // namespace
}  // namespace fleetcast::protocol
