#include "protocol/relay/frame.hpp"

#include "protocol/wire.hpp"

namespace fleetcast::protocol {

void encode_relay_frame(std::span<const std::uint8_t> datagram, const text::Endpoint& to,
                        std::vector<std::uint8_t>& out) {
  out.resize(kRelayFrameBytes + datagram.size());
  ByteWriter w(out);
  w.u8(kRelayMagic);
  w.u8(kRelayVersion);
  w.u16(to.port);
  w.bytes(to.address);
  w.bytes(datagram);
}

void encode_relay_feedback(std::span<const std::uint8_t> datagram, std::vector<std::uint8_t>& out) {
  encode_relay_frame(datagram, text::Endpoint{}, out);
}

std::optional<RelayFrame> decode_relay_frame(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  if (r.u8() != kRelayMagic || r.u8() != kRelayVersion) return std::nullopt;
  RelayFrame f;
  f.to.port = r.u16();
  r.bytes(f.to.address);
  if (!r.ok() || r.remaining() == 0) return std::nullopt;
  f.feedback = f.to == text::Endpoint{};
  if (!f.feedback && (f.to.port == 0 || !f.to.is_multicast())) return std::nullopt;
  f.datagram = bytes.subspan(kRelayFrameBytes);
  return f;
}

}  // namespace fleetcast::protocol
