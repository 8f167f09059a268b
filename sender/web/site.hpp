#pragma once
// The web view's routes (`serve --http`), GET and HEAD only, answered from the receipt store
// opened read-only (nothing is written through it) and the loop's live counters:
//
//   /                      the fleet at a glance (HTML; live while a rollout runs)
//   /rollouts/ID           one rollout
//   /hosts/NAME            one host's history and signed receipts
//   /api/overview          the same as JSON; /api/rollouts, /api/rollouts/ID, /api/hosts,
//   /api/hosts/NAME        (api.hpp; the man page documents them)
//   /metrics               Prometheus text (metrics.hpp)
//   /static/fleetcast.css, /static/fleetcast.js
//
// Runs on the HTTP server's thread; the store connection is its own.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "sender/web/http_server.hpp"
#include "sender/web/telemetry.hpp"

namespace fleetcast::sender {
class Store;
}

namespace fleetcast::sender::web {

class Site {
 public:
  // `telemetry` may be null (no live counters: they read 0).
  Site(std::filesystem::path state, const Telemetry* telemetry, std::string manager,
       std::function<std::int64_t()> wall);
  ~Site();
  HttpResponse respond(const HttpRequest& request);

 private:
  const Store& store();
  HttpResponse api(const std::string& path);
  HttpResponse pages(const std::string& path);
  HttpResponse metrics(const HttpCounters* http);

  std::filesystem::path state_;
  const Telemetry* telemetry_;
  std::string manager_;
  std::function<std::int64_t()> wall_;
  std::unique_ptr<Store> store_;
};

}  // namespace fleetcast::sender::web
