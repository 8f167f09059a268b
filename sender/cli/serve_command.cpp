// `fleetcast-sender serve`: the manager daemon, one loop. It looks in the store every second
// for a running rollout whose manager is gone (its lock is free: resumed) or a scheduled one
// that is due (started), and runs one rollout at a time on the same loop (push_setup.hpp
// turn()). SIGTERM or SIGINT: the running rollout starts no new wave and stays running for the
// next start; then serve exits. With --http, the web view (web/site.hpp) answers on a thread of
// its own from a read-only connection to the store; the loop hands it only its live counters
// (web/telemetry.hpp), a few times a second.

#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "protocol/io/clock.hpp"
#include "protocol/io/file.hpp"
#include "protocol/log/log.hpp"
#include "sender/cli/rollout_command.hpp"
#include "sender/web/site.hpp"

namespace fleetcast::sender {
namespace p = protocol;
namespace {

constexpr auto kLookEvery = std::chrono::seconds(1);
constexpr auto kPublishEvery = std::chrono::milliseconds(250);

volatile std::sig_atomic_t g_stop = 0;
void on_stop_signal(int) {
  g_stop = 1;
}

void failed(std::int64_t id, const char* what) {
  std::printf("rollout %lld: %s\n", static_cast<long long>(id), what);
  log::emit(log::error("FC1104", "rollout-failed")
                .with("rollout", static_cast<std::uint64_t>(id))
                .with("reason", what));
}

// The next rollout to run: a running one whose manager is gone (oldest first), else the
// scheduled one due first; nullptr when there is none (or each failed to start: logged, and a
// scheduled one that cannot start is marked failed).
std::unique_ptr<LiveRollout> next_rollout(const std::filesystem::path& state) {
  Store store(state);
  for (const RolloutRecord& rec : store.running_rollouts()) {
    {
      p::io::FileLock probe;
      if (!probe.try_lock(state / ("rollout-" + std::to_string(rec.id) + ".lock"))) continue;
    }
    std::printf("resuming rollout %lld (its manager is gone)\n", static_cast<long long>(rec.id));
    log::emit(log::notice("FC1102", "rollout-resuming")
                  .with("rollout", static_cast<std::uint64_t>(rec.id)));
    try {
      return stored_rollout(rec, true);
    } catch (const std::exception& e) {
      failed(rec.id, e.what());
    }
  }
  const auto now = p::io::wall_now();
  if (auto due = store.due_rollout(now.time_since_epoch().count())) {
    std::printf("starting scheduled rollout %lld\n", static_cast<long long>(due->id));
    log::emit(log::notice("FC1103", "rollout-starting")
                  .with("rollout", static_cast<std::uint64_t>(due->id)));
    try {
      return stored_rollout(*due, false);
    } catch (const std::exception& e) {
      failed(due->id, e.what());
      store.end_rollout(due->id, RolloutState::failed, e.what());
    }
  }
  return nullptr;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "?";
  return name;
}

// The web view, when asked for: its own thread, its own read-only store connection.
struct WebView {
  WebView(const std::filesystem::path& state, const std::string& address)
      : site(state, &telemetry, host_name(),
             [] { return static_cast<std::int64_t>(p::io::wall_seconds()); }),
        server(address, [this](const web::HttpRequest& r) { return site.respond(r); }) {}
  web::Telemetry telemetry;
  web::Site site;
  web::HttpServer server;
  DeliveryTotals ended;  // the rollouts this process finished
  Clock::time_point published{};

  void publish(const LiveRollout* live, Clock::time_point now, std::int64_t since) {
    if (now - published < kPublishEvery) return;
    published = now;
    web::LiveFigures f{ended, live ? live->rollout->id() : 0, since};
    if (live) f.delivery += live->rollout->totals();
    telemetry.publish(f);
  }
};

}  // namespace

int serve_command(const std::filesystem::path& state, const std::string& http) {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  std::printf("serving rollouts from %s\n", state.c_str());
  std::unique_ptr<WebView> view;
  const auto since = static_cast<std::int64_t>(p::io::wall_seconds());
  if (!http.empty()) {
    Store{state};  // the schema exists before the read-only view opens it
    try {
      view = std::make_unique<WebView>(state, http);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "serve: %s\n", e.what());
      return 2;
    }
    std::printf("web view at http://%s/\n", view->server.address().c_str());
  }
  std::fflush(stdout);
  log::emit(log::info("FC1101", "serving")
                .with("state", state.string())
                .with("http", view ? view->server.address() : std::string("off")));
  std::vector<std::uint8_t> buffer = loop_buffer();
  std::unique_ptr<LiveRollout> live;
  Clock::time_point next_look = Clock::now();
  while (!g_stop || live) {
    const Clock::time_point now = Clock::now();
    if (view) view->publish(live.get(), now, since);
    if (live) {
      if (g_stop) live->rollout->interrupt();
      try {
        turn(*live->rollout, live->io, buffer);
        if (!live->rollout->done()) continue;
        if (view) view->ended += live->rollout->totals();
        live->ended();
      } catch (const std::exception& e) {
        failed(live->rollout->id(), e.what());
      }
      live.reset();
      next_look = now;  // the next one may be due already
    } else if (now >= next_look) {
      live = next_rollout(state);
      next_look = now + kLookEvery;
    } else {
      // Idle: the loop's wait (a signal ends it early).
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_look - now);
      ::poll(nullptr, 0, static_cast<int>(wait.count()));
    }
    std::fflush(stdout);
  }
  std::printf("serve: stopped\n");
  std::fflush(stdout);
  log::emit(log::info("FC1105", "stopped"));
  return 0;
}

}  // namespace fleetcast::sender
