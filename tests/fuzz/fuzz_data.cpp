// libFuzzer: data-session packet parser. Symbol, MIXED and AUTH packets must re-encode to the same
// bytes; feedback packets must re-encode (with the signer's key unknown, body bytes are compared).

#include <cstdlib>
#include <cstring>
#include <vector>

#include "protocol/data.hpp"

using namespace fleetcast::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  auto parsed = parse_data_packet(in);
  if (!parsed) return 0;
  std::vector<std::uint8_t> out(kMaxDataDatagram);
  if (auto* s = std::get_if<SymbolPacket>(&parsed.value())) {
    const std::size_t n = encode_symbol(*s, out);
    if (n != size || std::memcmp(out.data(), data, size) != 0) std::abort();
    return 0;
  }
  if (auto* m = std::get_if<MixedPacket>(&parsed.value())) {
    const std::size_t n = encode_mixed(*m, out);
    if (n != size || std::memcmp(out.data(), data, size) != 0) std::abort();
    if (n != mixed_datagram_bytes(m->count, m->payload.size())) std::abort();
    return 0;
  }
  if (auto* a = std::get_if<AuthPacket>(&parsed.value())) {
    const std::size_t n = encode_auth(*a, out);
    if (n != size || std::memcmp(out.data(), data, size) != 0) std::abort();
    return 0;
  }
  const auto& fb = std::get<SignedFeedback>(parsed.value());
  static const SecretKey key = SecretKey::from_seed({});
  static const MacKey mac{};
  auto n = encode_feedback(fb.feedback, fb.session, key, out, mac);
  if (!n || n.value() != size) std::abort();  // accepted feedback must be encodable, same size
  // Everything but the signer ID, the MAC and the signature is identical.
  const std::size_t tail = kSignatureBytes + kFeedbackMacBytes;
  if (std::memcmp(out.data(), data, 20) != 0 ||
      std::memcmp(out.data() + 28, data + 28, size - 28 - tail) != 0) {
    std::abort();
  }
  (void)check_mac(fb, mac);
  (void)verify_feedback(fb, key.public_key());
  return 0;
}
