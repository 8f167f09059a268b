#include "protocol/data.hpp"

#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cmath>

#include "protocol/data_auth.hpp"
#include "protocol/wire.hpp"

namespace fleetcast::protocol {
namespace {

constexpr std::size_t kTrailerHead = kSessionIdBytes + kKeyIdBytes;

struct Header {
  PacketType type;
  std::uint16_t file_id;
  std::uint32_t sequence;
  std::uint32_t fec_info;
};

void write_header(ByteWriter& w, const Header& h) {
  w.u8(static_cast<std::uint8_t>(kWireVersion << 4 | static_cast<std::uint8_t>(h.type)));
  w.u8(kHeaderWords);
  w.u16(h.file_id);
  w.u32(h.sequence);
  w.u32(h.fec_info);
}

Header header_of(const Feedback& f) {
  return std::visit(
      [](const auto& v) -> Header {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Complete>) return {PacketType::complete, v.file_id, 0, 0};
        if constexpr (std::is_same_v<T, Nak>) {
          return {PacketType::nak, v.file_id, v.complete_prefix, v.round};
        }
        if constexpr (std::is_same_v<T, CompleteAck>) {
          return {PacketType::complete_ack, v.file_id, 0, 0};
        }
        if constexpr (std::is_same_v<T, Round>) {
          return {PacketType::round, v.file_id, v.next_sequence, v.round};
        }
        if constexpr (std::is_same_v<T, MixedTable>) {
          return {PacketType::mixed_table, v.file_id, 0, v.round};
        }
        if constexpr (std::is_same_v<T, Probe>) {
          return {PacketType::probe, v.file_id, v.next_sequence, v.probe};
        }
        if constexpr (std::is_same_v<T, LossReport>) {
          return {PacketType::loss_report, v.file_id, v.sequence, v.probe};
        }
        if constexpr (std::is_same_v<T, Roots>) return {PacketType::roots, v.file_id, 0, 0};
      },
      f);
}

// Bodies. Each writer returns false on a value it cannot encode.
bool write_body(ByteWriter& w, const Complete& c) {
  w.bytes(c.digest);
  return true;
}
bool write_body(ByteWriter& w, const Nak& n) {
  if ((n.entries.empty() && n.chunk_requests.empty()) || n.entries.size() > kMaxNakEntries ||
      n.chunk_requests.size() > kMaxNakChunkRequests || n.loss > kLossScale) {
    return false;
  }
  w.u16(n.loss);
  w.u16(static_cast<std::uint16_t>(n.entries.size()));
  std::uint64_t floor = 0;
  for (const NakEntry& e : n.entries) {
    if (e.first_block < floor || e.first_block > kMaxSbn || e.need == 0 || e.run == 0 ||
        std::uint64_t{e.first_block} + e.run - 1 > kMaxSbn) {
      return false;
    }
    floor = std::uint64_t{e.first_block} + e.run;
    w.u24(e.first_block);
    w.u8(e.need);
    w.u16(e.run);
  }
  if (n.chunk_requests.empty()) return true;
  w.u8(static_cast<std::uint8_t>(n.chunk_requests.size()));
  std::int64_t last = -1;
  for (const ChunkRequest& c : n.chunk_requests) {
    if (c.block > kMaxSbn || std::int64_t{c.block} <= last || c.chunks == 0 ||
        c.chunks >= (1u << kAuthChunksPerBlock)) {
      return false;
    }
    last = c.block;
    w.u24(c.block);
    w.u8(c.chunks);
  }
  return true;
}
bool write_body(ByteWriter& w, const CompleteAck& a) {
  if (a.hosts.empty() || a.hosts.size() > kMaxAckedHosts) return false;
  w.u16(static_cast<std::uint16_t>(a.hosts.size()));
  for (const KeyId& k : a.hosts) w.u64(k.value);
  return true;
}
bool write_body(ByteWriter& w, const Round& r) {
  w.u32(r.nak_window_ms);
  return true;
}
bool write_body(ByteWriter& w, const MixedTable& t) {
  if (t.hashes.empty() || t.hashes.size() > kMaxMixedTableHashes) return false;
  w.u16(static_cast<std::uint16_t>(t.hashes.size()));
  for (const auto& h : t.hashes) w.bytes(h);
  return true;
}

bool write_body(ByteWriter& w, const Roots& r) {
  if (r.window > kMaxSbn || r.chunks == 0 || r.chunks >= (1u << kAuthChunksPerBlock) ||
      r.roots.size() != static_cast<std::size_t>(std::popcount(r.chunks))) {
    return false;
  }
  w.u24(r.window);
  w.u8(r.chunks);
  for (const Digest& d : r.roots) w.bytes(d);
  return true;
}

bool write_body(ByteWriter& w, const Probe& p) {
  if (p.threshold > kLossScale) return false;
  w.u32(p.rate_kbit);
  w.u16(p.threshold);
  w.u64(p.limiting.value);
  w.u16(p.report_window_ms);
  w.u8(p.quiet);
  return true;
}
bool write_body(ByteWriter& w, const LossReport& l) {
  if (l.loss > kLossScale || l.received > l.expected || l.since >= l.probe ||
      l.backlog > kLossScale) {
    return false;
  }
  w.u16(l.loss);
  w.u32(l.expected);
  w.u32(l.received);
  w.u32(l.since);
  w.u16(l.backlog);
  w.u32(l.elapsed_ms);
  return true;
}

// A NAK's runs (ascending, not overlapping, inside the SBN range), then its AUTH chunk
// requests (ascending blocks); at least one of the two.
Result<Feedback> read_nak(ByteReader& r, const Header& h) {
  Nak n{h.file_id, h.sequence, h.fec_info, {}, 0};
  n.loss = r.u16();
  if (n.loss > kLossScale) return Failure{Error::out_of_range, "nak loss"};
  const std::uint16_t count = r.u16();
  if (count > kMaxNakEntries) return Failure{Error::out_of_range, "nak count"};
  std::uint64_t floor = 0;
  for (std::uint16_t i = 0; i < count && r.ok(); ++i) {
    NakEntry e;
    e.first_block = r.u24();
    e.need = r.u8();
    e.run = r.u16();
    if (!r.ok()) break;
    if (e.need == 0 || e.run == 0) return Failure{Error::out_of_range, "nak entry"};
    if (e.first_block < floor || std::uint64_t{e.first_block} + e.run - 1 > kMaxSbn) {
      return Failure{Error::inconsistent, "nak entry"};
    }
    floor = std::uint64_t{e.first_block} + e.run;
    n.entries.push_back(e);
  }
  if (r.ok() && r.remaining() > 0) {
    const std::uint8_t requests = r.u8();
    if (requests == 0 || requests > kMaxNakChunkRequests) {
      return Failure{Error::out_of_range, "nak chunk requests"};
    }
    std::int64_t last = -1;
    for (std::uint8_t i = 0; i < requests && r.ok(); ++i) {
      ChunkRequest c{r.u24(), r.u8()};
      if (!r.ok()) break;
      if (std::int64_t{c.block} <= last || c.chunks == 0 ||
          c.chunks >= (1u << kAuthChunksPerBlock)) {
        return Failure{Error::inconsistent, "nak chunk request"};
      }
      last = c.block;
      n.chunk_requests.push_back(c);
    }
  }
  if (n.entries.empty() && n.chunk_requests.empty()) {
    return Failure{Error::out_of_range, "nak count"};
  }
  return Feedback(std::move(n));
}

Result<Feedback> read_roots(ByteReader& r, const Header& h) {
  if (h.sequence != 0 || h.fec_info != 0) return Failure{Error::inconsistent, "header"};
  Roots t{h.file_id, r.u24(), r.u8(), {}};
  if (t.chunks == 0 || t.chunks >= (1u << kAuthChunksPerBlock)) {
    return Failure{Error::out_of_range, "roots chunks"};
  }
  t.roots.resize(static_cast<std::size_t>(std::popcount(t.chunks)));
  for (Digest& d : t.roots) r.bytes(d);
  return Feedback(std::move(t));
}

Result<Feedback> read_body(ByteReader& r, const Header& h) {
  switch (h.type) {
    case PacketType::complete: {
      if (h.sequence != 0 || h.fec_info != 0) return Failure{Error::inconsistent, "header"};
      Complete c{h.file_id, {}};
      r.bytes(c.digest);
      return Feedback(c);
    }
    case PacketType::nak:
      return read_nak(r, h);
    case PacketType::complete_ack: {
      if (h.sequence != 0 || h.fec_info != 0) return Failure{Error::inconsistent, "header"};
      CompleteAck a{h.file_id, {}};
      const std::uint16_t count = r.u16();
      if (count == 0 || count > kMaxAckedHosts) return Failure{Error::out_of_range, "ack count"};
      for (std::uint16_t i = 0; i < count && r.ok(); ++i) a.hosts.push_back(KeyId{r.u64()});
      return Feedback(std::move(a));
    }
    case PacketType::round: {
      Round rd{h.file_id, h.fec_info, h.sequence, 0};
      rd.nak_window_ms = r.u32();
      return Feedback(rd);
    }
    case PacketType::mixed_table: {
      if (h.sequence != 0) return Failure{Error::inconsistent, "header"};
      MixedTable t{h.file_id, h.fec_info, {}};
      const std::uint16_t count = r.u16();
      if (count == 0 || count > kMaxMixedTableHashes) {
        return Failure{Error::out_of_range, "mixed table count"};
      }
      for (std::uint16_t i = 0; i < count && r.ok(); ++i) {
        std::array<std::uint8_t, 16> hash{};
        r.bytes(hash);
        t.hashes.push_back(hash);
      }
      return Feedback(std::move(t));
    }
    case PacketType::probe: {
      Probe p;
      p.file_id = h.file_id;
      p.probe = h.fec_info;
      p.next_sequence = h.sequence;
      p.rate_kbit = r.u32();
      p.threshold = r.u16();
      p.limiting.value = r.u64();
      p.report_window_ms = r.u16();
      p.quiet = r.u8();
      if (p.threshold > kLossScale) return Failure{Error::out_of_range, "probe threshold"};
      return Feedback(p);
    }
    case PacketType::roots:
      return read_roots(r, h);
    case PacketType::loss_report: {
      LossReport l;
      l.file_id = h.file_id;
      l.probe = h.fec_info;
      l.sequence = h.sequence;
      l.loss = r.u16();
      l.expected = r.u32();
      l.received = r.u32();
      l.since = r.u32();
      l.backlog = r.u16();
      l.elapsed_ms = r.u32();
      if (l.loss > kLossScale || l.received > l.expected || l.since >= l.probe ||
          l.backlog > kLossScale) {
        return Failure{Error::out_of_range, "loss report"};
      }
      return Feedback(l);
    }
    default:
      return Failure{Error::bad_type, "type"};
  }
}

// The rest of a symbol or MIXED packet: the symbol, kMinSymbolSize..kMaxSymbolSize bytes.
Result<std::span<const std::uint8_t>> read_symbol(ByteReader& r) {
  const auto payload = r.view(r.remaining());
  if (payload.size() < kMinSymbolSize) return Failure{Error::truncated, "symbol"};
  if (payload.size() > kMaxSymbolSize) return Failure{Error::too_long, "symbol"};
  return payload;
}

}  // namespace

