#include "receiver/apply/apply.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "protocol/bundle/open.hpp"
#include "protocol/io/file.hpp"
#include "protocol/text.hpp"
#include "receiver/apply/script_runner.hpp"

namespace fleetcast::receiver {
namespace fs = std::filesystem;
namespace p = protocol;
namespace b = protocol::bundle;
namespace {

constexpr std::size_t kFinTail = 300;  // bytes of script output a FIN carries (of 512)
constexpr const char* kPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string env_key(std::string_view prefix, std::string_view key) {
  std::string k(prefix);
  for (char c : key) {
    k += (c == '-' || c == '.') ? '_'
                                : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return k;
}

bool listed(const std::vector<std::string>& allowed, const std::string& value) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

bool targeted(const b::Manifest& m, const std::string& host,
              const std::vector<std::string>& groups) {
  if (m.targets.empty()) return true;
  return p::Targets{m.targets}.includes(host, groups);
}

// One file spec per line, tab-separated, for the scripts: id source target owner group mode
// validate. Values are printable ASCII (manifest.cpp), so tabs and newlines cannot occur.
std::string files_table(const b::Manifest& m) {
  std::string out;
  for (const auto& f : m.files) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", f.mode);
    out += f.id + '\t' + (f.source.empty() ? "-" : f.source) + '\t' + f.target + '\t' + f.owner +
           '\t' + f.group + '\t' + mode + '\t' + (f.validate.empty() ? "-" : f.validate) + '\n';
  }
  return out;
}

}  // namespace

std::string output_tail(std::string_view output, std::size_t max_bytes) {
  std::string lines;
  std::size_t start = 0;
  while (start < output.size()) {
    std::size_t end = output.find('\n', start);
    if (end == std::string_view::npos) end = output.size();
    std::string_view line = output.substr(start, end - start);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    if (!line.empty()) lines += (lines.empty() ? "" : "; ") + std::string(line);
    start = end + 1;
  }
  if (lines.size() > max_bytes) lines.replace(0, lines.size() - max_bytes + 3, "...");
  for (char& c : lines) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return lines;
}

struct Applier::Context {
  b::OpenedBundle opened;
  const b::Manifest& manifest() const { return opened.manifest; }
  fs::path work;
  fs::path payload;
  fs::path backup;
  std::string installed_before;  // version text
};

Applier::Applier(ApplyConfig config, ApplyLog log)
    : config_(std::move(config)), log_(std::move(log)) {
  fs::create_directories(config_.state / "apply");
  fs::create_directories(config_.state / "backups");
  journal_ = std::make_unique<Journal>(config_.state / "apply.db");
}

ApplyOutcome Applier::finish(const ApplyRecord& rec, p::FinStatus status,
                             const std::string& message, bool installed) {
  journal_->finish(rec.id, status, message, installed);
  ApplyOutcome o{status, message, *journal_->get(rec.id)};
  const bool good = status != p::FinStatus::failed && status != p::FinStatus::rolled_back &&
                    status != p::FinStatus::rejected;
  log_(log::Event(good ? log::Level::notice : log::Level::warning, "FC2201", "apply-result")
           .with("bundle", rec.file_name)
           .with("name", rec.name)
           .with("version", rec.version)
           .with("kind", rec.kind)
           .with("status", p::to_string(status))
           .with("reason", message));
  // The finished apply's bundle copy and payload, and what the limits no longer keep.
  prune_state(config_.state, *journal_, config_.retention);
  return o;
}

std::optional<ApplyOutcome> Applier::apply(const ApplyJob& job) {
  ApplyRecord rec;
  rec.file_name = job.file_name;
  rec.digest = job.digest;
  rec.session = job.session;
  rec.reply = job.reply;
  rec.mode = job.mode;
  // At most one apply per (digest, session), whatever the mode, across restarts and replays:
  // a delivered bundle whose session already has a result reports that result again and runs
  // nothing (a re-announcement after a restart, a replayed UPDATE or ACTIVATE). The one
  // exception is the ACTIVATE of a bundle held for it. A local apply (no session) always runs.
  if (rec.session) {
    const auto latest = journal_->finished_for(rec.digest, *rec.session);
    if (job.activation && !latest) return std::nullopt;  // not held here
    const bool activates_held = job.activation && latest->status == p::FinStatus::held;
    if (latest && !activates_held) {
      const auto status = latest->status.value_or(p::FinStatus::failed);
      log_(log::info("FC2204", "apply-once")
               .with("bundle", rec.file_name)
               .with("session", p::text::hex64(rec.session->value))
               .with("status", p::to_string(status))
               .with("apply", std::to_string(latest->id)));
      return ApplyOutcome{status, latest->message, *latest};
    }
    if (activates_held) {
      rec.reply = latest->reply;
      rec.mode = p::ApplyMode::now;
    }
  }
  rec.id = journal_->begin(rec);
  // The apply works on its own copy: a later delivery of the same name cannot change it.
  const fs::path work = config_.state / "apply" / std::to_string(rec.id);
  fs::remove_all(work);
  fs::create_directories(work);
  std::shared_ptr<const p::io::InputFile> bundle;
  try {
    p::io::copy_file_atomic(job.bundle, work / "bundle.fcb", 0600);
    bundle = p::io::InputFile::open(work / "bundle.fcb");
  } catch (const std::exception& e) {
    return finish(rec, p::FinStatus::failed, std::string("cannot stage the bundle: ") + e.what());
  }
  return run(rec, &job, *bundle);
}

std::vector<ApplyOutcome> Applier::recover() {
  std::vector<ApplyOutcome> out;
  for (ApplyRecord rec : journal_->unfinished()) {
    // Left by a crash or a kill: finished or rolled back now.
    log_(log::notice("FC2210", "apply-recovering")
             .with("bundle", rec.file_name)
             .with("phase", to_string(rec.phase)));
    std::shared_ptr<const p::io::InputFile> bundle;
    try {
      bundle =
          p::io::InputFile::open(config_.state / "apply" / std::to_string(rec.id) / "bundle.fcb");
    } catch (const std::exception& e) {
      out.push_back(
          finish(rec, p::FinStatus::failed, std::string("staged bundle lost: ") + e.what()));
      continue;
    }
    out.push_back(run(rec, nullptr, *bundle));
  }
  return out;
}

std::vector<std::string> Applier::environment(const ApplyRecord& rec, const Context& ctx,
                                              std::string_view phase) const {
  std::vector<std::string> env = {
      std::string("PATH=") + kPath,
      "LC_ALL=C",
      "FLEETCAST_PHASE=" + std::string(phase),
      "FLEETCAST_HOST=" + config_.host_name,
      "FLEETCAST_BUNDLE_NAME=" + ctx.manifest().name,
      "FLEETCAST_BUNDLE_VERSION=" + std::to_string(ctx.manifest().version),
      "FLEETCAST_BUNDLE_KIND=" + ctx.manifest().kind,
      "FLEETCAST_BUNDLE_DIGEST=" + p::text::hex(rec.digest),
      "FLEETCAST_PREVIOUS_VERSION=" + ctx.installed_before,
      "FLEETCAST_DRY_RUN=" + std::string(rec.mode == p::ApplyMode::dry_run ? "1" : "0"),
      "FLEETCAST_PAYLOAD=" + ctx.payload.string(),
      "FLEETCAST_WORK=" + ctx.work.string(),
      "FLEETCAST_BACKUP=" + ctx.backup.string(),
      "FLEETCAST_BACKUPS=" + (config_.state / "backups").string(),
      "FLEETCAST_FILES=" + (ctx.work / "files.tsv").string(),
      "FLEETCAST_LIB=" + (config_.scripts / "lib").string(),
  };
  for (const auto& [k, v] : ctx.manifest().settings)
    env.push_back(env_key("FLEETCAST_SET_", k) + "=" + v);
  // A key given twice (INI file, then --host-fact): the later one wins.
  const auto& facts = config_.host_facts;
  for (auto it = facts.begin(); it != facts.end(); ++it) {
    const bool overridden = std::any_of(
        std::next(it), facts.end(), [&](const auto& later) { return later.first == it->first; });
    if (!overridden) env.push_back(env_key("FLEETCAST_HOST_", it->first) + "=" + it->second);
  }
  return env;
}

bool Applier::run_phase(const ApplyRecord& rec, const Context& ctx, Phase phase,
                        std::string& tail) {
  const std::string name(to_string(phase));
  const fs::path script = config_.scripts / ctx.manifest().kind;
  log_(log::info("FC2202", "apply-phase").with("bundle", rec.file_name).with("phase", name));
  const ScriptResult r = run_script({script.string(), name}, environment(rec, ctx, name),
                                    ctx.manifest().apply_timeout, ctx.work / (name + ".log"));
  tail = output_tail(r.output, kFinTail);
  if (!r.ok()) {
    const std::string how =
        r.timed_out
            ? "timed out after " + std::to_string(ctx.manifest().apply_timeout.count()) + " s"
            : r.describe();
    tail = name + " " + how + (tail.empty() ? "" : ": " + tail);
  }
  return r.ok();
}

ApplyOutcome Applier::roll_back(const ApplyRecord& rec, const Context& ctx,
                                const std::string& why) {
  journal_->set_phase(rec.id, Phase::rollback, why);
  std::string tail;
  const bool ok = run_phase(rec, ctx, Phase::rollback, tail);
  if (tail.size() > 150) tail.replace(0, tail.size() - 147, "...");
  if (ok) {
    return finish(rec, p::FinStatus::rolled_back,
                  why + "; rolled back" + (tail.empty() ? "" : ": " + tail));
  }
  return finish(rec, p::FinStatus::failed, why + "; ROLLBACK FAILED: " + tail);
}

ApplyOutcome Applier::run(ApplyRecord rec, const ApplyJob* job, const p::io::InputFile& bundle) {
  const Phase resumed_in = rec.phase;
  // Resumed past the point where the host may have changed: it is rolled back, whatever the
  // policy says now.
  const bool past_backup =
      resumed_in == Phase::apply || resumed_in == Phase::verify || resumed_in == Phase::rollback;
  Context ctx;
  ctx.work = config_.state / "apply" / std::to_string(rec.id);
  ctx.payload = ctx.work / "payload";
  if (Stop stop = open(rec, bundle, ctx)) return std::move(*stop);
  if (Stop stop = check_policy(rec, job, ctx, past_backup)) return std::move(*stop);
  if (Stop stop = stage_payload(rec, bundle, ctx, past_backup)) return std::move(*stop);
  if (!past_backup) return run_phases(rec, ctx);
  const std::string why =
      resumed_in == Phase::rollback
          ? "receiver restarted during rollback (after " + rec.failed_phase + ")"
          : "receiver restarted during the " + std::string(to_string(resumed_in)) + " phase";
  return roll_back(rec, ctx, why);
}

// The seal, before anything of the bundle is read; an encrypted content decrypted with this
// host's key; the manifest (bundle/open.hpp).
Applier::Stop Applier::open(ApplyRecord& rec, const p::io::InputFile& bundle, Context& ctx) {
  if (bundle.digest() != rec.digest) {
    return finish(rec, p::FinStatus::rejected, "digest differs from the announced digest");
  }
  try {
    ctx.opened =
        b::open_bundle(bundle, config_.manager, config_.own_key ? &*config_.own_key : nullptr);
  } catch (const b::Refused& e) {
    return finish(rec, p::FinStatus::rejected, std::string("bundle refused: ") + e.what());
  }
  const b::Manifest& m = ctx.manifest();
  journal_->set_bundle(rec.id, m.name, m.version, m.kind);
  rec.name = m.name;
  rec.version = m.version;
  rec.kind = m.kind;
  ctx.backup = config_.state / "backups" / m.name / std::to_string(m.version);
  return std::nullopt;
}

// The announcement against the manifest, this host's policy (kinds, names, targets, where
// files may go), and the version against the installed one.
Applier::Stop Applier::check_policy(const ApplyRecord& rec, const ApplyJob* job, Context& ctx,
                                    bool past_backup) {
  const b::Manifest& m = ctx.manifest();
  // (An ACTIVATE names the version only: the kind was checked when the bundle was held.)
  if (job && job->announced_version &&
      (job->announced_version != m.version ||
       (!job->announced_kind.empty() && job->announced_kind != m.kind))) {
    return finish(rec, p::FinStatus::rejected,
                  "the announcement (version " + std::to_string(job->announced_version) + ", " +
                      job->announced_kind + ") does not match the manifest (version " +
                      std::to_string(m.version) + ", " + m.kind + ")");
  }
  if (!listed(config_.kinds, m.kind)) {
    return finish(rec, p::FinStatus::rejected, "kind " + m.kind + " is not allowed on this host");
  }
  if (!listed(config_.names, m.name)) {
    return finish(rec, p::FinStatus::rejected, "bundle " + m.name + " is not allowed on this host");
  }
  if (!targeted(m, config_.host_name, config_.groups)) {
    return finish(rec, p::FinStatus::rejected, "this host is not among the bundle's targets");
  }
  p::Digest installed_digest{};
  const std::uint64_t installed = journal_->installed_version(m.name, &installed_digest);
  ctx.installed_before = std::to_string(installed);
  if (past_backup) return std::nullopt;
  for (const auto& f : m.files) {
    if (auto why = refuse_target(config_.targets, f.target)) {
      return finish(rec, p::FinStatus::rejected, "file " + f.id + ": " + *why);
    }
  }
  if (installed < m.version) return std::nullopt;
  if (installed == m.version && installed_digest == rec.digest) {
    return finish(rec, p::FinStatus::applied,
                  "already applied: version " + std::to_string(m.version) + " is in place");
  }
  return finish(rec, p::FinStatus::rejected,
                "version " + std::to_string(m.version) +
                    " is not newer than the installed version " + std::to_string(installed) +
                    " of " + m.name);
}

// Safe extraction, then this host's view of the payload (its overlay opened when it came sealed
// to this host alone), and the update script of the kind.
Applier::Stop Applier::stage_payload(const ApplyRecord& rec, const p::io::InputFile& bundle,
                                     const Context& ctx, bool past_backup) {
  const b::Manifest& m = ctx.manifest();
  if (!past_backup || !fs::exists(ctx.payload)) {
    try {
      fs::remove_all(ctx.work / "staging");
      fs::remove_all(ctx.payload);
      ctx.opened.extract_to(bundle, ctx.work / "staging", config_.limits);
      if (config_.own_key) b::open_overlays(ctx.work / "staging", *config_.own_key, config_.limits);
      b::resolve_for_host(ctx.work / "staging", config_.host_name, ctx.payload);
      fs::remove_all(ctx.work / "staging");
      const std::string table = files_table(m);
      p::io::write_file_atomic(ctx.work / "files.tsv", p::as_bytes(table), 0600);
    } catch (const std::exception& e) {
      return finish(rec, p::FinStatus::rejected, std::string("bundle refused: ") + e.what());
    }
    for (const auto& path : m.payload_paths()) {
      if (!fs::is_regular_file(fs::symlink_status(ctx.payload / path))) {
        return finish(rec, p::FinStatus::rejected,
                      "the bundle has no " + path + " for host " + config_.host_name);
      }
    }
  }
  const fs::path script = config_.scripts / m.kind;
  if (::access(script.c_str(), X_OK) != 0) {
    return finish(rec, p::FinStatus::failed,
                  "no update script for kind " + m.kind + " at " + script.string());
  }
  return std::nullopt;
}

// check, then (hold and dry-run end there) backup, apply, verify; a failed apply or verify
// rolls back.
ApplyOutcome Applier::run_phases(const ApplyRecord& rec, const Context& ctx) {
  std::string tail;
  journal_->set_phase(rec.id, Phase::check);
  if (!run_phase(rec, ctx, Phase::check, tail)) return finish(rec, p::FinStatus::rejected, tail);
  if (rec.mode == p::ApplyMode::dry_run) {
    return finish(rec, p::FinStatus::checked, tail.empty() ? "check passed" : tail);
  }
  if (rec.mode == p::ApplyMode::hold) {
    return finish(rec, p::FinStatus::held,
                  "held for activation: " + (tail.empty() ? "check passed" : tail));
  }
  fs::remove_all(ctx.backup);
  fs::create_directories(ctx.backup);
  ::chmod(ctx.backup.c_str(), 0700);
  journal_->set_phase(rec.id, Phase::backup);
  if (!run_phase(rec, ctx, Phase::backup, tail)) {
    return finish(rec, p::FinStatus::failed, tail + " (nothing was changed)");
  }
  p::io::sync_directory(ctx.backup);
  journal_->set_phase(rec.id, Phase::apply);
  if (!run_phase(rec, ctx, Phase::apply, tail)) return roll_back(rec, ctx, tail);
  journal_->set_phase(rec.id, Phase::verify);
  if (!run_phase(rec, ctx, Phase::verify, tail)) return roll_back(rec, ctx, tail);
  return finish(rec, p::FinStatus::applied,
                "version " + std::to_string(ctx.manifest().version) + " applied" +
                    (tail.empty() ? "" : ": " + tail),
                true);
}

}  // namespace fleetcast::receiver
