#include "sender/web/site.hpp"

#include "sender/store/store.hpp"
#include "sender/web/api.hpp"
#include "sender/web/assets.hpp"
#include "sender/web/html.hpp"
#include "sender/web/metrics.hpp"
#include "sender/web/model.hpp"
#include "sender/web/pages.hpp"

namespace fleetcast::sender::web {
namespace {

constexpr const char* kHtml = "text/html; charset=utf-8";
constexpr const char* kJson = "application/json";

HttpResponse json(int status, const nlohmann::json& body) {
  return {status, kJson, body.dump(1) + "\n", {}};
}

// The rest of `path` after `prefix`, when it is one non-empty segment.
std::optional<std::string> segment(const std::string& path, std::string_view prefix) {
  if (path.size() <= prefix.size() || path.compare(0, prefix.size(), prefix) != 0) {
    return std::nullopt;
  }
  const std::string rest = path.substr(prefix.size());
  if (rest.find('/') != std::string::npos) return std::nullopt;
  return url_decode(rest);
}

std::optional<std::int64_t> rollout_id(const std::optional<std::string>& text) {
  if (!text || text->empty() || text->size() > 15 ||
      text->find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const std::int64_t id = std::stoll(*text);
  return id > 0 ? std::optional(id) : std::nullopt;
}

}  // namespace

Site::Site(std::filesystem::path state, const Telemetry* telemetry, std::string manager,
           std::function<std::int64_t()> wall)
    : state_(std::move(state)),
      telemetry_(telemetry),
      manager_(std::move(manager)),
      wall_(std::move(wall)) {}

Site::~Site() = default;

const Store& Site::store() {
  if (!store_) store_ = std::make_unique<Store>(state_, Store::Access::read_only);
  return *store_;
}

HttpResponse Site::respond(const HttpRequest& request) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (path == "/static/fleetcast.css") {
    return {200, "text/css; charset=utf-8", std::string(stylesheet()), {}};
  }
  if (path == "/static/fleetcast.js") {
    return {200, "text/javascript; charset=utf-8", std::string(script()), {}};
  }
  try {
    store();
  } catch (const std::exception& e) {
    store_.reset();
    return {503,
            "text/plain; charset=utf-8",
            "no receipt store to show yet (" + std::string(e.what()) + ")\n",
            {}};
  }
  if (path.rfind("/api/", 0) == 0) return api(path);
  if (path == "/metrics") return metrics(request.counters);
  return pages(path);
}

HttpResponse Site::metrics(const HttpCounters* http) {
  const LiveFigures live = telemetry_ ? telemetry_->read() : LiveFigures{};
  const Overview o = overview(store(), wall_());
  return {200,
          "text/plain; version=0.0.4; charset=utf-8",
          metrics_text({o, live, store().size_bytes(), http}),
          {}};
}

HttpResponse Site::api(const std::string& path) {
  const std::int64_t now = wall_();
  if (path == "/api/overview") return json(200, overview_json(overview(store(), now)));
  if (path == "/api/rollouts") return json(200, rollouts_json(overview(store(), now).rollouts));
  if (path == "/api/hosts") return json(200, hosts_json(overview(store(), now).hosts));
  if (const auto id = rollout_id(segment(path, "/api/rollouts/"))) {
    if (const auto v = store().rollout_view(*id))
      return json(200, rollout_model_json(rollout_model(*v)));
    return json(404, {{"error", "no rollout " + std::to_string(*id)}});
  }
  if (const auto name = segment(path, "/api/hosts/")) {
    if (const auto h = host_page(store(), *name)) return json(200, host_page_json(*h));
    return json(404, {{"error", "no host " + *name}});
  }
  return json(404, {{"error", "no such API path: " + path}});
}

HttpResponse Site::pages(const std::string& path) {
  const PageContext c{manager_, state_.string(), wall_()};
  if (path == "/") return {200, kHtml, overview_html(overview(store(), c.now), c), {}};
  if (const auto id = rollout_id(segment(path, "/rollouts/"))) {
    if (const auto v = store().rollout_view(*id)) {
      return {200, kHtml, rollout_html(rollout_model(*v), c), {}};
    }
    return {404, kHtml, not_found_html("no rollout " + std::to_string(*id), c), {}};
  }
  if (const auto name = segment(path, "/hosts/")) {
    if (const auto h = host_page(store(), *name)) return {200, kHtml, host_html(*h, c), {}};
    return {404, kHtml, not_found_html("no host " + *name, c), {}};
  }
  return {404, kHtml, not_found_html("nothing at " + path, c), {}};
}

}  // namespace fleetcast::sender::web
