#pragma once
// Typed results on the packet path: a parse either yields a value or says what was wrong and
// where. No exceptions; nothing here allocates on failure.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace fleetcast::protocol {

enum class Error : std::uint8_t {
  truncated,         // input ends before a field it must contain
  too_long,          // input or field longer than its limit
  bad_version,       // wire version other than kWireVersion
  bad_type,          // unknown packet type or command verb
  bad_length,        // header length field or datagram length inconsistent
  bad_character,     // a byte outside the field's alphabet
  bad_escape,        // malformed or non-canonical percent escape
  bad_number,        // not a canonical decimal / hex number
  out_of_range,      // a number outside the field's range
  field_count,       // missing or extra fields
  unexpected_field,  // a named field out of order or unknown
  inconsistent,      // fields that contradict each other
  bad_signature,     // signature does not verify
  bad_key,           // malformed key material
};

std::string_view to_string(Error error);

// What went wrong and in which field ("size", "sig", "header"...). `where` points to static text.
struct Failure {
  Error error;
  std::string_view where;
};

std::string to_string(const Failure& failure);  // e.g. "bad number in 'size'"

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Failure failure) : v_(failure) {}   // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Failure& failure() const { return std::get<Failure>(v_); }

 private:
  std::variant<T, Failure> v_;
};

}  // namespace fleetcast::protocol
