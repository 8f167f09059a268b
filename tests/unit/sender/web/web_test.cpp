// The web view (sender/web/): a host's hostile text is shown as text on every page and in the
// JSON, the metrics are well-formed exposition text, the store is opened read-only, and the
// HTTP listener answers GET, refuses other methods and malformed requests, and drops a client
// that does not finish its request in time without making others wait.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "protocol/io/file.hpp"
#include "protocol/io/sqlite.hpp"
#include "sender/store/store.hpp"
#include "sender/web/html.hpp"
#include "sender/web/http_server.hpp"
#include "sender/web/metrics.hpp"
#include "sender/web/model.hpp"
#include "sender/web/site.hpp"
#include "tests/unit/protocol/test_keys.hpp"

namespace fleetcast::sender::web {
namespace {

namespace p = protocol;

constexpr const char* kHostile =
    "<script>document.title='pwned'</script><img src=x onerror=\"alert(1)\"> & \"quotes\"";

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(WebView, EscapesTextAndPathSegments) {
  EXPECT_EQ(escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(url_component("r1 <x>/y"), "r1%20%3Cx%3E%2Fy");
  EXPECT_EQ(url_decode("r1%20%3Cx%3E"), "r1 <x>");
  EXPECT_FALSE(url_decode("a%2Fb")) << "a decoded / would leave the segment";
  EXPECT_FALSE(url_decode("a%00"));
  EXPECT_FALSE(url_decode("a%G1"));
  EXPECT_FALSE(url_decode("a%4"));
  EXPECT_EQ(css_name("no answer"), "no-answer");
  EXPECT_EQ(css_name("x\" onmouseover=\"y"), "x--onmouseover--y");
}

// A host's cell: what it said, in a wave that has started or ended.
TEST(WebView, CellStates) {
  EXPECT_EQ(cell_state("no answer", false, false, false), "pending");
  EXPECT_EQ(cell_state("held", false, false, false), "held");
  EXPECT_EQ(cell_state("held", true, false, false), "activating");
  EXPECT_EQ(cell_state("held", true, true, false), "silent");
  EXPECT_EQ(cell_state("applied", true, true, false), "applied");
  EXPECT_EQ(cell_state("rolled-back", true, false, false), "rolled-back");
  EXPECT_EQ(cell_state("rejected", false, false, false), "failed");
  EXPECT_EQ(cell_state("registered", false, false, true), "silent");
  EXPECT_EQ(cell_state("held", false, false, true), "held");
}

class WebStore : public ::testing::Test {
 protected:
  void SetUp() override {
    for (std::uint8_t i = 0; i < 3; ++i) {
      keys_.push_back(p::testing::seeded_key(static_cast<std::uint8_t>(60 + i)));
      std::string name = "h";
      name += std::to_string(i + 1);
      hosts_.push_back(Host{name, keys_.back().public_key(), {"school"}});
    }
    for (const Host& h : hosts_) targets_.push_back(&h);
    Store store(dir_.path());
    store.begin_session(session(5, "motd", 2, 1795000000), targets_);
    RolloutPlan plan;
    plan.hosts = {"h1", "h2", "h3"};
    plan.waves = {{0}, {1, 2}};
    plan.waves_text = "1,100%";
    const auto id = store.begin_rollout({5}, plan, {"fleetcast-sender", "rollout", "run"});
    store.wave_started(id, 1, {"h1"});
    store.record_receipt({5}, "h1", "FIN", fin(0, p::FinStatus::applied, "ok"));
    store.wave_ended(id, 1);
    store.wave_started(id, 2, {"h2", "h3"});
    store.record_receipt({5}, "h2", "FIN", fin(1, p::FinStatus::rolled_back, kHostile));
    store.record_receipt({5}, "h3", "FIN", fin(2, p::FinStatus::held, "checked"));
  }
  static SessionRecord session(std::uint64_t id, const std::string& bundle, std::uint64_t version,
                               std::int64_t started_at) {
    SessionRecord r;
    r.session = {id};
    r.file_name = bundle + "-" + std::to_string(version) + ".fcb";
    r.bundle = bundle;
    r.version = version;
    r.digest = std::string(64, 'b');
    r.started_at = started_at;
    return r;
  }
  std::string fin(std::size_t host, p::FinStatus status, const std::string& message,
                  std::uint64_t session = 5) {
    p::Fin f{"motd-2.fcb", hosts_[host].name, message, {session}, status, 2, {}};
    return p::encode_command(f, keys_[host]).value();
  }
  HttpResponse get(Site& site, const std::string& target) {
    return site.respond({"GET", target, nullptr});
  }

  p::io::TempDir dir_{"fleetcast-web"};
  std::vector<p::SecretKey> keys_;
  std::vector<Host> hosts_;
  std::vector<const Host*> targets_;
};

// A FIN reason is attacker-influenced text: on the page it is text (no element made of it), in
// the JSON the exact string.
TEST_F(WebStore, AHostileReasonIsTextOnEveryPage) {
  Site site(dir_.path(), nullptr, "mgr", [] { return std::int64_t{1795000100}; });
  for (const char* target : {"/", "/rollouts/1", "/hosts/h2"}) {
    const HttpResponse r = get(site, target);
    ASSERT_EQ(r.status, 200) << target << ": " << r.body;
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(count(r.body, "<script"), 1u) << target << ": only the page's own script";
    EXPECT_EQ(count(r.body, "<img"), 0u) << target;
    EXPECT_NE(r.body.find("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"),
              std::string::npos)
        << target << " shows the reason as text";
  }
  const HttpResponse api = get(site, "/api/hosts/h2");
  ASSERT_EQ(api.status, 200);
  const auto j = nlohmann::json::parse(api.body);
  EXPECT_EQ(j["sessions"][0]["result"]["reason"], kHostile);
  EXPECT_EQ(j["sessions"][0]["receipts"].size(), 1u);
}

// The waves fill: one cell per host with its state; the overview and the API agree.
TEST_F(WebStore, WavesShowEachHostsState) {
  Site site(dir_.path(), nullptr, "mgr", [] { return std::int64_t{1795000100}; });
  const auto j = nlohmann::json::parse(get(site, "/api/rollouts/1").body);
  EXPECT_EQ(j["cells"][0]["hosts"][0]["state"], "applied");
  EXPECT_EQ(j["cells"][1]["hosts"][0]["state"], "rolled-back");
  EXPECT_EQ(j["cells"][1]["hosts"][1]["state"], "activating");
  EXPECT_EQ(j["live"], true);
  const std::string page = get(site, "/").body;
  EXPECT_NE(page.find("data-live=\"1\""), std::string::npos) << "a running rollout refreshes";
  EXPECT_NE(page.find("class=\"cell s-activating\" href=\"/hosts/h3\""), std::string::npos);
  EXPECT_EQ(get(site, "/rollouts/9").status, 404);
  EXPECT_EQ(get(site, "/hosts/nobody").status, 404);
  EXPECT_EQ(get(site, "/hosts/a%2Fb").status, 404);
  EXPECT_EQ(get(site, "/api/nothing").status, 404);
  EXPECT_EQ(get(site, "/static/fleetcast.js").content_type, "text/javascript; charset=utf-8");
}

// Every sample line is `name{label="value",...} number`; label values escaped.
TEST_F(WebStore, MetricsAreExpositionText) {
  Telemetry telemetry;
  LiveFigures live;
  live.delivery.sessions = 2;
  live.delivery.wire_bytes = 123456;
  live.delivery.dropped[static_cast<std::size_t>(p::Drop::forged)] = 7;
  telemetry.publish(live);
  Site site(dir_.path(), &telemetry, "mgr", [] { return std::int64_t{1795000100}; });
  const HttpResponse r = get(site, "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::regex sample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? -?[0-9.e+]+$)");
  std::size_t samples = 0;
  std::istringstream lines(r.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
    ++samples;
  }
  EXPECT_GT(samples, 10u);
  EXPECT_NE(r.body.find("fleetcast_sent_bytes_total 123456\n"), std::string::npos);
  EXPECT_NE(r.body.find("fleetcast_feedback_dropped_total{reason=\"forged\"} 7\n"),
            std::string::npos);
  EXPECT_NE(r.body.find("fleetcast_hosts{bundle=\"motd\",state=\"rolled-back\"} 1\n"),
            std::string::npos);
  EXPECT_NE(r.body.find("fleetcast_host_last_fin_age_seconds{host=\"h1\"}"), std::string::npos);
  EXPECT_EQ(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

// A DHCP server's pools (as the lint read them when the bundle went out) against the leases its
// newest FIN reported: 92 of 100 is critical (Stork's 90 %); a FIN that listed only some of its
// leases leaves the pool's count unknown, not guessed.
TEST_F(WebStore, PoolsShowHowFullEachServerIs) {
  {
    Store store(dir_.path());
    store.begin_session(session(6, "school-dhcp", 3, 1795000200), targets_);
    store.record_receipt(
        {6}, "h1", "FIN",
        fin(0, p::FinStatus::applied,
            "version 3 applied: leases: 92 active (192.168.1.100-192.168.1.191)", 6));
    store.record_receipt(
        {6}, "h2", "FIN",
        fin(1, p::FinStatus::applied, "leases: 40 active (192.168.2.100-192.168.2.109, ...)", 6));
    store.record_dhcp_pools(
        {{"h1",
          "school-dhcp",
          3,
          {{0xC0A80164, 0xC0A801C7, "192.168.1.0/24", false}},
          {"h1: a note of the lint"},
          0},
         {"h2", "school-dhcp", 3, {{0xC0A80264, 0xC0A802C7, "192.168.2.0/24", false}}, {}, 0}});
  }
  Site site(dir_.path(), nullptr, "mgr", [] { return std::int64_t{1795000300}; });
  const auto hosts = nlohmann::json::parse(get(site, "/api/hosts").body);
  ASSERT_EQ(hosts.size(), 3u);
  const auto& h1 = hosts[0]["pools"][0];
  EXPECT_EQ(h1["range"], "192.168.1.100-192.168.1.199");
  EXPECT_EQ(h1["addresses"], 100);
  EXPECT_EQ(h1["active"], 92);
  EXPECT_EQ(h1["level"], "critical");
  EXPECT_EQ(hosts[0]["lint"][0], "h1: a note of the lint");
  EXPECT_TRUE(hosts[1]["pools"][0]["active"].is_null());
  EXPECT_EQ(hosts[1]["pools"][0]["level"], "unknown");
  EXPECT_TRUE(hosts[2]["pools"].empty());
  const std::string page = get(site, "/").body;
  EXPECT_NE(page.find("<meter min=\"0\" max=\"100\" low=\"80\" high=\"90\" optimum=\"0\" "
                      "value=\"92\">"),
            std::string::npos);
  EXPECT_NE(page.find("lvl-critical"), std::string::npos);
  const std::string metrics = get(site, "/metrics").body;
  EXPECT_NE(metrics.find("fleetcast_dhcp_pool_active_leases{host=\"h1\",pool=\"192.168.1.100-"
                         "192.168.1.199\"} 92\n"),
            std::string::npos);
  EXPECT_EQ(metrics.find("fleetcast_dhcp_pool_active_leases{host=\"h2\""), std::string::npos);
  EXPECT_NE(metrics.find("fleetcast_dhcp_pool_addresses{host=\"h2\",pool=\"192.168.2.100-"
                         "192.168.2.199\"} 100\n"),
            std::string::npos);
}

// The web view writes nothing: its store refuses writes; no store yet is a 503, not a new one.
TEST_F(WebStore, TheViewsStoreIsReadOnly) {
  Store ro(dir_.path(), Store::Access::read_only);
  EXPECT_EQ(ro.host_rows().size(), 3u);
  EXPECT_THROW(ro.record_hosts(targets_), p::io::SqliteError);
  p::io::TempDir empty("fleetcast-web-empty");
  Site site(empty.path() / "none", nullptr, "mgr", [] { return std::int64_t{0}; });
  EXPECT_EQ(get(site, "/").status, 503);
  EXPECT_FALSE(std::filesystem::exists(empty.path() / "none"));
}

// A loopback client with a receive timeout (every read in these tests is bounded).
class Client {
 public:
  explicit Client(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval tv{3, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::string& s) { (void)!::write(fd_, s.data(), s.size()); }
  // Everything until the server closes (or 3 s of silence).
  std::string read_all() {
    std::string out;
    char buf[4096];
    for (int i = 0; i < 1000; ++i) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fd_;
  bool connected_ = false;
};

std::uint16_t port_of(const HttpServer& s) {
  const std::string a = s.address();
  return static_cast<std::uint16_t>(std::stoi(a.substr(a.rfind(':') + 1)));
}

TEST(HttpServer, AnswersGetAndHeadRefusesTheRest) {
  HttpServer server("127.0.0.1:0", [](const HttpRequest& r) {
    return HttpResponse{200, "text/plain", "you asked " + r.target + "\n", {}};
  });
  const std::uint16_t port = port_of(server);
  {
    Client c(port);
    c.send("GET /x?y HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    const std::string r = c.read_all();
    EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
    EXPECT_NE(r.find("you asked /x?y"), std::string::npos);
    EXPECT_NE(r.find("Content-Security-Policy: default-src 'none'"), std::string::npos);
  }
  {
    Client c(port);
    c.send("HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    const std::string r = c.read_all();
    EXPECT_NE(r.find("Content-Length: 12"), std::string::npos) << r;
    EXPECT_EQ(r.find("you asked"), std::string::npos) << "HEAD has no body";
  }
  {
    Client c(port);
    c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(c.read_all().rfind("HTTP/1.1 405", 0), 0u);
  }
  for (const std::string& bad :
       {std::string("GARBAGE\r\n\r\n"),
        "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(9000, 'x') + "\r\n\r\n",
        std::string("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
        std::string("GET / HTTP/9.9\r\n\r\n")}) {
    Client c(port);
    c.send(bad);
    const std::string r = c.read_all();
    EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << bad.substr(0, 40) << " -> " << r;
  }
  EXPECT_GE(server.counters().malformed.load(), 4u);
}

// A client that trickles its request is dropped at the deadline; meanwhile others are answered
// at once, and beyond the connection limit a new connection is closed, not queued.
TEST(HttpServer, SlowClientsDoNotHoldOthers) {
  HttpLimits limits;
  limits.read_timeout = std::chrono::milliseconds(400);
  limits.max_connections = 3;
  HttpServer server(
      "127.0.0.1:0",
      [](const HttpRequest&) {
        return HttpResponse{200, "text/plain", "ok", {}};
      },
      limits);
  const std::uint16_t port = port_of(server);
  Client slow1(port), slow2(port);
  slow1.send("GET / HT");
  slow2.send("GE");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  {
    Client fast(port);
    const auto t0 = std::chrono::steady_clock::now();
    fast.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    EXPECT_NE(fast.read_all().find("ok"), std::string::npos);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));
  }
  {
    Client third(port);  // slow1, slow2 and this one: the limit
    Client fourth(port);
    EXPECT_EQ(fourth.read_all(), "") << "closed at once";
  }
  slow1.send("TP/1.1\r\n");  // still not done at the deadline
  EXPECT_EQ(slow1.read_all(), "") << "the deadline closed it";
  EXPECT_EQ(slow2.read_all(), "");
  // The server counts after it closed (its thread): wait for it, at most 1 s.
  for (int i = 0; i < 100 && server.counters().timeouts.load() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(server.counters().timeouts.load(), 2u);
  EXPECT_GE(server.counters().refused.load(), 1u);
}

TEST(HttpServer, RefusesAnAddressItCannotUse) {
  EXPECT_THROW(HttpServer("localhost:80", [](const HttpRequest&) { return HttpResponse{}; }),
               std::runtime_error);
  EXPECT_THROW(HttpServer("127.0.0.1", [](const HttpRequest&) { return HttpResponse{}; }),
               std::runtime_error);
  std::string host;
  std::uint16_t port = 0;
  EXPECT_TRUE(split_address("[::1]:8080", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 8080);
  EXPECT_FALSE(split_address("::1:8080", &host, &port));
  EXPECT_FALSE(split_address("1.2.3.4:70000", &host, &port));
}

}  // namespace
}  // namespace fleetcast::sender::web
