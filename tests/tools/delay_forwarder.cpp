// Test-only WAN delay (tests/fleet/site_test.sh relay-delay): the kernel here has no netem, so a
// school's WAN latency is played by this forwarder in the school's router. It takes UDP
// datagrams on LISTEN ([address]:port) and sends each to TO ([address]:port) DELAY_MS later,
// in order, from its own socket (the relay pins that source once a manager line came through).
//
//   fleetcast-delay-forwarder LISTEN TO DELAY_MS SECONDS
//
// Runs SECONDS at most; prints how many datagrams it forwarded when it ends.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

bool parse(const std::string& text, sockaddr_in6& out) {
  const auto close = text.rfind("]:");
  if (text.size() < 4 || text[0] != '[' || close == std::string::npos) return false;
  std::memset(&out, 0, sizeof out);
  out.sin6_family = AF_INET6;
  out.sin6_port = htons(static_cast<std::uint16_t>(std::atoi(text.c_str() + close + 2)));
  return inet_pton(AF_INET6, text.substr(1, close - 1).c_str(), &out.sin6_addr) == 1;
}

struct Held {
  Clock::time_point due;
  std::vector<char> bytes;
};

}  // namespace

int main(int argc, char** argv) {
  sockaddr_in6 listen{}, to{};
  if (argc != 5 || !parse(argv[1], listen) || !parse(argv[2], to)) {
    std::fprintf(stderr,
                 "usage: fleetcast-delay-forwarder [ADDR]:PORT [ADDR]:PORT DELAY_MS SECONDS\n");
    return 2;
  }
  const auto delay = std::chrono::milliseconds(std::atoi(argv[3]));
  const auto end = Clock::now() + std::chrono::seconds(std::atoi(argv[4]));
  const int in = ::socket(AF_INET6, SOCK_DGRAM, 0);
  const int out = ::socket(AF_INET6, SOCK_DGRAM, 0);
  const int big = 16 << 20;
  ::setsockopt(in, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  ::setsockopt(out, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  if (in < 0 || out < 0 ||
      ::bind(in, reinterpret_cast<const sockaddr*>(&listen), sizeof listen) != 0) {
    std::perror("fleetcast-delay-forwarder: socket");
    return 1;
  }
  std::deque<Held> held;
  std::vector<char> buffer(65536);
  unsigned long forwarded = 0;
  while (Clock::now() < end) {
    const auto now = Clock::now();
    while (!held.empty() && held.front().due <= now) {
      const auto& h = held.front();
      if (::sendto(out, h.bytes.data(), h.bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                   sizeof to) >= 0) {
        ++forwarded;
      }
      held.pop_front();
    }
    int wait = 100;
    if (!held.empty()) {
      wait = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(held.front().due - now).count());
      wait = std::max(wait, 0);
    }
    pollfd p{in, POLLIN, 0};
    if (::poll(&p, 1, wait) <= 0) continue;
    for (int i = 0; i < 256; ++i) {
      const ssize_t n = ::recv(in, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n <= 0) break;
      held.push_back({Clock::now() + delay, {buffer.begin(), buffer.begin() + n}});
    }
  }
  std::printf("delay forwarder: %lu datagrams forwarded %d ms late\n", forwarded,
              std::atoi(argv[3]));
  return 0;
}
