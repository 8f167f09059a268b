#pragma once
// An encrypted bundle (protocol/bundle/crypt.hpp) announces its readers in the recipient table at
// its start: a host that is not among them can refuse the session as soon as that table has
// arrived, long before the rest. What the reception needs to know of the bundle format, here.

#include <cstddef>

#include "protocol/keys.hpp"
#include "receiver/reception/assembler.hpp"

namespace fleetcast::receiver {

struct EnvelopeCheck {
  enum class Verdict { unknown, readable, not_for_us };
  Verdict verdict = Verdict::unknown;  // unknown: not enough of the file has arrived yet
  std::size_t readers = 0;             // not_for_us: how many keys it is for
};

// From what `a` received so far: not encrypted (readable), encrypted for `self`, or not.
EnvelopeCheck check_envelope(const Assembler& a, protocol::KeyId self);

}  // namespace fleetcast::receiver
