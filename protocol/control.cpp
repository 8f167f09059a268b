#include "protocol/control.hpp"

#include <algorithm>
#include <array>
#include <concepts>
#include <limits>

namespace fleetcast::protocol {
namespace {

constexpr std::array<std::string_view, 7> kFinStatusNames = {
    "received", "checked", "applied", "rolled-back", "rejected", "failed", "held"};
constexpr std::array<std::string_view, 4> kApplyModeNames = {"none", "now", "dry-run", "hold"};

// An enum field on the wire: its name from `names`, indexed by value.
template <class E, std::size_t N>
std::optional<Failure> decode_named(const std::array<std::string_view, N>& names,
                                    std::string_view in, std::string_view where, E& out) {
  const auto it = std::find(names.begin(), names.end(), in);
  if (it == names.end()) return Failure{Error::bad_type, where};
  out = static_cast<E>(it - names.begin());
  return std::nullopt;
}

constexpr std::string_view kKeyPrefix = "key=";
constexpr std::string_view kSigPrefix = "sig=";

bool valid_string(std::string_view s, Kind kind) {
  switch (kind) {
    case Kind::file_name:
      return text::is_file_name(s);
    case Kind::host:
      return text::is_host_name(s);
    case Kind::text:
      return s.size() <= kMaxTextBytes;
    case Kind::token:
      return text::is_token(s);
  }
  return false;
}

bool valid_target(std::string_view e) {
  if (e.starts_with('@')) return text::is_group_name(e.substr(1));
  return text::is_host_name(e);
}

// --- value codecs: one encode / decode pair per field type; validate() is shared -----------

std::optional<Failure> validate(std::string_view where, const std::string& s, Kind kind) {
  if (!valid_string(s, kind)) return Failure{Error::bad_character, where};
  return std::nullopt;
}
template <std::unsigned_integral T>
std::optional<Failure> validate(std::string_view where, const T& v, std::uint64_t lo = 0,
                                std::uint64_t hi = std::numeric_limits<T>::max()) {
  if (v < lo || v > hi) return Failure{Error::out_of_range, where};
  return std::nullopt;
}
std::optional<Failure> validate(std::string_view where, const Targets& t) {
  if (t.entries.empty() || t.entries.size() > kMaxTargets)
    return Failure{Error::field_count, where};
  if (t.entries.size() == 1 && t.entries[0] == "*") return std::nullopt;
  for (std::size_t i = 0; i < t.entries.size(); ++i) {
    if (!valid_target(t.entries[i])) return Failure{Error::bad_character, where};
    for (std::size_t j = 0; j < i; ++j) {
      if (t.entries[j] == t.entries[i]) return Failure{Error::inconsistent, where};
    }
  }
  return std::nullopt;
}
template <class T>
requires(!std::unsigned_integral<T>) std::optional<Failure> validate(std::string_view, const T&) {
  return std::nullopt;  // fixed-size values: every decoded value is valid
}

std::string encode_value(const std::string& s, Kind kind) {
  return kind == Kind::host || kind == Kind::token ? s : text::escape(s);
}
template <std::unsigned_integral T>
std::string encode_value(const T& v, auto...) {
  return std::to_string(v);
}
std::string encode_value(const Digest& d) {
  return text::hex(d);
}
std::string encode_value(const SessionId& s) {
  return text::hex64(s.value);
}
std::string encode_value(const Endpoint& e) {
  return text::format_endpoint(e);
}
std::string encode_value(const FinStatus& s) {
  return std::string(to_string(s));
}
std::string encode_value(const ApplyMode& m) {
  return std::string(to_string(m));
}
std::string encode_value(const Targets& t) {
  std::string out;
  for (const std::string& e : t.entries) {
    if (!out.empty()) out += ',';
    out += e;
  }
  return out;
}

std::optional<Failure> decode_value(std::string_view in, std::string_view where, std::string& s,
                                    Kind kind) {
  if (kind == Kind::host || kind == Kind::token) {
    s = in;  // no escaping in these alphabets
    return std::nullopt;
  }
  auto r = text::unescape(in, kind == Kind::text ? kMaxTextBytes : kMaxNameBytes, where);
  if (!r) return r.failure();
  s = std::move(r.value());
  return std::nullopt;
}
template <std::unsigned_integral T>
std::optional<Failure> decode_value(std::string_view in, std::string_view where, T& v, auto...) {
  auto r = text::parse_decimal(in, 0, std::numeric_limits<T>::max(), where);
  if (!r) return r.failure();
  v = static_cast<T>(r.value());
  return std::nullopt;
}
std::optional<Failure> decode_value(std::string_view in, std::string_view where, Digest& d) {
  if (!text::unhex(in, d)) return Failure{Error::bad_number, where};
  return std::nullopt;
}
std::optional<Failure> decode_value(std::string_view in, std::string_view where, SessionId& s) {
  if (!text::unhex64(in, s.value)) return Failure{Error::bad_number, where};
  return std::nullopt;
}
std::optional<Failure> decode_value(std::string_view in, std::string_view where, Endpoint& e) {
  auto r = text::parse_endpoint(in, where);
  if (!r) return r.failure();
  e = r.value();
  return std::nullopt;
}
std::optional<Failure> decode_value(std::string_view in, std::string_view where, FinStatus& s) {
  return decode_named(kFinStatusNames, in, where, s);
}
std::optional<Failure> decode_value(std::string_view in, std::string_view where, ApplyMode& m) {
  return decode_named(kApplyModeNames, in, where, m);
}
std::optional<Failure> decode_value(std::string_view in, std::string_view where, Targets& t) {
  t.entries.clear();
  while (true) {
    const std::size_t comma = in.find(',');
    if (t.entries.size() == kMaxTargets) return Failure{Error::too_long, where};
    t.entries.emplace_back(in.substr(0, comma));
    if (comma == std::string_view::npos) return std::nullopt;
    in.remove_prefix(comma + 1);
  }
}

// --- visitors over a command's fields() -----------------------------------------------------

// Builds the line; records the first invalid value.
class Writer {
 public:
  explicit Writer(std::string_view verb) : out_(verb) {}

