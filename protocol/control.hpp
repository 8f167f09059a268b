#pragma once
// Ctrl-session commands: one ASCII line per datagram, in the shape of the paper (seed 002,
// §3.3.3) — verb, then the paper's positional fields separated by one space — extended with
// named fields in a fixed order, and closed by the signer's key ID and an Ed25519 signature:
//
//   UPDATE update.tar.gz 1234560 3 1 882 <digest> session=... version=7 ... key=<id> sig=<sig>
//
// The signature covers the signature domain and every byte before " sig=". Parsing is strict:
// bounded length, printable ASCII and single spaces only, exact field count and order, canonical
// numbers and escapes, cross-field consistency. protocol/README.md has every field.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/keys.hpp"
#include "protocol/result.hpp"
#include "protocol/signature.hpp"
#include "protocol/text.hpp"

namespace fleetcast::protocol {

using text::Endpoint;

// Random per announcement; binds replies and follow-up commands to one delivery.
struct SessionId {
  std::uint64_t value = 0;
  auto operator<=>(const SessionId&) const = default;
};

// Which hosts an announcement or activation is for: "*" (every host that holds the manager's
// key), or host names and "@group" entries.
struct Targets {
  std::vector<std::string> entries;
  static Targets all() { return Targets{{"*"}}; }
  bool includes(std::string_view host, const std::vector<std::string>& groups) const;
  bool operator==(const Targets&) const = default;
};

// Result of a delivery + apply, as reported in FIN. `held`: received, verified and checked
// (check's verdict in the message), kept for a later ACTIVATE (apply=hold).
enum class FinStatus : std::uint8_t {
  received,
  checked,
  applied,
  rolled_back,
  rejected,
  failed,
  held
};
std::string_view to_string(FinStatus status);
std::optional<FinStatus> fin_status_from(std::string_view name);

// What a receiver does with a file after receipt (UPDATE apply=): none (store it), now (apply
// it), dry-run (check only), hold (check, then keep it until an ACTIVATE names it).
enum class ApplyMode : std::uint8_t { none, now, dry_run, hold };
std::string_view to_string(ApplyMode mode);

// Field kinds of text fields (which alphabet, which escaping).
enum class Kind : std::uint8_t { file_name, host, text, token };

// Sender -> ctrl group: a file (bundle) is about to be streamed on the data group.
struct Update {
  static constexpr std::string_view kVerb = "UPDATE";
  std::string name;             // file name the receiver stores it under
  std::uint64_t size = 0;       // bytes
  std::uint16_t file_id = 0;    // data-packet file ID of this session
  std::uint32_t first_seq = 1;  // paper: first / last packet sequence; here the source symbols
  std::uint32_t last_seq = 0;   //   1..T of the object, T = ceil(size / symbol_size)
  Digest digest{};              // BLAKE2b-256 of the whole file
  SessionId session;
  std::uint64_t version = 0;          // bundle version (monotonic per name)
  std::string kind;                   // bundle kind (token), for the receiver's permission check
  ApplyMode apply = ApplyMode::none;  // after receipt
  std::uint32_t symbol_size = 0;
  std::uint32_t max_k = 0;  // source symbols per block (RFC 5052 partitioning, fec/)
  Endpoint data;            // multicast group and port of the data session
  Endpoint reply;           // unicast address and port for RECV / DENY / FIN / feedback
  Targets targets;
  std::uint64_t time = 0;  // sender clock, seconds since the epoch (replay window)

  template <class Self, class V>
  static void fields(Self& s, V& v) {
    v.pos("name", s.name, Kind::file_name);
    v.pos("size", s.size);
    v.pos("file-id", s.file_id);
    v.pos("first", s.first_seq);
    v.pos("last", s.last_seq);
    v.pos("digest", s.digest);
    v.named("session", s.session);
    v.named("version", s.version);
    v.named("kind", s.kind, Kind::token);
    v.named("apply", s.apply);
    v.named("symbol", s.symbol_size, kMinSymbolSize, kMaxSymbolSize);
    v.named("k", s.max_k, 1u, 254u);
    v.named("data", s.data);
    v.named("reply", s.reply);
    v.named("targets", s.targets);
    v.named("time", s.time);
  }
  std::optional<Failure> check() const;
};

// Receiver -> sender (unicast): permitted, joining the data group. `have` = blocks already held;
// `fleet` = 1 when the host holds the fleet key of the manager whose UPDATE it answers (the
// manager sends KEYS lines only to hosts that do not, and remembers who does).
struct Recv {
  static constexpr std::string_view kVerb = "RECV";
  std::string name;
  std::string host;
  SessionId session;
  std::uint32_t have = 0;
  std::uint32_t fleet = 0;

