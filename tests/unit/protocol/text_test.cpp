// Tests for protocol/text.hpp: canonical escapes, numbers, hex and endpoints.

#include "protocol/text.hpp"

#include <gtest/gtest.h>

namespace fleetcast::protocol::text {
namespace {

// Escaping round-trips every byte value and writes one canonical form.
TEST(Text, EscapeRoundTripsAllBytes) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  const std::string e = escape(all);
  auto back = unescape(e, 1024, "t");
  ASSERT_TRUE(back);
  EXPECT_EQ(back.value(), all);
  EXPECT_EQ(escape("a b,c=d%e"), "a%20b%2Cc%3Dd%25e");
  EXPECT_EQ(escape(""), "-");
  EXPECT_EQ(escape("-"), "%2D");
  EXPECT_EQ(unescape("-", 10, "t").value(), "");
  EXPECT_EQ(unescape("%2D", 10, "t").value(), "-");
  EXPECT_EQ(unescape("a-b", 10, "t").value(), "a-b");
}

// Non-canonical or malformed escapes are refused with a typed error.
TEST(Text, UnescapeRejectsNonCanonical) {
  EXPECT_EQ(unescape("%41", 10, "t").failure().error, Error::bad_escape);    // 'A' needs none
  EXPECT_EQ(unescape("%2c", 10, "t").failure().error, Error::bad_escape);    // lowercase hex
  EXPECT_EQ(unescape("ab%2", 10, "t").failure().error, Error::bad_escape);   // truncated
  EXPECT_EQ(unescape("a%2Db", 10, "t").failure().error, Error::bad_escape);  // '-' inside
  EXPECT_EQ(unescape("a,b", 10, "t").failure().error, Error::bad_character);
  EXPECT_EQ(unescape("a\x7f", 10, "t").failure().error, Error::bad_character);
  EXPECT_EQ(unescape("abcdef", 5, "t").failure().error, Error::too_long);
  EXPECT_EQ(unescape("", 5, "t").failure().error, Error::field_count);
}

// Decimal numbers: canonical digits only, range-checked, overflow detected.
TEST(Text, DecimalIsStrict) {
  EXPECT_EQ(parse_decimal("0", 0, 10, "n").value(), 0u);
  EXPECT_EQ(parse_decimal("18446744073709551615", 0, UINT64_MAX, "n").value(), UINT64_MAX);
  EXPECT_EQ(parse_decimal("18446744073709551616", 0, UINT64_MAX, "n").failure().error,
            Error::out_of_range);
  EXPECT_EQ(parse_decimal("011", 0, 100, "n").failure().error, Error::bad_number);
  EXPECT_EQ(parse_decimal("-1", 0, 100, "n").failure().error, Error::bad_number);
  EXPECT_EQ(parse_decimal("+1", 0, 100, "n").failure().error, Error::bad_number);
  EXPECT_EQ(parse_decimal("1x", 0, 100, "n").failure().error, Error::bad_number);
  EXPECT_EQ(parse_decimal("", 0, 100, "n").failure().error, Error::bad_number);
  EXPECT_EQ(parse_decimal("101", 0, 100, "n").failure().error, Error::out_of_range);
  EXPECT_EQ(parse_decimal("4", 5, 100, "n").failure().error, Error::out_of_range);
}

// Hex is lowercase and exact-length.
TEST(Text, HexIsExact) {
  std::array<std::uint8_t, 2> b{};
  EXPECT_TRUE(unhex("ab01", b));
  EXPECT_EQ(b[0], 0xab);
  EXPECT_FALSE(unhex("AB01", b));
  EXPECT_FALSE(unhex("ab0", b));
  EXPECT_FALSE(unhex("ab012", b));
  std::uint64_t v = 0;
  EXPECT_TRUE(unhex64("0123456789abcdef", v));
  EXPECT_EQ(hex64(v), "0123456789abcdef");
  EXPECT_FALSE(unhex64("0123456789abcde", v));
}

// Endpoints: RFC 5952 text only, port 1..65535.
TEST(Text, EndpointsAreCanonical) {
  auto e = parse_endpoint("[ff15::f1ee:2]:4711", "e");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->is_multicast());
  EXPECT_EQ(e->port, 4711);
  EXPECT_EQ(format_endpoint(e.value()), "[ff15::f1ee:2]:4711");
  EXPECT_FALSE(parse_endpoint("[FF15::F1EE:2]:4711", "e"));    // uppercase
  EXPECT_FALSE(parse_endpoint("[ff15:0::f1ee:2]:4711", "e"));  // not shortest
  EXPECT_FALSE(parse_endpoint("[ff15::1]:0", "e"));
  EXPECT_FALSE(parse_endpoint("[ff15::1]:65536", "e"));
  EXPECT_FALSE(parse_endpoint("ff15::1:4711", "e"));
  EXPECT_FALSE(parse_endpoint("[10.0.0.1]:4711", "e"));
  EXPECT_FALSE(parse_endpoint("[]:1", "e"));
}

// Field alphabets.
TEST(Text, Alphabets) {
  EXPECT_TRUE(is_file_name("update.tar.gz"));
  EXPECT_FALSE(is_file_name("a/b"));
  EXPECT_FALSE(is_file_name(".."));
  EXPECT_FALSE(is_file_name(std::string(256, 'a')));
  EXPECT_TRUE(is_host_name("host.example.jp"));
  EXPECT_FALSE(is_host_name("-host"));
  EXPECT_FALSE(is_host_name("ho_st"));
  EXPECT_TRUE(is_token("dhcp-server"));
  EXPECT_FALSE(is_token("DHCP"));
  EXPECT_TRUE(is_group_name("school_A.1"));
}

}  // namespace
}  // namespace fleetcast::protocol::text
