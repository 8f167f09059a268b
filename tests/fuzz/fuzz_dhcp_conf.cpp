// libFuzzer: the DHCP lint's readers (sender/lint/). Any input either parses or throws the
// reader's own error, never anything else; what parses has well-formed ranges, and the lint of
// two servers built from it runs to the end.
#include <cstdlib>
#include <string_view>

#include "sender/lint/dhcpd_conf.hpp"
#include "sender/lint/kea_conf.hpp"
#include "sender/lint/lint.hpp"

using namespace fleetcast::sender;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (int kind = 0; kind < 2; ++kind) {
    lint::ServerModel m;
    try {
      m = kind == 0 ? lint::parse_dhcpd_conf(text) : lint::parse_kea_conf(text);
    } catch (const lint::DhcpdConfError&) {
      continue;
    } catch (const lint::KeaConfError&) {
      continue;
    }
    for (const auto& r : m.ranges) {
      if (r.high < r.low) std::abort();
    }
    static const Host a{"a", {}, {}}, b{"b", {}, {}};
    const auto report = lint::lint_servers(
        {{&a, kind == 0 ? "dhcpd" : "kea4", m}, {&b, kind == 0 ? "dhcpd" : "kea4", m}}, {});
    if (!m.ranges.empty() && report.ok()) std::abort();  // identical non-partners always overlap
  }
  return 0;
}