  template <class T, class... A>
  void pos(std::string_view where, const T& v, A... args) {
    field(where, {}, v, args...);
  }
  template <class T, class... A>
  void named(std::string_view key, const T& v, A... args) {
    field(key, key, v, args...);
  }
  std::string& line() { return out_; }
  const std::optional<Failure>& failure() const { return failure_; }

 private:
  template <class T, class... A>
  void field(std::string_view where, std::string_view key, const T& v, A... args) {
    if (auto f = validate(where, v, args...); f && !failure_) failure_ = f;
    out_ += ' ';
    if (!key.empty()) out_.append(key).append("=");
    out_ += encode_value(v, args...);
  }
  std::string out_;
  std::optional<Failure> failure_;
};

// Consumes tokens in order; records the first failure and skips the rest.
class Reader {
 public:
  explicit Reader(std::span<const std::string_view> tokens) : tokens_(tokens) {}

  template <class T, class... A>
  void pos(std::string_view where, T& v, A... args) {
    field(where, {}, v, args...);
  }
  template <class T, class... A>
  void named(std::string_view key, T& v, A... args) {
    field(key, key, v, args...);
  }
  bool done() const { return next_ == tokens_.size(); }
  const std::optional<Failure>& failure() const { return failure_; }

 private:
  template <class T, class... A>
  void field(std::string_view where, std::string_view key, T& v, A... args) {
    if (failure_) return;
    if (next_ == tokens_.size()) {
      failure_ = Failure{Error::field_count, where};
      return;
    }
    std::string_view token = tokens_[next_++];
    if (!key.empty()) {
      if (token.size() <= key.size() || !token.starts_with(key) || token[key.size()] != '=') {
        failure_ = Failure{Error::unexpected_field, where};
        return;
      }
      token.remove_prefix(key.size() + 1);
    }
    failure_ = decode_value(token, where, v, args...);
    if (!failure_) failure_ = validate(where, v, args...);
  }
  std::span<const std::string_view> tokens_;
  std::size_t next_ = 0;
  std::optional<Failure> failure_;
};

// Splits on single spaces; rejects bytes outside 0x21..0x7e and empty tokens.
std::optional<Failure> tokenize(std::string_view line, std::vector<std::string_view>& tokens) {
  if (line.empty()) return Failure{Error::truncated, "line"};
  if (line.size() > kMaxControlDatagram) return Failure{Error::too_long, "line"};
  std::size_t start = 0;
  for (std::size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == ' ') {
      if (i == start) return Failure{Error::bad_character, "line"};  // empty token
      tokens.push_back(line.substr(start, i - start));
      start = i + 1;
    } else if (static_cast<unsigned char>(line[i]) < 0x21 ||
               static_cast<unsigned char>(line[i]) > 0x7e) {
      return Failure{Error::bad_character, "line"};
    }
  }
  return std::nullopt;
}

template <std::size_t I = 0>
Result<Command> parse_body(std::string_view verb, std::span<const std::string_view> fields) {
  if constexpr (I < std::variant_size_v<Command>) {
    using T = std::variant_alternative_t<I, Command>;
    if (verb != T::kVerb) return parse_body<I + 1>(verb, fields);
    T command;
    Reader reader(fields);
    T::fields(command, reader);
    if (reader.failure()) return *reader.failure();
    if (!reader.done()) return Failure{Error::field_count, T::kVerb};
    if (auto f = command.check()) return *f;
    return Command(std::move(command));
  } else {
    return Failure{Error::bad_type, "verb"};
  }
}

}  // namespace

