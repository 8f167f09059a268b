// fleetcast-auth-bench: what authentication costs, per core, next to the unauthenticated path.
//
//   fleetcast-auth-bench [--mib N] [--seconds S]
//
// manager: the DataAuth hashing of round 0's chunks and of every chunk (parity encoded, every
//          symbol hashed, the Merkle trees; the file's digest beside them), MB/s of file bytes;
// host: per symbol, the hash check (AUTH) against an Ed25519 verification per packet (the
//          rejected alternative); per AUTH packet, its path check; per feedback packet, the MAC
//          check against the signature check.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fec/block_plan.hpp"
#include "fec/codec.hpp"
#include "protocol/bundle/crypt.hpp"
#include "protocol/data.hpp"
#include "protocol/data_auth.hpp"
#include "protocol/keys.hpp"
#include "protocol/signature.hpp"
#include "sender/delivery/data_auth.hpp"

namespace p = fleetcast::protocol;
using Clock = std::chrono::steady_clock;

namespace {

// Runs `f` until `seconds` passed (at least once); returns calls per second.
template <class F>
double rate(double seconds, F&& f) {
  const auto start = Clock::now();
  std::uint64_t n = 0;
  double took = 0;
  do {
    f();
    ++n;
    took = std::chrono::duration<double>(Clock::now() - start).count();
  } while (took < seconds);
  return static_cast<double>(n) / took;
}

// Host, per AUTH packet: the path check.
void bench_auth_path(const fleetcast::fec::BlockPlan& plan, const fleetcast::sender::DataAuth& auth,
                     double seconds, volatile std::uint8_t& sink) {
  std::vector<std::uint8_t> buf(p::kMaxControlDatagram);
  const std::size_t n = auth.build(plan.block_count() / 2, 1, 7, 1, buf);
  const auto parsed = p::parse_data_packet(std::span(buf.data(), n));
  const auto& a = std::get<p::AuthPacket>(parsed.value());
  std::array<p::SymbolHash, p::kAuthChunkSymbols> hs{};
  std::memcpy(hs.data(), a.hashes.data(), sizeof hs);
  std::vector<p::SymbolHash> path(a.path.size() / p::kSymbolHashBytes);
  std::memcpy(path.data(), a.path.data(), a.path.size());
  const std::uint32_t window = p::auth_window_of(a.sbn);
  const auto root = auth.roots(window, fleetcast::sender::DataAuth::kAllChunks).roots[a.chunk];
  const std::uint32_t leaves = p::auth_window_blocks(plan.block_count(), window);
  const double paths = rate(seconds, [&] {
    sink = sink ^
           static_cast<std::uint8_t>(p::verify_auth_path(root, leaves, a.sbn % p::kAuthWindowBlocks,
                                                         p::auth_leaf(a.sbn, a.chunk, hs), path));
  });
  std::printf("host: AUTH packet check (depth %zu) %.0f/s (%.2f us each)\n", path.size(), paths,
              1e6 / paths);
}

// Manager, per feedback packet: the MAC before the signature.
void bench_feedback(const p::SecretKey& manager, const p::SecretKey& host, double seconds,
                    volatile std::uint8_t& sink) {
  const auto mac = p::feedback_mac_key(host, manager.public_key()).value();
  std::array<std::uint8_t, p::kMaxControlDatagram> fbuf{};
  const auto fn = p::encode_feedback(p::Nak{7, 0, 1, {{2, 3, 1}}, 50}, {9}, host, fbuf, mac);
  const auto fparsed = p::parse_data_packet(std::span(fbuf.data(), fn.value()));
  const auto& fb = std::get<p::SignedFeedback>(fparsed.value());
  const double macs = rate(seconds, [&] { sink = sink ^ p::check_mac(fb, mac); });
  const double sigs =
      rate(seconds, [&] { sink = sink ^ p::verify_feedback(fb, host.public_key()); });
  std::printf("manager: feedback MAC check %.0f/s (%.2f us), signature check %.0f/s (%.1f us)\n",
              macs, 1e6 / macs, sigs, 1e6 / sigs);
}

// Encrypted bundles: the content once for the fleet, then per host. False when it does not
// decrypt.
bool bench_encryption(const std::vector<std::uint8_t>& file, const p::SecretKey& host) {
  const double mb = static_cast<double>(file.size()) / 1e6;
  std::vector<p::PublicKey> readers;
  for (int i = 0; i < 100; ++i) readers.push_back(p::SecretKey::generate().public_key());
  readers.push_back(host.public_key());
  auto t0 = Clock::now();
  const auto env = p::bundle::encrypt(file, readers);
  const double enc = std::chrono::duration<double>(Clock::now() - t0).count();
  t0 = Clock::now();
  const auto dec = p::bundle::decrypt(env, host);
  const double dcr = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf(
      "encrypted bundle for %zu hosts: encrypt %.0f MB/s, decrypt %.0f MB/s per core; "
      "%zu bytes more than the content (%.3f %%)\n",
      readers.size(), mb / enc, mb / dcr, env.size() - file.size(),
      100.0 * static_cast<double>(env.size() - file.size()) / static_cast<double>(file.size()));
  return dec.ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t mib = 64;
  double seconds = 1.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    if (opt == "--mib") mib = static_cast<std::size_t>(std::atoi(argv[i + 1]));
    if (opt == "--seconds") seconds = std::atof(argv[i + 1]);
  }
  if (mib < 1 || mib > 4096 || !(seconds > 0)) {
    std::fprintf(stderr, "usage: fleetcast-auth-bench [--mib 1-4096] [--seconds S]\n");
    return 2;
  }
  const std::size_t s = 1400, k = 128;
  std::vector<std::uint8_t> file(mib << 20);
  std::mt19937_64 rng(1);
  for (auto& b : file) b = static_cast<std::uint8_t>(rng());
  const auto plan = fleetcast::fec::BlockPlan::make(file.size(), s, k).value();
  file.resize(plan.symbol_count() * s, 0);
  const double mb = static_cast<double>(file.size()) / 1e6;

