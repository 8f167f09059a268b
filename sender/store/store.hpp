#pragma once
// The manager's receipt store: <state>/manager.db (SQLite, WAL, synchronous=FULL), the record
// that outlives the process. Hosts (name, key and groups as they were when a session ran),
// sessions, rollouts and their waves, and every reply a host signed (RECV, DENY, COMPLETE,
// FIN), kept verbatim, so `receipts verify` can check every signature again later and
// `status` answers "which hosts run version 7 of school-dhcp, which failed and why" without a
// network. The only manager file that includes the SQLite wrapper.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/control.hpp"
#include "protocol/io/sqlite.hpp"
#include "sender/delivery/receipts.hpp"
#include "sender/fleet/inventory.hpp"
#include "sender/rollout/outcome.hpp"
#include "sender/rollout/plan.hpp"

namespace fleetcast::sender {

struct SessionRecord {
  protocol::SessionId session;
  std::uint16_t file_id = 0;
  std::string file_name;  // as announced (spool name)
  std::string bundle;     // manifest name ("" for a plain file)
  std::uint64_t version = 0;
  std::string digest;  // hex
  protocol::ApplyMode apply = protocol::ApplyMode::none;
  std::int64_t started_at = 0;  // seconds since the epoch
};

struct StoredReceipt {
  std::int64_t id = 0;
  std::string session;  // hex
  std::string host;
  std::string verb;      // RECV, DENY, COMPLETE, FIN
  std::string line;      // the signed line, or the signed packet in hex (COMPLETE)
  std::string host_key;  // hex public key of the host when it was recorded
  std::int64_t at = 0;
};

// One row of `status`: a host's latest result for a bundle.
struct HostStatus {
  std::string host;
  std::string bundle;
  std::uint64_t version = 0;  // of the latest FIN (0: none)
  std::string status;         // FIN status, "denied", "completed" (no FIN), or "no answer"
  std::string message;
  std::int64_t at = 0;          // 0: never
  std::uint64_t installed = 0;  // newest version this host reported applied

  // Folds one stored reply (in arrival order) into the row: a FIN decides, else a DENY, else
  // COMPLETE over RECV.
  void fold(const std::string& verb, const std::string& line, std::int64_t when);
};

// The stored reply still verifies with the key its host had when it was stored.
bool verify_receipt(const StoredReceipt& r);

// A rollout as `rollout resume` needs it: the command line it was started with (for the
// bundle, the key and the network options), its session, and its plan.
struct RolloutRecord {
  std::int64_t id = 0;
  protocol::SessionId session;
  std::uint16_t file_id = 0;
  std::vector<std::string> argv;
  std::vector<std::size_t> waves_started;  // 1-based wave numbers with a start recorded
  std::string plan;  // rollout/plan.hpp JSON; "" for a rollout stored before plans were
};

// One rollout as `rollout status` shows it: its record, its waves, every host's latest answer.
struct RolloutView {
  std::int64_t id = 0;
  std::string bundle;
  std::uint64_t version = 0;
  std::string state, reason, request, waves_text, max_fail;
  std::vector<std::string> argv;  // the command line it was started with
  std::string plan;               // rollout/plan.hpp JSON ("" for an older rollout)
  bool forced() const;            // with --force (redundancy rules or the DHCP lint overridden)
  std::int64_t started_at = 0, ended_at = 0;  // 0: not (yet)
  struct Wave {
    std::size_t number = 0;
    std::vector<std::string> hosts;
    std::int64_t started_at = 0, ended_at = 0;
  };
  std::vector<Wave> waves;
  std::vector<HostStatus> hosts;  // of the rollout's session, by host name
};

// A host's newest FIN in a session, as stored.
struct LatestFin {
  protocol::FinStatus status = protocol::FinStatus::received;
  std::string message;
};

// What the manager learned of a host's path in its last session with it (adaptive rate only):
// the highest rate it took without loss above its base, and that base (the loss it shows
// whatever the rate, per protocol::kLossScale). The next session starts there.
struct HostPath {
  std::uint64_t rate = 0;  // bytes per second
  std::int32_t base = 0;
  std::int64_t at = 0;  // seconds since the epoch
};

// A DHCP server's pools as the lint read them in the configuration a push or rollout sent it
// (the newest per host and bundle), with the lint's refusals and notes that name the host.
struct DhcpPools {
  struct Pool {
    std::uint32_t low = 0, high = 0;  // IPv4, host order, inclusive
    std::string subnet;
    bool retired = false;  // dhcpd `deny all clients`: lends nothing new
  };
  std::string host, bundle;
  std::uint64_t version = 0;
  std::vector<Pool> pools;
  std::vector<std::string> flags;
  std::int64_t at = 0;
};

class Store;
// Keeps every reply a session's receipts accept in `store` (if any), under session `s`.
Receipts::Observer record_into(Store* store, protocol::SessionId s);

class Store {
 public:
  // read_write creates the directory and the schema; read_only opens an existing store for the
  // web view (web/): every write through it throws.
  enum class Access { read_write, read_only };
  explicit Store(const std::filesystem::path& state_dir, Access access = Access::read_write);

