// libFuzzer: key-file parsers. An accepted file re-encodes to exactly the same text.

#include <cstdlib>
#include <string>

#include "protocol/keys.hpp"

using namespace fleetcast::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto pub = parse_public_key_file(text)) {
    if (encode_public_key_file(pub->key, pub->host_name) != text) std::abort();
  }
  if (auto secret = parse_secret_key_file(text)) {
    if (encode_secret_key_file(secret.value()) != text) std::abort();
  }
  return 0;
}
