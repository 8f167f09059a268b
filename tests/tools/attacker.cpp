// Test-only attacker without any key (tests/fleet/attack_test.sh): it hears what every LAN host
// hears and sends what any LAN host can send.
//
//   fleetcast-attacker spray-data --iface IF --seconds S --rate PPS [--ctrl-group G --ctrl-port P]
//   fleetcast-attacker replay --iface IF --seconds S [--sessions N] [--rate LPS] [--ctrl-group G
//                      --ctrl-port P]
//   fleetcast-attacker junk-feedback --iface IF --seconds S --rate PPS [--key-ids HEX,HEX...]
//   fleetcast-attacker forge-ctrl --iface IF --seconds S --rate PPS
//   fleetcast-attacker capture --iface IF --seconds S --out FILE
//   fleetcast-attacker spoof-manager --iface IF --seconds S --rate PPS --manager ADDR --key-ids ID
//
// spray-data: waits for an UPDATE on the ctrl group (read, not verified: it has no key), then
// sends forged DATA packets to the session's data group for S seconds at PPS packets per second:
// the session's file ID, a valid SBN and source ESI, random symbol bytes. Prints what it sent.
// replay: records every signed line on the ctrl group (UPDATE, ACTIVATE, STATUS, ABORT) until
// an UPDATE of a session after the first N (default 1) appears, then sends every recorded line
// again, as recorded, every 50 ms for S seconds; with --rate, in a cycle at LPS lines a second,
// each from the next of this host's global addresses (add many to the interface: the hosts see
// that many sources). Prints what it recorded and sent.
// junk-feedback: waits for an UPDATE, then sends NAK-shaped packets to the manager's reply
// address for S seconds at PPS: the session's ID and file ID, valid-looking entries, random MAC
// and signature; the signer is a random key ID, or (every other packet) one of --key-ids, the
// public IDs of real hosts.
// forge-ctrl: waits for an UPDATE, then sends copies of it with random signatures to the ctrl
// group for S seconds at PPS: lines that name the manager's key and do not verify.
// capture: waits for an UPDATE, joins its data group and writes every datagram of the data and
// ctrl groups to FILE for S seconds (what any host on the LAN can record).
// spoof-manager: sends from the manager's own address ADDR (IPV6_TRANSPARENT: any LAN host can
// put any source address on a packet) for S seconds at PPS, starting at once: UPDATE lines that
// name the manager's key ID (--key-ids, public) with random signatures to the ctrl group, and,
// once it has heard a real UPDATE, every other packet a ROUND of that session with a random
// signature to its data group. Against a host that trusts the manager's address as such, this
// costs a verification per packet and fills its budget for failures.
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "fec/block_plan.hpp"
#include "protocol/control.hpp"
#include "protocol/data.hpp"
#include "protocol/fleet_key.hpp"
#include "protocol/io/udp_socket.hpp"
#include "protocol/text.hpp"

namespace p = fleetcast::protocol;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: fleetcast-attacker spray-data --iface IF --seconds S --rate PPS "
               "[--ctrl-group G] [--ctrl-port P]\n"
               "       fleetcast-attacker replay --iface IF --seconds S [--ctrl-group G] "
               "[--ctrl-port P]\n"
               "       fleetcast-attacker junk-feedback --iface IF --seconds S --rate PPS "
               "[--key-ids HEX,HEX...]\n"
               "       fleetcast-attacker forge-ctrl --iface IF --seconds S --rate PPS\n"
               "       fleetcast-attacker capture --iface IF --seconds S --out FILE\n"
               "       fleetcast-attacker spoof-manager --iface IF --seconds S --rate PPS "
               "--manager ADDR --key-ids ID\n");
  std::exit(2);
}

// Writes the low `bytes` bytes of `v`, big-endian, at out[at], and moves `at` past them.
void put_be(std::span<std::uint8_t> out, std::size_t& at, std::uint64_t v, int bytes) {
  for (int k = bytes - 1; k >= 0; --k) out[at++] = static_cast<std::uint8_t>(v >> (8 * k));
}

