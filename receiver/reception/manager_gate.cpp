#include "receiver/reception/manager_gate.hpp"

#include "protocol/io/file.hpp"
#include "protocol/text.hpp"

namespace fleetcast::receiver {
namespace p = protocol;

ManagerGate::ManagerGate(const p::PublicKey& manager, const p::SecretKey& own,
                         std::filesystem::path state, Log log)
    : manager_(manager),
      manager_id_(p::key_id(manager)),
      own_id_(own.key_id()),
      state_(std::move(state)),
      log_(std::move(log)),
      mac_key_(p::feedback_mac_key(own, manager)),
      wrap_key_(p::fleet_wrap_key(own, manager)) {
  try {
    const auto bytes = p::io::read_file(fleet_key_path());
    std::string hex(bytes.begin(), bytes.end());
    while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
    p::MacKey k;
    if (p::text::unhex(hex, k.bytes)) fleet_ = k;
  } catch (const std::exception&) {
    // none kept yet
  }
}

std::filesystem::path ManagerGate::fleet_key_path() const {
  return state_ / ("fleet-" + p::text::hex64(manager_id_.value) + ".key");
}

void ManagerGate::on_keys(std::string_view line) {
  if (!wrap_key_) return;
  const auto k = p::open_keys_line(line, manager_id_, own_id_, *wrap_key_);
  if (!k || (fleet_ && fleet_->bytes == k->bytes)) return;  // not for us, forged, or known
  fleet_ = k;
  try {
    p::io::write_file_atomic(fleet_key_path(), p::as_bytes(p::text::hex(k->bytes) + "\n"), 0600);
  } catch (const std::exception& e) {
    log_(log::warning("FC2131", "fleet-key-not-kept").with("reason", e.what()));
  }
  // From now on lines and packets without its MAC are dropped unverified.
  log_(log::info("FC2130", "fleet-key-learned"));
}

bool ManagerGate::mac_ok(const p::MacedLine& line) const {
  return !fleet_ || p::line_mac_ok(line, *fleet_);
}

bool ManagerGate::mac_ok(const p::SignedFeedback& feedback) const {
  return !fleet_ || p::check_mac(feedback, *fleet_);
}

}  // namespace fleetcast::receiver
