// protocol/io/udp_socket.hpp on loopback: the receive backlog a host reports in its loss
// reports (how full its data socket's buffer is) follows what waits in the buffer.
#include "protocol/io/udp_socket.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace fleetcast::protocol::io
