// Log lines (protocol/log): one line per event, a stable ID, key=value fields that stay
// parseable whatever the values hold.
#include "protocol/log/log.hpp"

#include <gtest/gtest.h>

namespace fleetcast::log {
namespace {

TEST(Log, AnEventIsItsIdNameAndFields) {
  const Event e = notice("FC2120", "refused").with("bundle", "a.fcb").with("bytes", 1024u);
  EXPECT_EQ(e.text(), "FC2120 refused bundle=a.fcb bytes=1024");
  EXPECT_EQ(e.field("bundle"), "a.fcb");
  EXPECT_EQ(e.field("absent"), "");
  EXPECT_EQ(e.level(), Level::notice);
}

TEST(Log, ValuesAreQuotedAndEscapedSoALineStaysOneLine) {
  EXPECT_EQ(quote("plain-value_1.2"), "plain-value_1.2");
  EXPECT_EQ(quote(""), "\"\"");
  EXPECT_EQ(quote("two words"), "\"two words\"");
  EXPECT_EQ(quote("a=b"), "\"a=b\"");
  EXPECT_EQ(quote("failover peer \"pair\": normal"), "\"failover peer \\\"pair\\\": normal\"");
  EXPECT_EQ(quote("back\\slash"), "\"back\\\\slash\"");
  EXPECT_EQ(quote("line 1\nline 2\ttab\x01"), "\"line 1\\nline 2\\ttab\\x01\"");
  // Whatever a script printed, the event is one line.
  const Event e = warning("FC2201", "apply-result").with("reason", "dhcpd -t:\nline 12: error\r");
  EXPECT_EQ(e.text().find('\n'), std::string::npos);
  EXPECT_EQ(e.text().find('\r'), std::string::npos);
  const std::string l = line(e);
  EXPECT_EQ(l.find('\n'), l.size() - 1);
  EXPECT_NE(l.find(" warning FC2201 apply-result reason="), std::string::npos) << l;
}

TEST(Log, Levels) {
  EXPECT_EQ(parse_level("debug"), Level::debug);
  EXPECT_EQ(parse_level("warn"), Level::warning);
  EXPECT_EQ(parse_level("error"), Level::error);
  EXPECT_FALSE(parse_level("verbose"));
  EXPECT_EQ(to_string(Level::notice), "notice");
}

}  // namespace
}  // namespace fleetcast::log
