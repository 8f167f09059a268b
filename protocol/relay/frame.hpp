#pragma once
// The relay frame: how the manager hands a site's relay (receiver/relay/) one copy of what it
// multicasts, over unicast. The frame names the group and port the datagram was for; the relay
// multicasts the datagram, byte for byte, to that group on its own LAN (protocol/README.md,
// "Sites and relays"):
//
//    0        1        2        3        4                                  20
//   +--------+--------+--------+--------+----------- ... -----------------+----------- ...
//   |  0xFC  |  0x01  | port (BE 16)    | group (16 bytes, IPv6 multicast) | the datagram
//   +--------+--------+--------+--------+----------- ... -----------------+----------- ...
//
// A frame with port 0 (and a group of zeros) carries the other way of repair: a host's NAK that
// the manager verified and passes to the relay of the host's site, which repairs it on its LAN
// (receiver/relay/site_repair.hpp); a relay never multicasts it.
//
// The frame adds nothing to trust: the datagram inside is the manager's (signed lines, MACed
// packets, symbols the signed root authenticates) and is checked by every host as if the
// manager had multicast it on the host's LAN. Pure.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "protocol/text.hpp"

namespace fleetcast::protocol {

inline constexpr std::uint8_t kRelayMagic = 0xFC;
inline constexpr std::uint8_t kRelayVersion = 1;
inline constexpr std::size_t kRelayFrameBytes = 20;
inline constexpr std::uint16_t kDefaultRelayPort = 4713;

struct RelayFrame {
  text::Endpoint to;      // the multicast group and port the manager sent the datagram to
  bool feedback = false;  // a host's NAK for the relay to repair (`to` is all zeros)
  std::span<const std::uint8_t> datagram;
};

// Writes the frame of `datagram` for `to` into `out` (cleared first).
void encode_relay_frame(std::span<const std::uint8_t> datagram, const text::Endpoint& to,
                        std::vector<std::uint8_t>& out);
// The frame of a host's NAK for its site's relay.
void encode_relay_feedback(std::span<const std::uint8_t> datagram, std::vector<std::uint8_t>& out);
// nullopt: not a frame of this version, a group that is not multicast (or port 0 with a group
// that is not all zeros), or nothing in it.
std::optional<RelayFrame> decode_relay_frame(std::span<const std::uint8_t> bytes);

}  // namespace fleetcast::protocol
