#include "receiver/relay/site_repair.hpp"

#include <algorithm>

#include "protocol/constants.hpp"
#include "protocol/data.hpp"
#include "sender/delivery/repair_planner.hpp"
#include "sender/delivery/session.hpp"

namespace fleetcast::receiver {
namespace p = protocol;

namespace {

fec::BlockPlan plan_of(const p::Update& u) {
  auto plan = fec::BlockPlan::make(u.size, u.symbol_size, u.max_k);
  if (!plan) throw SiteRepairError("the announcement's block plan is not valid");
  return *plan;
}

std::shared_ptr<const p::io::InputFile> open_checked(const p::Update& u,
                                                     const std::filesystem::path& path) {
  auto file = p::io::InputFile::open(path);
  if (file->size() != u.size) {
    throw SiteRepairError(path.string() + ": " + std::to_string(file->size()) +
                          " bytes, the announcement says " + std::to_string(u.size));
  }
  return file;
}

}  // namespace

SiteRepair::SiteRepair(const p::Update& u, const std::filesystem::path& file,
                       std::vector<WindowRoots> roots, std::uint64_t lan_rate)
    : update_(u),
      plan_(plan_of(u)),
      file_(open_checked(u, file)),
      auth_(plan_, *file_),
      roots_(std::move(roots)),
      layout_(plan_, *file_, u.file_id),
      pacer_(lan_rate, 16 * (p::kMaxDataDatagram + sender::kWireOverhead)),
      packet_(p::kMaxDataDatagram) {
  if (auth_.digest() != u.digest) {
    throw SiteRepairError(file.string() + ": does not hash to the digest the manager signed");
  }
  constexpr std::uint8_t kAll = (1u << p::kAuthChunksPerBlock) - 1;
  if (roots_.size() != auth_.windows()) throw SiteRepairError("the roots are of another file");
  for (std::uint32_t w = 0; w < auth_.windows(); ++w) {
    if (roots_[w].held != kAll || roots_[w].datagram.empty()) {
      throw SiteRepairError("the manager's roots of window " + std::to_string(w) +
                            " did not all come");
    }
    if (roots_[w].roots != auth_.roots(w, sender::DataAuth::kAllChunks).roots) {
      throw SiteRepairError(file.string() + ": window " + std::to_string(w) +
                            " does not hash to the roots the manager signed");
    }
  }
  layout_.authenticate_with(&auth_);
  layout_.send_roots_with(
      [this](std::uint32_t window, std::uint8_t, std::span<std::uint8_t> out) -> std::size_t {
        const auto& d = roots_[window].datagram;
        if (d.size() > out.size()) return 0;
        std::copy(d.begin(), d.end(), out.begin());
        return d.size();
      },
      p::kWindowRootsDatagram);
  layout_.start_parity_halfway();
}

bool SiteRepair::on_nak(std::span<const std::uint8_t> datagram, Clock::time_point now) {
  auto parsed = p::parse_data_packet(datagram);
  const auto* fb = parsed ? std::get_if<p::SignedFeedback>(&parsed.value()) : nullptr;
  const auto* nak = fb ? std::get_if<p::Nak>(&fb->feedback) : nullptr;
  if (nak == nullptr || nak->file_id != update_.file_id) return false;
  HostNeeds& h = needs_[fb->signer];
  if (nak->round < h.round || (nak->round == h.round && h.planned)) return true;  // repaired
  if (nak->round > h.round) h = HostNeeds{nak->round, false, {}};
  h.entries.insert(h.entries.end(), nak->entries.begin(), nak->entries.end());
  for (const p::ChunkRequest& r : nak->chunk_requests) {
    if (r.block >= plan_.block_count()) continue;
    for (std::uint8_t c = 0; c < p::kAuthChunksPerBlock; ++c) {
      if (r.chunks & (1u << c)) chunks_.emplace_back(r.block, c);
    }
  }
  loss_ = std::max(loss_, static_cast<double>(nak->loss) / p::kLossScale);
  ++stats_.naks;
  plan_at_ = std::min(plan_at_, now + kGather);
  return true;
}

void SiteRepair::start_round() {
  std::vector<std::vector<p::NakEntry>> needs;
  for (auto& [key, h] : needs_) {
    if (h.planned || h.entries.empty()) continue;
    std::sort(h.entries.begin(), h.entries.end(),
              [](const auto& a, const auto& b) { return a.first_block < b.first_block; });
    needs.push_back(std::move(h.entries));
    h.entries.clear();
    h.planned = true;
  }
  const auto packets = sender::plan_repair(sender::RepairInput{&plan_, needs, loss_, 1});
  const double worst[] = {loss_};  // the worst its hosts measured
  layout_.set_auth_copies(sender::auth_copies(worst));
  layout_.set_roots_copies(sender::roots_copies(worst));
  layout_.lay_out(packets, sender::kWireOverhead, chunks_);
  chunks_.clear();
  plan_at_ = Clock::time_point::max();
  sending_ = true;
  ++stats_.rounds;
}

void SiteRepair::tick(Clock::time_point now, p::Transport& lan) {
  if (!sending_ && now >= plan_at_) start_round();
  while (sending_) {
    if (pending_ == 0) {
      if (pacer_.available(now) < p::kMaxDataDatagram + sender::kWireOverhead) return;
      const auto built = layout_.build_next(sequence_, packet_);
      if (!built) {
        sending_ = false;
        return;
      }
      if (built->kind != sender::PacketKind::table && built->kind != sender::PacketKind::roots) {
        ++sequence_;
      }
      pending_ = built->bytes;
    }
    const p::Datagram d{std::span(packet_).first(pending_), update_.data};
    if (lan.send({&d, 1}) == 0) return;  // a full socket buffer: the same packet next time
    pacer_.consume(pending_ + sender::kWireOverhead);
    ++stats_.packets;
    stats_.bytes += pending_;
    pending_ = 0;
  }
}

Clock::time_point SiteRepair::next_wakeup(Clock::time_point now) const {
  if (!sending_) return std::max(now, plan_at_);
  if (pending_ != 0) return now + std::chrono::milliseconds(1);  // the socket buffer was full
  return pacer_.ready_at(p::kMaxDataDatagram + sender::kWireOverhead, now);
}

}  // namespace fleetcast::receiver