bool Targets::includes(std::string_view host, const std::vector<std::string>& groups) const {
  for (const std::string& e : entries) {
    if (e == "*" || e == host) return true;
    if (e.starts_with('@') &&
        std::find(groups.begin(), groups.end(), std::string_view(e).substr(1)) != groups.end()) {
      return true;
    }
  }
  return false;
}

std::string_view to_string(FinStatus status) {
  return kFinStatusNames.at(static_cast<std::size_t>(status));
}

std::optional<FinStatus> fin_status_from(std::string_view name) {
  FinStatus s{};
  if (decode_named(kFinStatusNames, name, "status", s)) return std::nullopt;
  return s;
}

std::string_view to_string(ApplyMode mode) {
  return kApplyModeNames.at(static_cast<std::size_t>(mode));
}

std::optional<Failure> Update::check() const {
  if (first_seq != 1) return Failure{Error::inconsistent, "first"};
  const std::uint64_t symbols = size / symbol_size + (size % symbol_size != 0 ? 1 : 0);
  if (symbols > std::numeric_limits<std::uint32_t>::max() ||
      (symbols + max_k - 1) / max_k > (std::uint64_t{1} << 24)) {
    return Failure{Error::out_of_range, "size"};
  }
  if (last_seq != symbols) return Failure{Error::inconsistent, "last"};
  if (!data.is_multicast()) return Failure{Error::inconsistent, "data"};
  if (reply.is_multicast()) return Failure{Error::inconsistent, "reply"};
  return std::nullopt;
}

std::string_view verb(const Command& command) {
  return std::visit([](const auto& c) { return std::decay_t<decltype(c)>::kVerb; }, command);
}

Result<std::string> encode_unsigned(const Command& command) {
  return std::visit(
      [&](const auto& c) -> Result<std::string> {
        using T = std::decay_t<decltype(c)>;
        Writer writer(T::kVerb);
        T::fields(c, writer);
        if (writer.failure()) return *writer.failure();
        if (auto f = c.check()) return *f;
        return std::move(writer.line());
      },
      command);
}

Result<std::string> encode_command(const Command& command, const SecretKey& key) {
  auto out = encode_unsigned(command);
  if (!out) return out;
  std::string& line = out.value();
  line += " ";
  line += kKeyPrefix;
  line += text::hex64(key.key_id().value);
  const Signature sig = sign(key, kCtrlSignDomain, as_bytes(line));
  line += " ";
  line += kSigPrefix;
  line += text::hex(sig);
  if (line.size() > kMaxControlDatagram) return Failure{Error::too_long, "line"};
  return out;
}

Result<SignedCommand> parse_command(std::string_view line) {
  std::vector<std::string_view> tokens;
  if (auto f = tokenize(line, tokens)) return *f;
  if (tokens.size() < 3) return Failure{Error::field_count, "line"};
  const std::string_view key_token = tokens[tokens.size() - 2];
  const std::string_view sig_token = tokens.back();
  SignedCommand out;
  if (!key_token.starts_with(kKeyPrefix) ||
      !text::unhex64(key_token.substr(kKeyPrefix.size()), out.signer.value)) {
    return Failure{Error::unexpected_field, "key"};
  }
  if (!sig_token.starts_with(kSigPrefix) ||
      !text::unhex(sig_token.substr(kSigPrefix.size()), out.signature)) {
    return Failure{Error::unexpected_field, "sig"};
  }
  auto command = parse_body(tokens[0], std::span(tokens).subspan(1, tokens.size() - 3));
  if (!command) return command.failure();
  out.command = std::move(command.value());
  out.signed_text = line.substr(0, line.size() - sig_token.size() - 1);
  return out;
}

bool verify_command(const SignedCommand& command, const PublicKey& key) {
  return key_id(key) == command.signer &&
         verify(key, kCtrlSignDomain, as_bytes(command.signed_text), command.signature);
}

}  // namespace fleetcast::protocol
