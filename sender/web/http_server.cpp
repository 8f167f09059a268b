#include "sender/web/http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <csignal>
#include <optional>
#include <stdexcept>
#include <thread>

namespace fleetcast::sender::web {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpServer::Impl {
  HttpHandler handler;
  HttpLimits limits;
  HttpCounters counters;
  std::size_t open = 0;  // connections (touched on the server's thread only)
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;

  void accept();
};

namespace {

// Every response: nothing cached, nothing sniffed, no framing, and a page may load only what
// this server serves (no inline script: a host's text that escaped escaping still cannot run).
constexpr const char* kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket&& socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server) {
    ++server_.open;
  }
  ~Connection() { --server_.open; }

  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.limits.header_bytes));
    parser_->body_limit(0);  // GET and HEAD carry none
    stream_.expires_after(server_.limits.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Connection::on_read, shared_from_this()));
  }

 private:
  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return close();
    if (ec == beast::error::timeout) {
      ++server_.counters.timeouts;  // tcp_stream closed the socket
      return;
    }
    if (ec) {
      if (ec.category() != http::make_error_code(http::error::bad_method).category()) return;
      ++server_.counters.malformed;
      HttpResponse bad{400, "text/plain; charset=utf-8", "bad request\n", {}};
      return send(std::move(bad), 11, false, false);
    }
    const auto& req = parser_->get();
    const bool head = req.method() == http::verb::head;
    const bool keep = req.keep_alive() && ++served_ < server_.limits.requests_per_connection;
    if (req.method() != http::verb::get && !head) {
      HttpResponse no{405, "text/plain; charset=utf-8", "only GET and HEAD\n", {}};
      no.headers.emplace_back("Allow", "GET, HEAD");
      return send(std::move(no), req.version(), false, false);
    }
    HttpResponse res;
    try {
      res = server_.handler({head ? "HEAD" : "GET", std::string(req.target()), &server_.counters});
    } catch (const std::exception& e) {
      res = {
          500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n", {}};
    }
    send(std::move(res), req.version(), head, keep);
  }

  void send(HttpResponse r, unsigned version, bool head, bool keep) {
    ++server_.counters.requests;
    res_ = {};
    res_.version(version);
    res_.result(static_cast<unsigned>(r.status));
    res_.set(http::field::server, "fleetcast");
    res_.set(http::field::content_type, r.content_type);
    res_.set(http::field::cache_control, "no-store");
    res_.set("X-Content-Type-Options", "nosniff");
    res_.set("Referrer-Policy", "no-referrer");
    res_.set("Content-Security-Policy", kPolicy);
    for (const auto& [name, value] : r.headers) res_.set(name, value);
    res_.keep_alive(keep);
    res_.content_length(r.body.size());
    if (!head) res_.body() = std::move(r.body);
    stream_.expires_after(server_.limits.read_timeout);  // a client that does not read
    http::async_write(stream_, res_,
                      [self = shared_from_this(), keep](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (!keep) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  http::response<http::string_body> res_;
  HttpServer::Impl& server_;
  std::size_t served_ = 0;
};

}  // namespace

void HttpServer::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor.is_open()) return;
    if (!ec) {
      if (open >= limits.max_connections) {
        ++counters.refused;
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Connection>(std::move(socket), *this)->read();
      }
    }
    accept();
  });
}

bool split_address(const std::string& text, std::string* host, std::uint16_t* port) {
  std::size_t colon = 0;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    *host = text.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) return false;
    *host = text.substr(0, colon);
  }
  const std::string digits = text.substr(colon + 1);
  if (host->empty() || digits.empty() || digits.size() > 5 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const unsigned long value = std::stoul(digits);
  if (value > 65535) return false;
  *port = static_cast<std::uint16_t>(value);
  return true;
}

HttpServer::HttpServer(const std::string& address, HttpHandler handler, HttpLimits limits)
    : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  impl_->limits = limits;
  std::string host;
  std::uint16_t port = 0;
  if (!split_address(address, &host, &port)) {
    throw std::runtime_error("--http " + address +
                             ": not ADDRESS:PORT (127.0.0.1:8080, [::1]:8080)");
  }
  beast::error_code ec;
  const auto ip = net::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("--http " + address + ": " + host + " is not an IP address");
  const tcp::endpoint where(ip, port);
  auto& a = impl_->acceptor;
  a.open(where.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(where, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("--http " + address + ": " + ec.message());
  impl_->accept();
  // Signals (serve's SIGTERM) go to the manager's loop, not to this thread.
  sigset_t all, before;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &before);
  impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

HttpServer::~HttpServer() {
  impl_->ioc.stop();  // pending handlers (and their connections) go with the io_context
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string HttpServer::address() const {
  beast::error_code ec;
  const auto at = impl_->acceptor.local_endpoint(ec);
  if (ec) return "?";
  const std::string host = at.address().to_string();
  return (at.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(at.port());
}

const HttpCounters& HttpServer::counters() const {
  return impl_->counters;
}

}  // namespace fleetcast::sender::web
