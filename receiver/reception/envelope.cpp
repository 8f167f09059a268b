#include "receiver/reception/envelope.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "protocol/bundle/crypt.hpp"

namespace fleetcast::receiver {
namespace b = protocol::bundle;

EnvelopeCheck check_envelope(const Assembler& a, protocol::KeyId self) {
  using V = EnvelopeCheck::Verdict;
  // The recipient table: first as much as 744 recipients take, then as much as the most can.
  constexpr std::size_t kMostHead =
      b::kCryptMagic.size() + 4 + b::kMaxRecipients * (8 + b::kSealedKeyBytes);
  std::optional<std::vector<protocol::KeyId>> readers;
  for (const std::size_t want : {std::size_t{64} << 10, kMostHead}) {
    const auto head = a.received_prefix(want);
    if (head.size() < b::kCryptMagic.size()) return {};  // not enough yet
    if (!b::is_encrypted(head)) return {V::readable};
    readers = b::recipients(head);
    if (readers) break;
    if (head.size() < want) return {};  // the table is longer than what arrived so far
  }
  if (!readers) return {};
  if (std::find(readers->begin(), readers->end(), self) != readers->end()) return {V::readable};
  return {V::not_for_us, readers->size()};
}

}  // namespace fleetcast::receiver