std::size_t encode_symbol(const SymbolPacket& p, std::span<std::uint8_t> out) {
  if (p.sbn > kMaxSbn || p.payload.size() < kMinSymbolSize || p.payload.size() > kMaxSymbolSize) {
    return 0;
  }
  ByteWriter w(out);
  write_header(w, {p.parity ? PacketType::parity : PacketType::data, p.file_id, p.sequence,
                   pack_fec_info(p.sbn, p.esi)});
  w.bytes(p.payload);
  return w.ok() ? w.size() : 0;
}

std::size_t encode_mixed(const MixedPacket& p, std::span<std::uint8_t> out) {
  if (p.count < 2 || p.count > kMaxMixedParts || p.payload.size() < kMinSymbolSize ||
      p.payload.size() > kMaxSymbolSize) {
    return 0;
  }
  for (std::size_t i = 0; i < p.count; ++i) {
    if (p.parts[i].sbn > kMaxSbn || (i > 0 && p.parts[i].sbn <= p.parts[i - 1].sbn)) return 0;
  }
  ByteWriter w(out);
  write_header(
      w, {PacketType::mixed, p.file_id, p.sequence, pack_fec_info(p.parts[0].sbn, p.parts[0].esi)});
  w.u8(p.count);
  for (std::size_t i = 1; i < p.count; ++i) {
    w.u24(p.parts[i].sbn);
    w.u8(p.parts[i].esi);
  }
  w.bytes(p.payload);
  return w.ok() ? w.size() : 0;
}