// Calls send_one(n) for packets n = 0, 1, ... at `rate` per second (bursts of at most
// `max_burst`) for `seconds`, then prints how many it sent (send_one says whether each went out)
// and how fast.
template <class SendOne>
void paced(double seconds, double rate, const char* what, SendOne&& send_one,
           std::uint64_t max_burst = 64) {
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::uint64_t sent = 0, tried = 0;
  while (Clock::now() < end) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const auto due = static_cast<std::uint64_t>(elapsed * rate);
    for (std::uint64_t burst = 0; burst < max_burst && tried < due; ++burst, ++tried) {
      if (send_one(tried)) ++sent;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("attacker: sent %llu %s in %.1f s (%.0f/s)\n", static_cast<unsigned long long>(sent),
              what, took, static_cast<double>(sent) / took);
}

// Every global address of the interface (the sources a replay rotates through).
std::vector<std::array<std::uint8_t, 16>> interface_addresses(const std::string& iface) {
  std::vector<std::array<std::uint8_t, 16>> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET6 || iface != a->ifa_name) {
      continue;
    }
    const auto* sa = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
    if (IN6_IS_ADDR_LINKLOCAL(&sa->sin6_addr)) continue;
    std::array<std::uint8_t, 16> addr{};
    std::memcpy(addr.data(), &sa->sin6_addr, 16);
    out.push_back(addr);
  }
  ::freeifaddrs(list);
  return out;
}

std::optional<p::SessionId> session_of(const p::Command& c) {
  return std::visit(
      [](const auto& v) -> std::optional<p::SessionId> {
        if constexpr (requires { v.session; }) {
          return v.session;
        } else {
          return std::nullopt;
        }
      },
      c);
}

