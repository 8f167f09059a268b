// protocol/io/udp_socket.hpp on loopback: the receive backlog a host reports in its loss
// reports (how full its data socket's buffer is) follows what waits in the buffer.
#include "protocol/io/udp_socket.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

namespace fleetcast::protocol::io {
namespace {

TEST(UdpSocket, ReceiveBacklogFollowsWhatWaits) {
  UdpSocket in(0, 0);
  in.set_buffer_sizes(256 << 10);
  UdpSocket out(0, 0);
  Endpoint to;
  to.address[15] = 1;  // ::1
  to.port = in.local_port();
  EXPECT_EQ(in.receive_backlog(), 0);

  const std::vector<std::uint8_t> payload(1200, 0x5a);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(out.send(payload, to));
  const std::uint16_t some = in.receive_backlog();
  EXPECT_GT(some, 0);
  EXPECT_LT(some, 5000) << "20 datagrams in a 256 KiB buffer";

  // Far more than fits: the kernel drops what exceeds the buffer, which is then (nearly) full.
  for (int i = 0; i < 2000; ++i) (void)out.send(payload, to);
  EXPECT_GT(in.receive_backlog(), 9000);

  std::vector<std::uint8_t> buffer(64 * 1500);
  std::size_t read = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto got = in.receive(buffer, 1500);
    if (got.empty()) break;
    read += got.size();
  }
  EXPECT_GT(read, 20u);
  EXPECT_EQ(in.receive_backlog(), 0) << "all read";
}

// Whether a process of another user (nobody) can bind [::1]:port with SO_REUSEADDR, as a local
// user would to take a manager's replies; runs only as root (it must drop to another uid).
bool another_user_binds(std::uint16_t port) {
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    const int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    sa.sin6_addr = in6addr_loopback;
    ::_exit(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Issue 26, item 6: a unicast socket (the manager's replies, a host's feedback socket) is bound
// without SO_REUSEADDR, so another user binding the specific address with SO_REUSEADDR cannot
// take its datagrams. The canary: a multicast listener's shared socket can be (that is why the
// manager's and hosts' unicast sockets no longer are).
TEST(harden_socket, AnotherUserCannotBindAUnicastSocketsPort) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: the test drops to uid 65534";
  std::array<std::uint8_t, 16> loopback{};
  loopback[15] = 1;
  UdpSocket exclusive(loopback, 0, 0);
  EXPECT_FALSE(another_user_binds(exclusive.local_port()));
  UdpSocket wildcard(std::array<std::uint8_t, 16>{}, 0, 0);
  EXPECT_FALSE(another_user_binds(wildcard.local_port()));
  UdpSocket shared(0, 0);
  EXPECT_TRUE(another_user_binds(shared.local_port())) << "the canary: the attack of item 6";
  // The exclusive socket still receives what is sent to it.
  UdpSocket out(0, 0);
  Endpoint to;
  to.address = loopback;
  to.port = exclusive.local_port();
  const std::vector<std::uint8_t> payload(100, 0x5a);
  ASSERT_TRUE(out.send(payload, to));
  std::vector<std::uint8_t> buffer(1500);
  EXPECT_EQ(exclusive.receive(buffer, 1500).size(), 1u);
}

}  // namespace
}  // namespace fleetcast::protocol::io
