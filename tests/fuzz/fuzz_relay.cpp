// libFuzzer: the relay frame (protocol/relay/frame.hpp). A frame that decodes re-encodes to the
// same bytes, names a multicast group (or is a feedback frame of all zeros) and carries a
// datagram; anything else is refused without reading past the input.

#include <cstdlib>
#include <cstring>
#include <vector>

#include "protocol/relay/frame.hpp"

using namespace fleetcast::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  const auto f = decode_relay_frame(in);
  if (!f) return 0;
  if (f->datagram.empty() || f->datagram.data() != data + kRelayFrameBytes) std::abort();
  if (f->feedback != (f->to == text::Endpoint{})) std::abort();
  if (!f->feedback && (!f->to.is_multicast() || f->to.port == 0)) std::abort();
  std::vector<std::uint8_t> out;
  encode_relay_frame(f->datagram, f->to, out);
  if (out.size() != size || std::memcmp(out.data(), data, size) != 0) std::abort();
  return 0;
}