// Records the ctrl group until an UPDATE of a second session, then replays what it recorded.
int replay(p::io::UdpSocket& ctrl, const std::string& iface, unsigned ifindex,
           const p::Endpoint& group, double seconds, std::size_t sessions, double rate) {
  std::vector<std::uint8_t> buffer(64 * p::kMaxDataDatagram);
  std::vector<std::string> recorded;
  std::vector<p::SessionId> seen;
  std::optional<p::SessionId> first;
  bool second = false;
  const auto give_up = Clock::now() + std::chrono::seconds(300);
  while (!second && Clock::now() < give_up) {
    pollfd fd{ctrl.fd(), POLLIN, 0};
    ::poll(&fd, 1, 100);
    for (const auto& r : ctrl.receive(buffer, p::kMaxDataDatagram)) {
      const std::string line(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size());
      auto parsed = p::parse_command(p::split_line_mac(line).signed_line);
      if (!parsed) continue;
      const auto session = session_of(parsed->command);
      if (std::holds_alternative<p::Update>(parsed->command)) {
        if (!first) first = session;
        if (std::find(seen.begin(), seen.end(), *session) == seen.end()) seen.push_back(*session);
        if (seen.size() > sessions) second = true;
      }
      if (!second && recorded.size() < 65536 &&
          std::find(recorded.begin(), recorded.end(), line) == recorded.end()) {
        recorded.push_back(line);
      }
    }
  }
  if (!second) {
    std::fprintf(stderr, "attacker: no second session announced within 300 s\n");
    return 1;
  }
  std::printf(
      "attacker: recorded %zu signed lines of %zu session(s) from %s on; replaying them "
      "%s\n",
      recorded.size(), sessions, p::text::hex64(first->value).c_str(),
      rate > 0 ? "in a cycle" : "every 50 ms");
  std::fflush(stdout);
  p::io::UdpSocket out(0, ifindex);
  out.set_multicast(16, false);
  if (rate > 0) {
    const auto sources = interface_addresses(iface);
    std::printf("attacker: from %zu source addresses at %.0f lines/s\n", sources.size(), rate);
    std::fflush(stdout);
    // A flood that fell behind (its 500 us sleeps overslept on a busy machine) catches up.
    paced(
        seconds, rate, "replayed lines",
        [&](std::uint64_t n) {
          return out.send_from(p::as_bytes(recorded[n % recorded.size()]), group,
                               sources[n % sources.size()]);
        },
        1024);
    return 0;
  }
  std::uint64_t sent = 0;
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  while (Clock::now() < end) {
    for (const auto& line : recorded) sent += out.send(p::as_bytes(line), group) ? 1u : 0u;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::printf("attacker: replayed %llu lines\n", static_cast<unsigned long long>(sent));
  return 0;
}

// NAK-shaped junk at the manager's reply address (see the top of this file).
int junk_feedback(const p::Update& u, const fleetcast::fec::BlockPlan& plan,
                  const std::vector<std::uint64_t>& key_ids, unsigned ifindex, double seconds,
                  double rate) {
  std::printf("attacker: UPDATE %s session %s: %.0f junk NAKs/s to the manager for %.0f s\n",
              u.name.c_str(), p::text::hex64(u.session.value).c_str(), rate, seconds);
  std::fflush(stdout);
  p::io::UdpSocket out(0, ifindex);
  std::mt19937_64 rng(std::random_device{}());
  std::array<std::uint8_t, 12 + 16 + 4 + 6 + 16 + 64> packet{};
  paced(seconds, rate, "junk NAKs", [&](std::uint64_t n) {
    for (auto& b : packet) b = static_cast<std::uint8_t>(rng());
    std::size_t i = 0;
    auto put = [&](std::uint64_t v, int bytes) { put_be(packet, i, v, bytes); };
    put(0x12, 1);  // version 1, NAK
    put(3, 1);
    put(u.file_id, 2);
    put(0, 4);              // complete prefix
    put(1 + rng() % 4, 4);  // round
    put(u.session.value, 8);
    put(!key_ids.empty() && n % 2 == 0 ? key_ids[rng() % key_ids.size()] : rng(), 8);
    put(rng() % 500, 2);  // loss
    put(1, 2);            // one entry
    put(rng() % plan.block_count(), 3);
    put(1 + rng() % 100, 1);
    put(1, 2);  // the rest: random MAC and signature
    return out.send(packet, u.reply);
  });
  return 0;
}

// Lines that name the manager's key with a wrong signature, to every host (see the top).
int forge_ctrl(const std::string& heard, const p::Endpoint& group, unsigned ifindex, double seconds,
               double rate) {
  const auto sig = heard.rfind(" sig=");
  const auto mac = heard.rfind(" mac=");  // fleet_key.hpp: random too
  if (sig == std::string::npos) return 1;
  std::printf("attacker: forging %.0f lines/s that name the manager's key for %.0f s\n", rate,
              seconds);
  std::fflush(stdout);
  p::io::UdpSocket out(0, ifindex);
  out.set_multicast(16, false);
  std::mt19937_64 rng(std::random_device{}());
  std::string line = heard;
  static constexpr char kHex[] = "0123456789abcdef";
  paced(seconds, rate, "forged lines", [&](std::uint64_t) {
    for (std::size_t i = sig + 5; i < sig + 5 + 2 * p::kSignatureBytes; ++i) {
      line[i] = kHex[rng() % 16];
    }
    for (std::size_t i = mac + 5; mac != std::string::npos && i < line.size(); ++i) {
      line[i] = kHex[rng() % 16];
    }
    return out.send(p::as_bytes(line), group);
  });
  return 0;
}

// Everything the data and ctrl groups carry, appended to `out` (see the top of this file).
int capture(p::io::UdpSocket& ctrl, const p::Update& u, unsigned ifindex, double seconds,
            const std::string& path) {
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) return 1;
  p::io::UdpSocket data(u.data.port, ifindex);
  data.set_buffer_sizes(16 << 20);
  data.join(u.data);
  std::printf("attacker: capturing the data group of %s for %.0f s\n", u.name.c_str(), seconds);
  std::fflush(stdout);
  std::vector<std::uint8_t> buffer(64 * p::kMaxDataDatagram);
  std::uint64_t packets = 0, bytes = 0;
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  while (Clock::now() < end) {
    pollfd fds[2] = {{ctrl.fd(), POLLIN, 0}, {data.fd(), POLLIN, 0}};
    ::poll(fds, 2, 100);
    for (auto* s : {&ctrl, &data}) {
      for (const auto& r : s->receive(buffer, p::kMaxDataDatagram)) {
        std::fwrite(r.bytes.data(), 1, r.bytes.size(), out);
        ++packets;
        bytes += r.bytes.size();
      }
    }
    std::fflush(out);
  }
  std::fclose(out);
  std::printf("attacker: captured %llu packets, %llu bytes\n",
              static_cast<unsigned long long>(packets), static_cast<unsigned long long>(bytes));
  return 0;
}

// A UDP socket whose datagrams leave with `source` as their source address, though this host
// does not own it (IPV6_TRANSPARENT needs CAP_NET_ADMIN, which a LAN attacker has at home).
int spoofing_socket(const std::array<std::uint8_t, 16>& source, unsigned ifindex) {
  const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  const int one = 1, zero = 0, hops = 16;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  std::copy(source.begin(), source.end(), a.sin6_addr.s6_addr);
  if (fd < 0 || ::setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof one) != 0 ||
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex) != 0 ||
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) != 0 ||
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof zero) != 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("attacker: spoofing socket");
    std::exit(1);
  }
  return fd;
}

