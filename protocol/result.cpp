#include "protocol/result.hpp"

namespace fleetcast::protocol {

std::string_view to_string(Error error) {
  switch (error) {
    case Error::truncated:
      return "truncated";
    case Error::too_long:
      return "too long";
    case Error::bad_version:
      return "unsupported version";
    case Error::bad_type:
      return "unknown type";
    case Error::bad_length:
      return "bad length";
    case Error::bad_character:
      return "bad character";
    case Error::bad_escape:
      return "bad escape";
    case Error::bad_number:
      return "bad number";
    case Error::out_of_range:
      return "out of range";
    case Error::field_count:
      return "wrong field count";
    case Error::unexpected_field:
      return "unexpected field";
    case Error::inconsistent:
      return "inconsistent";
    case Error::bad_signature:
      return "bad signature";
    case Error::bad_key:
      return "bad key";
  }
  return "unknown error";
}

std::string to_string(const Failure& failure) {
  return std::string(to_string(failure.error)) + " in '" + std::string(failure.where) + "'";
}

}  // namespace fleetcast::protocol
