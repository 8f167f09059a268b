#include "sender/cli/options.hpp"

#include <boost/program_options.hpp>
#include <fstream>
#include <sstream>

#include "protocol/io/clock.hpp"
#include "protocol/text.hpp"
#include "sender/fleet/window.hpp"

namespace po = boost::program_options;

namespace fleetcast::sender {

const char* const kUsage =
    "fleetcast-sender: the fleetcast manager. Signs and pushes files and update bundles to a\n"
    "fleet over IPv6 multicast (FEC + NAK repair) and collects per-host receipts.\n"
    "\n"
    "Usage:\n"
    "  fleetcast-sender keygen --out DIR\n"
    "      create DIR/manager.key (0600) and DIR/manager.pub; give manager.pub to every host\n"
    "  fleetcast-sender fingerprint FILE\n"
    "      print the key ID and fingerprint of a key file\n"
    "  fleetcast-sender inventory add --inventory FILE --name NAME --pub HOST.pub [--group G]...\n"
    "      add (or replace) a host; only inventory hosts are ever registered in a session\n"
    "  fleetcast-sender inventory redundancy --inventory FILE --name GROUP --service SERVICE\n"
    "                        --member HOST=ROLE --member HOST=ROLE...\n"
    "      add (or replace) a redundancy group: dhcpd (primary, secondary), kea (primary,\n"
    "      secondary | standby, backup), carp | vrrp (master, backup). Rollouts put its\n"
    "      members in separate waves, the primary / master last, each after the one before\n"
    "      applied and passed its health gate\n"
    "  fleetcast-sender inventory site --inventory FILE --name SITE --relay HOST --address IPV6\n"
    "                        [--uplink MBIT] --member HOST --member HOST...\n"
    "      add (or replace) a site: a LAN the manager's multicast does not reach, served by its\n"
    "      relay (a host there running fleetcast-receiver --relay-port): one copy over the WAN,\n"
    "      repairs on the site's LAN, the session never faster than the uplink\n"
    "  fleetcast-sender inventory list --inventory FILE\n"
    "      print the hosts, their groups and windows, the redundancy groups and the sites\n"
    "  fleetcast-sender send FILE --inventory FILE --key manager.key --iface IF [options]\n"
    "      deliver FILE to every targeted host; exit 0 only when every one completed\n"
    "  fleetcast-sender push BUNDLE.fcb --inventory FILE --key manager.key --iface IF\n"
    "                        [--dry-run] [--fin-timeout S] [options]\n"
    "      deliver a bundle, have every targeted host apply it (or only check it: --dry-run)\n"
    "      and print each host's signed FIN; exit 0 only when every one applied (checked);\n"
    "      members of a redundancy group are applied in turns, as a rollout (--force: at once)\n"
    "  fleetcast-sender rollout plan|run BUNDLE.fcb --inventory FILE --key manager.key --iface IF\n"
    "                        [--waves 1,10%,50%,100%] [--max-fail N|P%] [--soak S] [options]\n"
    "      plan: print the waves and their hosts, change nothing. run: deliver the bundle once\n"
    "      (hosts check it and hold it), then activate it wave by wave, the next wave only\n"
    "      after every result of the last one and the soak time; halt when more hosts fail\n"
    "      than --max-fail tolerates; exit 0 only when every host applied it\n"
    "  fleetcast-sender rollout resume --state DIR\n"
    "      continue the rollout a killed manager left running (with --state): collect the\n"
    "      results sent meanwhile, deliver to hosts that do not hold the bundle yet (catch-up),\n"
    "      then go on with the wave that was running; no host is activated twice; also\n"
    "      continues a paused rollout\n"
    "  fleetcast-sender rollout start BUNDLE.fcb --at now|+S|YYYY-MM-DDTHH:MM:SSZ --state DIR\n"
    "                        [rollout run options]\n"
    "      check the bundle and the options now and schedule the rollout; serve starts it\n"
    "  fleetcast-sender serve --state DIR [--http ADDR:PORT]\n"
    "      the manager daemon: starts scheduled rollouts when due and resumes running ones\n"
    "      whose manager process died; SIGTERM: no new wave, the rollout stays running.\n"
    "      --http: a read-only web view of the store at ADDR:PORT (/, /hosts/NAME, /api/...,\n"
    "      /metrics); off by default\n"
    "  fleetcast-sender rollout pause|abort --state DIR\n"
    "      ask the running rollout to start no new wave (running applies finish); paused: until\n"
    "      rollout resume; aborted: for good (hosts not activated keep the bundle held)\n"
    "  fleetcast-sender rollout list --state DIR\n"
    "      every rollout in the store: bundle, version, state, waves started, reason\n"
    "  fleetcast-sender rollout status [ID] --state DIR [--json]\n"
    "      one rollout (the newest without ID): its state, each wave's hosts and times, every\n"
    "      host's latest result, then the recap: counts per status and the failed hosts\n"
    "  fleetcast-sender status --state DIR [--bundle NAME] [--host H] [--json | --csv]\n"
    "                        [--refresh --key manager.key --iface IF [--inventory FILE]]\n"
    "      from the receipt store: per host and bundle the latest result, its version, reason\n"
    "      and time, the newest version applied, and who never answered; --refresh asks\n"
    "      those hosts first (results sent while no manager listened reach the store)\n"
    "  fleetcast-sender receipts verify --state DIR\n"
    "      check every stored reply's signature again with the host key it was taken with\n"
    "  fleetcast-sender bundle create DIR -o BUNDLE.fcb --key manager.key\n"
    "                        [--encrypt --inventory FILE [--hosts H,H...]]\n"
    "      pack DIR (manifest.ini and payload) into a signed bundle; --encrypt: readable only\n"
    "      by those hosts (XChaCha20-Poly1305, the key sealed to each host's key)\n"
    "  fleetcast-sender bundle seal ARCHIVE.tar.zst -o BUNDLE.fcb --key manager.key\n"
    "                                [--allow-unsafe]\n"
    "      sign a zstd-compressed tar made by other tools (manifest.ini first); refused when\n"
    "      a receiver would refuse it, unless --allow-unsafe (to test receivers' refusal)\n"
    "  fleetcast-sender bundle lint BUNDLE.fcb --inventory FILE --key manager.key [--hosts H,..]\n"
    "                        [--state DIR]\n"
    "      dhcp-server bundles: parse every target's configuration as it would apply it and\n"
    "      refuse two servers that are not partners lending one address, failover peers with\n"
    "      different pools or mclt/split on the secondary, HA peers with different pools, and\n"
    "      (with --state) ranges that leave out leases a host reported active (push and\n"
    "      rollout run the same check and refuse unless --force)\n"
    "  fleetcast-sender bundle inspect|verify BUNDLE.fcb --manager-pub manager.pub | --key K\n"
    "      check the seal, then show the manifest and files (inspect) or only OK (verify)\n"
    "  fleetcast-sender --help | --version\n";

po::options_description send_options() {
  const SendOptions d;  // the defaults: one table, SendOptions' own initializers
  po::options_description o("send options (also valid in the --config INI file)");
  o.add_options()("inventory", po::value<std::string>(),
                  "inventory file (hosts and their public keys)")(
      "key", po::value<std::string>(), "the manager's secret key (manager.key)")(
      "iface", po::value<std::string>(), "network interface to send on")(
      "hosts", po::value<std::string>(), "comma-separated host names (default: all)")(
      "force",
      "push / rollout: send a dhcp-server bundle the DHCP lint refuses (two servers lending one "
      "address, failover peers that disagree), and accept waves that break a redundancy group's "
      "rules; recorded with the rollout")("name", po::value<std::string>(),
                                          "announced name (default: the file's base name)")(
      "kind", po::value<std::string>()->default_value(d.kind), "bundle kind announced")(
      "bundle-version", po::value<std::uint64_t>()->default_value(d.bundle_version),
      "announced version")(
      "rate", po::value<double>()->default_value(d.rate_mbit),
      "the highest data rate in Mbit/s (0: none); the rate adapts below it to the loss the "
      "hosts report")("rate-start", po::value<double>()->default_value(d.rate_start_mbit),
                      "adaptive rate: start at this many Mbit/s")(
      "rate-floor", po::value<double>()->default_value(d.rate_floor_mbit),
      "adaptive rate: never below this many Mbit/s")(
      "fixed-rate",
      "send at --rate throughout (0: as fast as the interface takes), whatever "
      "the hosts lose")("deadline",
                        po::value<int>()->default_value(static_cast<int>(d.deadline.count())),
                        "give up after SECONDS")(
      "registration-timeout",
      po::value<int>()->default_value(static_cast<int>(d.registration_timeout.count())),
      "start streaming after MS even if not every host registered")(
      "report", po::value<std::string>(), "write a per-host JSON report to FILE")(
      "ctrl-group", po::value<std::string>()->default_value(d.ctrl_group), "ctrl group")(
      "data-group", po::value<std::string>()->default_value(d.data_group),
      "data group (ff3x::/32: receivers join source-specific)")(
      "ctrl-port", po::value<std::uint16_t>()->default_value(d.ctrl_port), "ctrl port")(
      "data-port", po::value<std::uint16_t>()->default_value(d.data_port), "data port")(
      "reply-port", po::value<std::uint16_t>()->default_value(d.reply_port), "unicast reply port")(
      "hop-limit", po::value<int>()->default_value(d.hop_limit), "multicast hop limit (1-255)")(
      "symbol-size", po::value<std::uint32_t>()->default_value(d.symbol_size), "FEC symbol size")(
      "k", po::value<std::uint32_t>()->default_value(d.k), "source symbols per block (1-254)")(
      "auth-copies", po::value<std::uint32_t>()->default_value(d.auth_copies),
      "copies of each new AUTH packet per round, 1-4 (0: 2 until the loss is known, then as the "
      "hosts' loss needs; 1 saves about 1.7 % of wire on a clean network)")(
      "proactive", po::value<double>()->default_value(d.proactive),
      "parity sent in the first round, as a fraction of k (0-0.25)")(
      "mixed-parts", po::value<std::uint32_t>()->default_value(d.mixed_parts),
      "most blocks one cross-block repair packet combines (1 = none, at most 16; fewer when "
      "the interface MTU leaves no room)")("no-progress", "no live progress line")(
      "dry-run", "push: hosts check the bundle and report what would change, nothing more")(
      "fin-timeout", po::value<int>()->default_value(static_cast<int>(d.fin_timeout.count())),
      "push: seconds to wait for the hosts' FIN after delivery")(
      "state", po::value<std::string>(),
      "the manager's state directory: every host's signed replies are kept in its receipt "
      "store (manager.db) for status and receipts verify")(
      "http", po::value<std::string>(),
      "serve: the read-only web view, JSON API and Prometheus metrics at ADDR:PORT "
      "(127.0.0.1:8080, [::1]:8080); off when not given")(
      "log-level", po::value<std::string>(),
      "the least important events logged to standard error: debug, info, notice, warning or "
      "error (default: info for serve, warning otherwise: the other commands report on "
      "standard output)")("syslog", po::bool_switch(),
                          "also send every event to syslog (facility daemon); in the INI file: "
                          "syslog = true");
  return o;
}

po::options_description rollout_options() {
  const RolloutOptions d;  // the defaults: RolloutOptions' own initializers
  po::options_description o("rollout options (also valid in the --config INI file)");
  o.add_options()("waves", po::value<std::string>()->default_value(d.waves_text),
                  "hosts done after each wave, cumulative: counts or percentages of the targets "
                  "(the first wave is the canary)")(
      "max-fail", po::value<std::string>()->default_value(d.max_fail.to_string()),
      "failures tolerated, as a count or a percentage (fleet-wide and per wave); one more halts")(
      "soak", po::value<int>()->default_value(static_cast<int>(d.soak.count())),
      "seconds to wait after each wave's results")(

      "activate-timeout",
      po::value<int>()->default_value(static_cast<int>(d.activate_timeout.count())),
      "seconds a wave may take until every host reported (silent hosts count as failed)")(
      "at", po::value<std::string>(),
      "rollout start: when serve starts it: now, +SECONDS or YYYY-MM-DDTHH:MM:SSZ")(
      "window", po::value<std::vector<std::string>>(),
      "maintenance window, e.g. 'Mon-Fri 22:00-05:00 Asia/Tokyo' (every host) or "
      "'@GROUP=Sat 01:00-04:00 UTC' (the group's hosts; replaces the inventory's window of the "
      "group); repeatable. A host is activated only inside every window that applies to it; "
      "a wave waits for them to open; no ACTIVATE is sent after one closes");
  return o;
}

RolloutOptions validate_rollout(const po::variables_map& vm) {
  RolloutOptions r;
  std::string error;
  const std::string waves = vm["waves"].as<std::string>();
  auto steps = parse_waves(waves, &error);
  if (!steps) throw ConfigError("--waves '" + waves + "': " + error);
  r.waves = std::move(*steps);
  r.waves_text = waves;
  r.force = vm.count("force") != 0;  // the same flag as SendOptions::force
  const std::string max_fail = vm["max-fail"].as<std::string>();
  auto limit = Amount::parse(max_fail);
  if (!limit) throw ConfigError("--max-fail '" + max_fail + "': a count or a percentage (0-100%)");
  r.max_fail = *limit;
  const int soak = vm["soak"].as<int>();
  if (soak < 0 || soak > 7 * 86400) throw ConfigError("--soak: 0 to 604800 seconds");
  r.soak = std::chrono::seconds(soak);
  const int timeout = vm["activate-timeout"].as<int>();
  if (timeout < 1) throw ConfigError("--activate-timeout: must be at least 1 second");
  r.activate_timeout = std::chrono::seconds(timeout);
  if (vm.count("window")) {
    for (const std::string& w : vm["window"].as<std::vector<std::string>>()) {
      std::string group, window = w;
      if (w.starts_with('@')) {
        const auto eq = w.find('=');
        group = w.substr(1, eq == std::string::npos ? std::string::npos : eq - 1);
        window = eq == std::string::npos ? "" : w.substr(eq + 1);
        if (!protocol::text::is_group_name(group)) {
          throw ConfigError("--window '" + w + "': expected @GROUP=WINDOW");
        }
      }
      if (!Window::parse(window, &error)) throw ConfigError("--window '" + w + "': " + error);
      if (group.empty()) {
        r.windows.push_back(window);
      } else {
        r.group_windows[group] = window;
      }
    }
  }
  if (vm.count("at")) {
    const std::string at = vm["at"].as<std::string>();
    const auto now = protocol::io::wall_now();
    const auto t = parse_instant(at, now);
    if (!t) throw ConfigError("--at '" + at + "': now, +SECONDS or YYYY-MM-DDTHH:MM:SSZ");
    r.start_at = t->time_since_epoch().count();
  }
  return r;
}

void require(const po::variables_map& vm, const char* option, const char* command) {
  if (!vm.count(option)) {
    throw ConfigError(std::string(command) + ": --" + option + " is required");
  }
}

// What talking to the hosts needs: the key, the interface, the groups and ports.
SendOptions validate_network(const po::variables_map& vm, const char* command) {
  for (const char* o : {"key", "iface"}) require(vm, o, command);
  SendOptions s;
  s.key = vm["key"].as<std::string>();
  s.iface = vm["iface"].as<std::string>();
  s.ctrl_group = vm["ctrl-group"].as<std::string>();
  s.data_group = vm["data-group"].as<std::string>();
  for (const auto& [opt, g] :
       {std::pair{"--ctrl-group", s.ctrl_group}, {"--data-group", s.data_group}}) {
    auto e = protocol::text::parse_address(g, 1, opt);
    if (!e || !e->is_multicast()) {
      throw ConfigError(std::string(opt) + ": '" + g + "' is not an IPv6 multicast address");
    }
  }
  s.ctrl_port = vm["ctrl-port"].as<std::uint16_t>();
  s.data_port = vm["data-port"].as<std::uint16_t>();
  s.reply_port = vm["reply-port"].as<std::uint16_t>();
  s.hop_limit = vm["hop-limit"].as<int>();
  if (s.hop_limit < 1 || s.hop_limit > 255) throw ConfigError("--hop-limit: must be 1-255");
  return s;
}

SendOptions validate_send(const po::variables_map& vm, const std::vector<std::string>& args) {
  if (args.size() != 1) throw ConfigError("send: exactly one FILE expected");
  require(vm, "inventory", "send");
  SendOptions s = validate_network(vm, "send");
  s.file = args[0];
  s.inventory = vm["inventory"].as<std::string>();
  if (vm.count("hosts")) {
    s.hosts = protocol::text::split(vm["hosts"].as<std::string>(), ',');
    for (const auto& h : s.hosts) {
      if (!protocol::text::is_host_name(h)) throw ConfigError("--hosts: bad host name '" + h + "'");
    }
  }
  s.name = vm.count("name") ? vm["name"].as<std::string>() : s.file.filename().string();
  if (!protocol::text::is_file_name(s.name)) throw ConfigError("--name: bad name '" + s.name + "'");
  s.kind = vm["kind"].as<std::string>();
  if (!protocol::text::is_token(s.kind)) throw ConfigError("--kind: bad kind '" + s.kind + "'");
  s.bundle_version = vm["bundle-version"].as<std::uint64_t>();
  s.rate_mbit = vm["rate"].as<double>();
  if (!(s.rate_mbit >= 0 && s.rate_mbit <= 100000)) throw ConfigError("--rate: must be 0-100000");
  s.rate_start_mbit = vm["rate-start"].as<double>();
  if (!(s.rate_start_mbit >= 0.1 && s.rate_start_mbit <= 100000)) {
    throw ConfigError("--rate-start: must be 0.1-100000");
  }
  s.rate_floor_mbit = vm["rate-floor"].as<double>();
  if (!(s.rate_floor_mbit >= 0.1 && s.rate_floor_mbit <= 100000)) {
    throw ConfigError("--rate-floor: must be 0.1-100000");
  }
  if (s.rate_mbit > 0 && s.rate_floor_mbit > s.rate_mbit) {
    throw ConfigError("--rate-floor: above --rate");
  }
  s.fixed_rate = vm.count("fixed-rate") > 0;
  const int deadline = vm["deadline"].as<int>();
  if (deadline < 1) throw ConfigError("--deadline: must be at least 1 second");
  s.deadline = std::chrono::seconds(deadline);
  const int reg = vm["registration-timeout"].as<int>();
  if (reg < 1) throw ConfigError("--registration-timeout: must be at least 1 ms");
  s.registration_timeout = std::chrono::milliseconds(reg);
  if (vm.count("report")) s.report = vm["report"].as<std::string>();
  s.symbol_size = vm["symbol-size"].as<std::uint32_t>();
  if (s.symbol_size < 16 || s.symbol_size > 8192)
    throw ConfigError("--symbol-size: must be 16-8192");
  s.k = vm["k"].as<std::uint32_t>();
  if (s.k < 1 || s.k > 254) throw ConfigError("--k: must be 1-254");
  s.proactive = vm["proactive"].as<double>();
  if (!(s.proactive >= 0 && s.proactive <= 0.25)) throw ConfigError("--proactive: must be 0-0.25");
  s.auth_copies = vm["auth-copies"].as<std::uint32_t>();
  if (s.auth_copies > 4) throw ConfigError("--auth-copies: 0 (adaptive) or 1-4");
  s.mixed_parts = vm["mixed-parts"].as<std::uint32_t>();
  if (s.mixed_parts < 1 || s.mixed_parts > 16) throw ConfigError("--mixed-parts: must be 1-16");
  s.progress = !vm.count("no-progress");
  s.dry_run = vm.count("dry-run") > 0;
  const int fin = vm["fin-timeout"].as<int>();
  if (fin < 1) throw ConfigError("--fin-timeout: must be at least 1 second");
  s.fin_timeout = std::chrono::seconds(fin);
  if (vm.count("state")) s.state = vm["state"].as<std::string>();
  s.force = vm.count("force") != 0;
  return s;
}

BundleOptions validate_bundle(const po::variables_map& vm, const std::vector<std::string>& args) {
  if (args.size() != 2 || (args[0] != "create" && args[0] != "seal" && args[0] != "inspect" &&
                           args[0] != "verify" && args[0] != "lint")) {
    throw ConfigError(
        "bundle: expected 'bundle create DIR', 'bundle seal ARCHIVE', 'bundle inspect FILE', "
        "'bundle verify FILE' or 'bundle lint FILE'");
  }
  BundleOptions b;
  b.input = args[1];
  if (vm.count("key")) b.key = vm["key"].as<std::string>();
  if (vm.count("manager-pub")) b.manager_pub = vm["manager-pub"].as<std::string>();
  b.allow_unsafe = vm.count("allow-unsafe") > 0;
  if (b.allow_unsafe && args[0] != "seal")
    throw ConfigError("--allow-unsafe: only for bundle seal");
  if (vm.count("encrypt")) {
    if (args[0] != "create") throw ConfigError("--encrypt: only for bundle create");
    require(vm, "inventory", "bundle create --encrypt");
    b.encrypt_for = vm["inventory"].as<std::string>();
    if (vm.count("hosts"))
      b.encrypt_hosts = protocol::text::split(vm["hosts"].as<std::string>(), ',');
  }
  if (args[0] == "create" || args[0] == "seal") {
    const std::string what = "bundle " + args[0];
    require(vm, "output", what.c_str());
    require(vm, "key", what.c_str());
    b.output = vm["output"].as<std::string>();
  } else if (!b.key && !b.manager_pub) {
    throw ConfigError("bundle " + args[0] + ": --manager-pub or --key is required");
  }
  return b;
}

po::options_description general_options() {
  po::options_description general("general");
  general.add_options()("help,h", "show this help")("version", "show the version")(
      "config", po::value<std::string>(), "INI file with send options")(
      "out", po::value<std::string>(), "keygen: output directory")(
      "pub", po::value<std::string>(), "inventory add: the host's public key file")(
      "group", po::value<std::vector<std::string>>(), "inventory add: a group of the host")(
      "service", po::value<std::string>(), "inventory redundancy: dhcpd, kea, carp or vrrp")(
      "member", po::value<std::vector<std::string>>(),
      "inventory redundancy: HOST=ROLE, once per member; inventory site: a host behind the relay")(
      "relay", po::value<std::string>(), "inventory site: the host that relays to the site")(
      "address", po::value<std::string>(),
      "inventory site: the relay's address as the manager reaches it (IPv6, or [IPv6]:PORT; port "
      "4713 by default)")("uplink", po::value<std::string>(),
                          "inventory site: the site's uplink in Mbit/s")(
      "output,o", po::value<std::string>(), "bundle create / seal: the bundle file to write")(
      "allow-unsafe", "bundle seal: sign an archive receivers will refuse (for tests)")(
      "encrypt",
      "bundle create: encrypt the content for the --inventory hosts the manifest targets "
      "(narrowed by --hosts) and this manager, each hosts/HOST/ overlay for that host alone; "
      "other hosts and the LAN learn only its size")(
      "manager-pub", po::value<std::string>(), "bundle inspect / verify: the trusted manager.pub")(
      "bundle", po::value<std::string>(), "status: only this bundle (name)")(
      "host", po::value<std::string>(), "status: only this host")("json", "status: as JSON")(
      "csv", "status: as CSV")("refresh",
                               "status: ask the hosts (STATUS) first; needs --key and --iface")(
      "refresh-timeout", po::value<int>()->default_value(5),
      "status --refresh: seconds to wait for the hosts' answers");
  return general;
}

}  // namespace fleetcast::sender