  // Manager, once per session.
  const auto input = fleetcast::protocol::io::InputFile::from_bytes(file);
  using fleetcast::sender::DataAuth;
  std::printf("file %zu MiB, S = %zu, k = %zu, %u blocks\n", mib, s, k, plan.block_count());
  // Round 0's chunks only (k + 5 % proactive parity: what a clean push hashes), then every
  // chunk (a session with sites, or one whose repair reaches ESI 254).
  const std::uint8_t round0 = DataAuth::chunks_below(k + (k * 5 + 99) / 100);
  for (const std::uint8_t chunks : {round0, DataAuth::kAllChunks}) {
    const auto t0 = Clock::now();
    const auto since = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
    const DataAuth auth(plan, *input, chunks);
    (void)auth.roots(0, chunks);
    const double first_window = since();
    (void)auth.digest();
    const double digest = since();
    auth.wait_all(chunks);
    const double all = since();
    std::printf(
        "manager: chunks %s: first window's roots %.3f s, the file's digest %.3f s, every window "
        "%.2f s = %.0f MB/s of file on %u cores (a session hashes %u windows ahead of what it "
        "sends, the digest beside them); AUTH datagram %zu bytes\n",
        chunks == round0 ? "of round 0 (0-2)" : "all (0-4)", first_window, digest, all, mb / all,
        std::max(std::thread::hardware_concurrency(), 1u), DataAuth::kLookahead,
        auth.datagram_bytes());
  }
  const DataAuth auth(plan, *input);
  auth.wait_all();

  // Host, per symbol: hashing vs an Ed25519 verification.
  const std::vector<std::uint8_t> sym(file.begin(), file.begin() + s);
  volatile std::uint8_t sink = 0;
  const double hashes = rate(seconds, [&] { sink = sink ^ p::symbol_hash(3, 7, sym)[0]; });
  const auto key = p::SecretKey::generate();
  const auto sig = key.sign(sym);
  const double ed25519 = rate(seconds, [&] {
    sink = sink ^ static_cast<std::uint8_t>(p::verify(key.public_key(), "x", sym, sig));
  });
  std::printf(
      "host: symbol check %.0f symbols/s = %.0f MB/s per core (%.2f us each); "
      "an Ed25519 verification per packet instead: %.0f/s = %.0f MB/s (%.1f us)\n",
      hashes, hashes * s / 1e6, 1e6 / hashes, ed25519, ed25519 * s / 1e6, 1e6 / ed25519);

  bench_auth_path(plan, auth, seconds, sink);
  const auto host = p::SecretKey::generate();
  bench_feedback(key, host, seconds, sink);
  const bool decrypts = bench_encryption(file, host);
  return sink == 255 || !decrypts ? 1 : 0;
}