std::size_t encode_auth(const AuthPacket& p, std::span<std::uint8_t> out) {
  const std::size_t depth = p.path.size() / kSymbolHashBytes;
  if (p.sbn > kMaxSbn || p.chunk >= kAuthChunksPerBlock ||
      p.hashes.size() != kAuthChunkSymbols * kSymbolHashBytes ||
      p.path.size() % kSymbolHashBytes != 0 || depth > kMaxAuthDepth) {
    return 0;
  }
  ByteWriter w(out);
  write_header(w, {PacketType::auth, p.file_id, p.sequence, pack_fec_info(p.sbn, p.chunk)});
  w.u8(static_cast<std::uint8_t>(depth));
  w.bytes(p.hashes);
  w.bytes(p.path);
  return w.ok() ? w.size() : 0;
}

std::array<std::uint8_t, 16> mixed_hash(const MixedPacket& packet) {
  crypto_generichash_state st;
  std::array<std::uint8_t, 16> out{};
  crypto_generichash_init(&st, nullptr, 0, out.size());
  const std::uint8_t tag = 0x04;
  crypto_generichash_update(&st, &tag, 1);
  for (const SymbolId& id : packet.ids()) {
    const std::uint8_t part[] = {static_cast<std::uint8_t>(id.sbn >> 16),
                                 static_cast<std::uint8_t>(id.sbn >> 8),
                                 static_cast<std::uint8_t>(id.sbn), id.esi};
    crypto_generichash_update(&st, part, sizeof part);
  }
  crypto_generichash_update(&st, packet.payload.data(), packet.payload.size());
  crypto_generichash_final(&st, out.data(), out.size());
  return out;
}

