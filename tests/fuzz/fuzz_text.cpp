// libFuzzer: text field codecs (escapes, numbers, endpoints). Accepted input re-encodes to
// itself; escape() output is always accepted and decodes back to its input.

#include <cstdlib>
#include <string>

#include "protocol/text.hpp"

using namespace fleetcast::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto u = text::unescape(in, 4096, "f")) {
    if (text::escape(u.value()) != in) std::abort();
  }
  const std::string e = text::escape(in);
  auto back = text::unescape(e, 4096, "f");
  if (size <= 4096 && (!back || back.value() != in)) std::abort();
  if (auto ep = text::parse_endpoint(in, "f")) {
    if (text::format_endpoint(ep.value()) != in) std::abort();
  }
  if (auto n = text::parse_decimal(in, 0, UINT64_MAX, "f")) {
    if (std::to_string(n.value()) != in) std::abort();
  }
  return 0;
}
