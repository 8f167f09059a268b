#pragma once
// `/metrics`: the Prometheus text exposition format (version 0.0.4) of the web view's model and
// the manager's live counters. Names follow Prometheus conventions: `fleetcast_` prefix, base
// units (bytes, seconds), `_total` for counters, label values escaped (\\, \", \n).

#include <string>

#include "sender/web/http_server.hpp"
#include "sender/web/model.hpp"
#include "sender/web/telemetry.hpp"

namespace fleetcast::sender::web {

struct MetricsInput {
  const Overview& overview;
  const LiveFigures& live;
  std::uint64_t store_bytes = 0;
  const HttpCounters* http = nullptr;
};

std::string metrics_text(const MetricsInput& in);
// A label value as the format wants it.
std::string label_value(const std::string& v);

}  // namespace fleetcast::sender::web
