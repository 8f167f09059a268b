// libFuzzer: ctrl-command parser. Every accepted line must re-encode to exactly its signed text
// (canonical form), and verification must not crash.

#include <cstdlib>

#include "protocol/control.hpp"
#include "protocol/text.hpp"

using namespace fleetcast::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_command(line);
  if (!parsed) return 0;
  auto text = encode_unsigned(parsed->command);
  if (!text) std::abort();  // parser accepted what the encoder refuses
  const std::string expected = text.value() + " key=" + text::hex64(parsed->signer.value);
  if (expected != parsed->signed_text) std::abort();  // not canonical
  static const SecretKey key = SecretKey::from_seed({});
  (void)verify_command(parsed.value(), key.public_key());
  return 0;
}