namespace {

std::array<std::uint8_t, kFeedbackMacBytes> mac_of(std::span<const std::uint8_t> bytes,
                                                   const MacKey& key) {
  std::array<std::uint8_t, kFeedbackMacBytes> out{};
  crypto_generichash(out.data(), out.size(), bytes.data(), bytes.size(), key.bytes.data(),
                     key.bytes.size());
  return out;
}

}  // namespace

Result<std::size_t> encode_feedback(const Feedback& feedback, SessionId session,
                                    const SecretKey& key, std::span<std::uint8_t> out,
                                    const MacKey& mac) {
  if (out.size() > kMaxControlDatagram) out = out.first(kMaxControlDatagram);
  ByteWriter w(out);
  write_header(w, header_of(feedback));
  w.u64(session.value);
  w.u64(key.key_id().value);
  if (!std::visit([&](const auto& f) { return write_body(w, f); }, feedback)) {
    return Failure{Error::out_of_range, "body"};
  }
  if (!w.ok()) return Failure{Error::too_long, "body"};
  w.bytes(mac_of(w.written(), mac));
  if (!w.ok()) return Failure{Error::too_long, "mac"};
  const Signature sig = sign(key, kDataSignDomain, w.written());
  w.bytes(sig);
  if (!w.ok()) return Failure{Error::too_long, "signature"};
  return w.size();
}

