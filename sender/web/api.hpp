#pragma once
// The web view's JSON (`/api/...`, documented in the man page) and `rollout status --format
// json`, which prints rollout_json: one shape for scripts, whichever way they ask.

#include <nlohmann/json.hpp>

#include "sender/web/model.hpp"

namespace fleetcast::sender::web {

// Times are ISO 8601 UTC ("2026-12-07T12:00:00Z"), "-" for never.
std::string when(std::int64_t seconds);

nlohmann::json rollout_json(const RolloutView& v);         // rollout status --format json
nlohmann::json rollout_model_json(const RolloutModel& m);  // + the waves' cells, the recap
nlohmann::json rollouts_json(const std::vector<RolloutSummary>& rollouts);
nlohmann::json hosts_json(const std::vector<FleetHost>& hosts);
nlohmann::json overview_json(const Overview& o);
nlohmann::json host_page_json(const HostPage& h);

}  // namespace fleetcast::sender::web
