// libFuzzer: ctrl-command parser. Every accepted line must re-encode to exactly its signed text
// (canonical form), and verification must not crash. The line MAC split and the KEYS line
// opener (fleet_key.hpp) take every input too: no crash, and a KEYS entry never opens without
// the key.

#include <cstdlib>

#include "protocol/control.hpp"
#include "protocol/fleet_key.hpp"
#include "protocol/text.hpp"

using namespace fleetcast::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  static const MacKey wrap{};
  if (open_keys_line(input, KeyId{0x0123456789abcdefULL}, KeyId{1}, wrap)) std::abort();
  const MacedLine maced = split_line_mac(input);
  if (maced.mac && maced.signed_line.size() + 5 + 2 * kLineMacBytes != size) std::abort();
  (void)line_mac_ok(maced, wrap);
  const std::string_view line = maced.signed_line;
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
