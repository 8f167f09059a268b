#pragma once
// The one path from received bytes to a message that may be acted on: parse, look up the
// signer's key, verify the signature. `key_of(KeyId)` returns the signer's public key, or
// nullptr for a signer this peer does not know. Any failing step gives nothing: the caller
// counts one drop (bad peer input is never an error on the packet path).

#include <optional>
#include <string_view>

#include "protocol/control.hpp"
#include "protocol/data.hpp"

namespace fleetcast::protocol {

template <class KeyOf>
std::optional<SignedCommand> verified_command(std::string_view line, KeyOf&& key_of) {
  auto parsed = parse_command(line);
  if (!parsed) return std::nullopt;
  const PublicKey* key = key_of(parsed->signer);
  if (key == nullptr || !verify_command(parsed.value(), *key)) return std::nullopt;
  return std::move(parsed.value());
}

// For the feedback variant of a parsed data packet (symbols carry no signature).
template <class KeyOf>
bool verified(const SignedFeedback& feedback, KeyOf&& key_of) {
  const PublicKey* key = key_of(feedback.signer);
  return key != nullptr && verify_feedback(feedback, *key);
}

}  // namespace fleetcast::protocol