bool send_to(int fd, std::span<const std::uint8_t> bytes, const p::Endpoint& to) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(to.port);
  std::copy(to.address.begin(), to.address.end(), a.sin6_addr.s6_addr);
  return ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) ==
         static_cast<ssize_t>(bytes.size());
}

// Forged lines and ROUNDs from the manager's own address (see the top of this file).
int spoof_manager(p::io::UdpSocket& ctrl, const p::Endpoint& group, const std::string& manager,
                  std::uint64_t manager_id, unsigned ifindex, double seconds, double rate) {
  const auto source = p::text::parse_address(manager, 0, "manager");
  if (!source) usage();
  const int fd = spoofing_socket(source->address, ifindex);
  // A well-formed announcement of a session that never was, signed by nobody.
  p::Update u;
  u.name = "forged.bin";
  u.size = 1000;
  u.file_id = 1;
  u.first_seq = 1;
  u.last_seq = 1;
  u.session.value = 0x5eed;
  u.version = 1;
  u.kind = "file";
  u.symbol_size = 1000;
  u.max_k = 1;
  u.data = p::text::parse_address("ff15::f1ee:2", 4711, "data").value();
  u.reply = p::text::parse_address(manager, 4712, "reply").value();
  u.targets = p::Targets::all();
  const std::string body = p::encode_unsigned(u).value() + " key=" + p::text::hex64(manager_id);
  std::printf("attacker: spoofing %s: %.0f forged packets/s for %.0f s\n", manager.c_str(), rate,
              seconds);
  std::fflush(stdout);
  std::mt19937_64 rng(std::random_device{}());
  std::vector<std::uint8_t> buffer(64 * p::kMaxDataDatagram);
  std::optional<p::Update> heard;
  std::uint64_t rounds = 0;
  std::array<std::uint8_t, 12 + 16 + 4 + 16 + 64> round{};  // header, trailer head, body, MAC, sig
  static constexpr char kHex[] = "0123456789abcdef";
  paced(seconds, rate, "spoofed packets", [&](std::uint64_t n) {
    for (int batch = 0; n % 64 == 0 && batch < 16; ++batch) {  // listen for the real session
      const auto got = ctrl.receive(buffer, p::kMaxDataDatagram);
      for (const auto& r : got) {
        auto parsed = p::parse_command(
            p::split_line_mac(
                std::string_view(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size()))
                .signed_line);
        if (parsed && std::holds_alternative<p::Update>(parsed->command) &&
            parsed->signer.value == manager_id &&
            (!heard || heard->session != std::get<p::Update>(parsed->command).session)) {
          heard = std::get<p::Update>(parsed->command);
          std::printf("attacker: heard session %s: forging its ROUNDs too\n",
                      p::text::hex64(heard->session.value).c_str());
          std::fflush(stdout);
        }
      }
      if (got.empty()) break;
    }
    if (heard && n % 2 == 1) {
      for (auto& b : round) b = static_cast<std::uint8_t>(rng());
      std::size_t i = 0;
      auto put = [&](std::uint64_t v, int bytes) { put_be(round, i, v, bytes); };
      put(0x15, 1);  // version 1, ROUND
      put(3, 1);
      put(heard->file_id, 2);
      put(0, 4);
      put(100 + rounds++, 4);  // a round ahead of the real ones
      put(heard->session.value, 8);
      put(manager_id, 8);
      put(500, 4);  // NAK window; the rest: random MAC and signature
      return send_to(fd, round, heard->data);
    }
    std::string line = body + " sig=";
    for (int k = 0; k < 128; ++k) line += kHex[rng() % 16];
    return send_to(fd, p::as_bytes(line), group);
  });
  std::printf("attacker: %llu forged ROUNDs among them\n", static_cast<unsigned long long>(rounds));
  ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage();
  const std::string mode = argv[1];
  if (mode != "spray-data" && mode != "replay" && mode != "junk-feedback" && mode != "forge-ctrl" &&
      mode != "capture" && mode != "spoof-manager") {
    usage();
  }
  std::string iface, ctrl_group = "ff15::f1ee:1";
  double seconds = 0, rate = 0;
  std::uint16_t ctrl_port = 4710;
  std::vector<std::uint64_t> key_ids;
  std::string out_path, manager;
  std::size_t sessions = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string opt = argv[i], val = argv[i + 1];
    if (opt == "--iface") {
      iface = val;
    } else if (opt == "--seconds") {
      seconds = std::atof(val.c_str());
    } else if (opt == "--rate") {
      rate = std::atof(val.c_str());
    } else if (opt == "--ctrl-group") {
      ctrl_group = val;
    } else if (opt == "--key-ids") {
      for (const auto& hex : p::text::split(val, ',')) {
        std::uint64_t id = 0;
        if (!p::text::unhex64(hex, id)) usage();
        key_ids.push_back(id);
      }
    } else if (opt == "--manager") {
      manager = val;
    } else if (opt == "--sessions") {
      sessions = static_cast<std::size_t>(std::atoi(val.c_str()));
    } else if (opt == "--out") {
      out_path = val;
    } else if (opt == "--ctrl-port") {
      ctrl_port = static_cast<std::uint16_t>(std::atoi(val.c_str()));
    } else {
      usage();
    }
  }
  if (iface.empty() || !(seconds > 0 && seconds <= 600)) usage();
  if (mode != "replay" && mode != "capture" && !(rate > 0 && rate <= 1e6)) usage();
  if (sessions < 1 || rate < 0 || rate > 1e6) usage();
  if (mode == "capture" && out_path.empty()) usage();
  const unsigned ifindex = p::io::interface_index(iface);
  p::io::UdpSocket ctrl(ctrl_port, ifindex);
  const auto group = p::text::parse_address(ctrl_group, ctrl_port, "ctrl").value();
  ctrl.join(group);
  if (mode == "replay") return replay(ctrl, iface, ifindex, group, seconds, sessions, rate);
  if (mode == "spoof-manager") {
    if (manager.empty() || key_ids.size() != 1) usage();
    return spoof_manager(ctrl, group, manager, key_ids[0], ifindex, seconds, rate);
  }
  std::vector<std::uint8_t> buffer(64 * p::kMaxDataDatagram);

  // The first UPDATE heard (within 60 s).
  std::optional<p::Update> update;
  std::string heard;
  const auto give_up = Clock::now() + std::chrono::seconds(60);
  while (!update && Clock::now() < give_up) {
    pollfd fd{ctrl.fd(), POLLIN, 0};
    ::poll(&fd, 1, 100);
    for (const auto& r : ctrl.receive(buffer, p::kMaxDataDatagram)) {
      const std::string_view line(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size());
      auto parsed = p::parse_command(p::split_line_mac(line).signed_line);
      if (parsed && std::holds_alternative<p::Update>(parsed->command)) {
        update = std::get<p::Update>(parsed->command);
        heard = std::string(line);
      }
    }
  }
  if (!update) {
    std::fprintf(stderr, "attacker: no UPDATE heard within 60 s\n");
    return 1;
  }
  const auto plan =
      fleetcast::fec::BlockPlan::make(update->size, update->symbol_size, update->max_k).value();
  if (mode == "junk-feedback") return junk_feedback(*update, plan, key_ids, ifindex, seconds, rate);
  if (mode == "forge-ctrl") return forge_ctrl(heard, group, ifindex, seconds, rate);
  if (mode == "capture") return capture(ctrl, *update, ifindex, seconds, out_path);
  std::printf("attacker: UPDATE %s file-id %u, %u blocks: spraying %.0f forged DATA/s for %.0f s\n",
              update->name.c_str(), update->file_id, plan.block_count(), rate, seconds);
  std::fflush(stdout);

  p::io::UdpSocket out(0, ifindex);
  out.set_multicast(16, false);
  std::mt19937_64 rng(std::random_device{}());
  std::vector<std::uint8_t> symbol(update->symbol_size);
  std::vector<std::uint8_t> packet(p::kMaxDataDatagram);
  paced(seconds, rate, "forged packets", [&](std::uint64_t) {
    const auto sbn = static_cast<std::uint32_t>(rng() % plan.block_count());
    const auto esi = static_cast<std::uint8_t>(rng() % plan.source_symbols(sbn));
    for (auto& b : symbol) b = static_cast<std::uint8_t>(rng());
    const std::size_t n =
        p::encode_symbol(p::SymbolPacket{false, update->file_id, static_cast<std::uint32_t>(rng()),
                                         sbn, esi, symbol},
                         packet);
    return n > 0 && out.send(std::span(packet.data(), n), update->data);
  });
  return 0;
}