  template <class Self, class V>
  static void fields(Self& s, V& v) {
    v.pos("name", s.name, Kind::file_name);
    v.pos("host", s.host, Kind::host);
    v.named("session", s.session);
    v.named("have", s.have);
    v.named("fleet", s.fleet, 0u, 1u);
  }
  std::optional<Failure> check() const { return std::nullopt; }
};

// Receiver -> sender (unicast): not permitted here, and why (the paper's receiver stays silent).
struct Deny {
  static constexpr std::string_view kVerb = "DENY";
  std::string name;
  std::string host;
  std::string reason;
  SessionId session;

  template <class Self, class V>
  static void fields(Self& s, V& v) {
    v.pos("name", s.name, Kind::file_name);
    v.pos("host", s.host, Kind::host);
    v.pos("reason", s.reason, Kind::text);
    v.named("session", s.session);
  }
  std::optional<Failure> check() const { return std::nullopt; }
};

// Receiver -> sender (unicast): the result of delivery and apply.
struct Fin {
  static constexpr std::string_view kVerb = "FIN";
  std::string name;
  std::string host;
  std::string message;  // paper: status message; here the tail of the apply output or a reason
  SessionId session;
  FinStatus status = FinStatus::received;
  std::uint64_t version = 0;
  Digest digest{};  // the digest the receiver verified

  template <class Self, class V>
  static void fields(Self& s, V& v) {
    v.pos("name", s.name, Kind::file_name);
    v.pos("host", s.host, Kind::host);
    v.pos("message", s.message, Kind::text);
    v.named("session", s.session);
    v.named("status", s.status);
    v.named("version", s.version);
    v.named("digest", s.digest);
  }
  std::optional<Failure> check() const { return std::nullopt; }
};

// Sender -> ctrl group: every receiver of the session re-sends its latest RECV / FIN.
struct StatusRequest {
  static constexpr std::string_view kVerb = "STATUS";
  std::string name;
  SessionId session;
  std::uint64_t time = 0;
  // The hosts asked (a batch of those whose FIN the manager lacks), so that a fleet of 1,000
  // does not answer every STATUS in full; `*`: every host of the session.
  Targets targets = Targets::all();

  template <class Self, class V>
  static void fields(Self& s, V& v) {
    v.pos("name", s.name, Kind::file_name);
    v.named("session", s.session);
    v.named("time", s.time);
    v.named("targets", s.targets);
  }
  std::optional<Failure> check() const { return std::nullopt; }
};

// Sender -> ctrl group: the session is over without completion; receivers discard it.
struct Abort {
  static constexpr std::string_view kVerb = "ABORT";
  std::string name;
  std::string reason;
  SessionId session;
  std::uint64_t time = 0;

  template <class Self, class V>
  static void fields(Self& s, V& v) {
    v.pos("name", s.name, Kind::file_name);
    v.pos("reason", s.reason, Kind::text);
    v.named("session", s.session);
    v.named("time", s.time);
  }
  std::optional<Failure> check() const { return std::nullopt; }
};

// Sender -> ctrl group: apply a delivered bundle now (rollouts in waves).
struct Activate {
  static constexpr std::string_view kVerb = "ACTIVATE";
  std::string name;
  SessionId session;  // the delivery session whose file is applied
  std::uint64_t version = 0;
  Digest digest{};
  std::uint32_t wave = 0;
  Targets targets;
  std::uint64_t time = 0;

  template <class Self, class V>
  static void fields(Self& s, V& v) {
    v.pos("name", s.name, Kind::file_name);
    v.named("session", s.session);
    v.named("version", s.version);
    v.named("digest", s.digest);
    v.named("wave", s.wave);
    v.named("targets", s.targets);
    v.named("time", s.time);
  }
  std::optional<Failure> check() const { return std::nullopt; }
};

using Command = std::variant<Update, Recv, Deny, Fin, StatusRequest, Abort, Activate>;

std::string_view verb(const Command& command);

// A parsed line. The signature is NOT verified yet: look up the signer's key, then call
// verify_command. Nothing in `command` may be acted on before that returns true.
struct SignedCommand {
  Command command;
  KeyId signer;
  Signature signature{};
  std::string signed_text;  // the line up to, not including, " sig="
};

// Encodes and signs. Fails (naming the field) when a value is outside its alphabet or range,
// the fields are inconsistent, or the line would exceed kMaxControlDatagram.
Result<std::string> encode_command(const Command& command, const SecretKey& key);
// The canonical text of the command's fields (verb through the last named field, without key=
// and sig=): what encode_command signs after appending " key=<id>".
Result<std::string> encode_unsigned(const Command& command);
Result<SignedCommand> parse_command(std::string_view line);
bool verify_command(const SignedCommand& command, const PublicKey& key);

}  // namespace fleetcast::protocol