  void record_hosts(const std::vector<const Host*>& hosts);
  void begin_session(const SessionRecord& s, const std::vector<const Host*>& hosts);
  // The session's digest, once the manager took it (a big file's session starts without it).
  void set_session_digest(protocol::SessionId session, const std::string& digest);
  void end_session(protocol::SessionId s, bool success);
  // Per host name, what its last session learned of its path.
  std::map<std::string, HostPath> host_paths() const;
  void record_host_paths(const std::map<std::string, HostPath>& paths);
  // The hosts whose latest RECV said they hold the fleet key of `manager` (protocol/README.md,
  // "Fleet key"), and what a session's RECVs said (true: holds it; false: forgets the host).
  std::vector<std::string> fleet_key_holders(protocol::KeyId manager) const;
  void record_fleet_keys(protocol::KeyId manager, const std::map<std::string, bool>& holds);
  // A reply that verified, as signed (repeats of the same bytes are stored once).
  void record_receipt(protocol::SessionId s, const std::string& host, std::string_view verb,
                      std::string_view line);

  std::int64_t begin_rollout(protocol::SessionId s, const RolloutPlan& plan,
                             const std::vector<std::string>& argv);
  // The newest rollout that is running (a manager killed while it ran) or paused.
  std::optional<RolloutRecord> unfinished_rollout() const;
  // Every running rollout (the daemon resumes those whose owner died), oldest first.
  std::vector<RolloutRecord> running_rollouts() const;
  // A rollout to start at `start_at` (seconds since the epoch) by `serve`.
  std::int64_t schedule_rollout(const std::vector<std::string>& argv, std::int64_t start_at);
  // The scheduled rollout due first, if its time has come.
  std::optional<RolloutRecord> due_rollout(std::int64_t now) const;
  // A scheduled rollout starts: its session and parameters are recorded, it runs.
  void start_scheduled(std::int64_t rollout, protocol::SessionId s, const RolloutPlan& plan);
  // 1-based numbers of the waves of `rollout` whose start was recorded.
  std::vector<std::size_t> waves_started(std::int64_t rollout) const;
  // The hosts session `s` was sent to, with the key and groups they had then.
  std::vector<Host> session_hosts(protocol::SessionId s) const;
  // Operator requests to the running manager, checked between waves: pause or abort.
  // False when there is no running rollout to ask.
  bool request(Request what);
  Request requested(std::int64_t rollout) const;
  // Back to running (clears the request): `rollout resume` of a paused rollout.
  void set_running(std::int64_t rollout);
  // One line per rollout, newest first: id, bundle, version, state, waves started, reason.
  std::vector<std::string> rollouts() const;
  // Rollout `id` (0: the newest); nullopt when there is none.
  std::optional<RolloutView> rollout_view(std::int64_t id) const;
  // Per host name: the newest FIN it sent in this session.
  std::map<std::string, LatestFin> latest_fins(protocol::SessionId s) const;
  void wave_started(std::int64_t rollout, std::size_t wave, const std::vector<std::string>& hosts);
  void wave_ended(std::int64_t rollout, std::size_t wave);
  void end_rollout(std::int64_t rollout, RolloutState state, const std::string& reason);

  // Latest result per (host, bundle), optionally narrowed; hosts of a bundle's sessions that
  // never answered are listed as "no answer".
  std::vector<HostStatus> status(const std::string& bundle, const std::string& host) const;
  // For status --refresh: the newest session of every (host, bundle) `status` would show,
  // grouped by session, each host with the key it had then.
  struct LatestSession {
    protocol::SessionId session;
    std::string file_name;  // as announced (what STATUS names)
    std::vector<Host> hosts;
  };
  std::vector<LatestSession> latest_sessions(const std::string& bundle,
                                             const std::string& host) const;
  std::vector<StoredReceipt> receipts() const;
  // Per host, the newest FIN whose message reports its active DHCP leases ("leases: N active
  // (runs)", the last line the dhcp-server script prints): the message and when it came.
  struct ReportedLeases {
    std::string message;
    std::int64_t at = 0;
  };
  std::map<std::string, ReportedLeases> reported_leases() const;

  // For the web view (views.cpp). Rollout IDs, newest first, at most `limit`.
  std::vector<std::int64_t> rollout_ids(std::size_t limit) const;
  // Every host the store knows, by name: its groups and when it last replied (0: never).
  struct HostRow {
    std::string name;
    std::vector<std::string> groups;
    std::int64_t last_heard = 0;
  };
  std::vector<HostRow> host_rows() const;
  // One host's sessions, newest first (at most `limit`): what was sent, its result there, and
  // every reply it signed in it, as stored.
  struct HostSession {
    SessionRecord record;
    std::int64_t ended_at = 0;  // 0: not ended
    HostStatus result;
    std::vector<StoredReceipt> receipts;
  };
  std::vector<HostSession> host_history(const std::string& host, std::size_t limit) const;
  // What the DHCP lint read of each server's pools when a bundle went out (newest per host and
  // bundle replaces the older), and all of it back.
  void record_dhcp_pools(const std::vector<DhcpPools>& servers);
  std::vector<DhcpPools> dhcp_pools() const;
  // manager.db and its write-ahead log, in bytes.
  std::uint64_t size_bytes() const;

 private:
  std::unique_ptr<protocol::io::Database> db_;
  std::filesystem::path path_;
};

}  // namespace fleetcast::sender