namespace {

// The rest of a MIXED packet: its other parts (ascending blocks), then the sum of the symbols.
Result<DataPacket> read_mixed(ByteReader& r, const Header& h) {
  MixedPacket p;
  p.file_id = h.file_id;
  p.sequence = h.sequence;
  p.parts[0] = SymbolId{h.fec_info >> 8, static_cast<std::uint8_t>(h.fec_info & 0xff)};
  p.count = r.u8();
  if (!r.ok()) return Failure{Error::truncated, "mixed"};
  if (p.count < 2 || p.count > kMaxMixedParts) return Failure{Error::out_of_range, "mixed count"};
  for (std::size_t i = 1; i < p.count; ++i) {
    p.parts[i].sbn = r.u24();
    p.parts[i].esi = r.u8();
    if (r.ok() && p.parts[i].sbn <= p.parts[i - 1].sbn) {
      return Failure{Error::inconsistent, "mixed parts"};
    }
  }
  if (!r.ok()) return Failure{Error::truncated, "mixed"};
  auto payload = read_symbol(r);
  if (!payload) return payload.failure();
  p.payload = payload.value();
  return DataPacket(p);
}

// The rest of an AUTH packet: the chunk's symbol hashes and its path to the signed root.
Result<DataPacket> read_auth(ByteReader& r, const Header& h) {
  AuthPacket p;
  p.file_id = h.file_id;
  p.sequence = h.sequence;
  p.sbn = h.fec_info >> 8;
  p.chunk = static_cast<std::uint8_t>(h.fec_info & 0xff);
  if (p.chunk >= kAuthChunksPerBlock) return Failure{Error::out_of_range, "auth chunk"};
  const std::uint8_t depth = r.u8();
  if (!r.ok()) return Failure{Error::truncated, "auth"};
  if (depth > kMaxAuthDepth) return Failure{Error::out_of_range, "auth depth"};
  p.hashes = r.view(kAuthChunkSymbols * kSymbolHashBytes);
  p.path = r.view(std::size_t{depth} * kSymbolHashBytes);
  if (!r.ok()) return Failure{Error::truncated, "auth"};
  if (r.remaining() != 0) return Failure{Error::bad_length, "auth"};
  return DataPacket(p);
}

// The rest of a feedback packet: session and signer, the body (read_body), the MAC and the
// signature.
Result<DataPacket> read_feedback(ByteReader& r, const Header& h,
                                 std::span<const std::uint8_t> datagram) {
  if (datagram.size() > kMaxControlDatagram) return Failure{Error::too_long, "feedback"};
  if (datagram.size() < kHeaderBytes + kTrailerHead + kFeedbackMacBytes + kSignatureBytes) {
    return Failure{Error::truncated, "feedback"};
  }
  SignedFeedback out;
  out.session.value = r.u64();
  out.signer.value = r.u64();
  // The body ends where the MAC begins: a bounded view.
  constexpr std::size_t tail = kFeedbackMacBytes + kSignatureBytes;
  const std::size_t body_size = r.remaining() - tail;
  ByteReader body(r.view(body_size));
  auto feedback = read_body(body, h);
  if (!feedback) return feedback.failure();
  if (!body.ok()) return Failure{Error::truncated, "body"};
  if (body.remaining() != 0) return Failure{Error::bad_length, "body"};
  out.maced_bytes = datagram.first(datagram.size() - tail);
  r.bytes(out.mac);
  r.bytes(out.signature);
  out.feedback = std::move(feedback.value());
  out.signed_bytes = datagram.first(datagram.size() - kSignatureBytes);
  return DataPacket(std::move(out));
}

}  // namespace

Result<DataPacket> parse_data_packet(std::span<const std::uint8_t> datagram) {
  ByteReader r(datagram);
  const std::uint8_t vt = r.u8();
  const std::uint8_t words = r.u8();
  Header h{static_cast<PacketType>(vt & 0x0f), r.u16(), r.u32(), r.u32()};
  if (!r.ok()) return Failure{Error::truncated, "header"};
  if ((vt >> 4) != kWireVersion) return Failure{Error::bad_version, "header"};
  if (words != kHeaderWords) return Failure{Error::bad_length, "header"};
  if (datagram.size() > kMaxDataDatagram) return Failure{Error::too_long, "datagram"};

  if (h.type == PacketType::data || h.type == PacketType::parity) {
    SymbolPacket p;
    p.parity = h.type == PacketType::parity;
    p.file_id = h.file_id;
    p.sequence = h.sequence;
    p.sbn = h.fec_info >> 8;
    p.esi = static_cast<std::uint8_t>(h.fec_info & 0xff);
    auto payload = read_symbol(r);
    if (!payload) return payload.failure();
    p.payload = payload.value();
    return DataPacket(p);
  }
  if (h.type == PacketType::mixed) return read_mixed(r, h);
  if (h.type == PacketType::auth) return read_auth(r, h);
  return read_feedback(r, h, datagram);
}

bool check_mac(const SignedFeedback& feedback, const MacKey& key) {
  if (feedback.maced_bytes.empty()) return false;
  const auto expected = mac_of(feedback.maced_bytes, key);
  return sodium_memcmp(expected.data(), feedback.mac.data(), expected.size()) == 0;
}

bool verify_feedback(const SignedFeedback& feedback, const PublicKey& key) {
  return key_id(key) == feedback.signer &&
         verify(key, kDataSignDomain, feedback.signed_bytes, feedback.signature);
}

std::int32_t loss_noise(double z, std::int32_t loss, std::uint32_t packets, std::int32_t least) {
  const double share = static_cast<double>(loss) / kLossScale;
  const double sigma = std::sqrt(share * (1 - share) / std::max(1.0, static_cast<double>(packets)));
  return std::max(least, static_cast<std::int32_t>(z * sigma * kLossScale));
}

}  // namespace fleetcast::protocol
