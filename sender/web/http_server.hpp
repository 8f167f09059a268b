#pragma once
// The manager's HTTP listener (`serve --http ADDR:PORT`): GET and HEAD only, on one thread of
// its own, so neither a slow client nor a slow page holds the manager's loop. Boost.Beast
// (Debian's libboost1.74-dev, header-only) parses; this file owns no parser. Beast over
// cpp-httplib: one asynchronous thread serves every connection with a deadline of its own, so
// 100 clients that trickle their headers hold 100 sockets, not a pool of 8 worker threads.
//
// Limits, per connection: the request head within `read_timeout` (a whole-request deadline,
// not an idle timer: trickling bytes does not extend it), at most `header_bytes` of head, no
// body, `requests_per_connection` requests kept alive; at most `max_connections` open at once
// (beyond that a new connection is closed at once). A request Beast cannot parse gets 400 and
// the connection is closed; another method 405.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fleetcast::sender::web {

struct HttpCounters;

struct HttpRequest {
  std::string method;                      // GET or HEAD (the handler sees no other)
  std::string target;                      // as sent: path and query
  const HttpCounters* counters = nullptr;  // the answering server's (for /metrics)
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // added to the defaults
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpLimits {
  std::chrono::milliseconds read_timeout{10000};
  std::size_t max_connections = 256;
  std::size_t header_bytes = 8192;
  std::size_t requests_per_connection = 100;
};

struct HttpCounters {
  std::atomic<std::uint64_t> requests{0};   // answered (any status)
  std::atomic<std::uint64_t> malformed{0};  // not HTTP/1.x, too long, a body: 400
  std::atomic<std::uint64_t> timeouts{0};   // the head did not come within read_timeout
  std::atomic<std::uint64_t> refused{0};    // over max_connections: closed at once
};

class HttpServer {
 public:
  // Listens on `address` ("127.0.0.1:8080", "[::1]:8080", port 0: any free one). Throws
  // std::runtime_error naming the address when it cannot bind.
  HttpServer(const std::string& address, HttpHandler handler, HttpLimits limits = {});
  ~HttpServer();  // stops the thread; open connections are closed
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Where it listens ("127.0.0.1:41234"): the port is the bound one.
  std::string address() const;
  const HttpCounters& counters() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// "HOST:PORT" or "[V6]:PORT" split; false when it is neither.
bool split_address(const std::string& text, std::string* host, std::uint16_t* port);

}  // namespace fleetcast::sender::web
