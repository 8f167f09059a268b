#include "protocol/io/udp_socket.hpp"

#include "protocol/io/file.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace fleetcast::protocol::io {
namespace {

constexpr std::size_t kMaxBatch = 64;  // datagrams per sendmmsg / recvmmsg call

[[noreturn]] void fail(const std::string& what, int err) {
  throw_errno<SocketError>(what, "", err);
}

sockaddr_in6 to_sockaddr(const Endpoint& e, unsigned scope) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(e.port);
  std::memcpy(&sa.sin6_addr, e.address.data(), 16);
  // Link-local and multicast destinations need the interface; others ignore the scope.
  sa.sin6_scope_id = scope;
  return sa;
}

Endpoint from_sockaddr(const sockaddr_in6& sa) {
  Endpoint e;
  std::memcpy(e.address.data(), &sa.sin6_addr, 16);
  e.port = ntohs(sa.sin6_port);
  return e;
}

void set_option(int fd, int level, int name, const void* value, socklen_t size, const char* what) {
  if (::setsockopt(fd, level, name, value, size) != 0)
    fail(std::string("setsockopt ") + what, errno);
}

}  // namespace

unsigned interface_index(const std::string& name) {
  const unsigned index = ::if_nametoindex(name.c_str());
  if (index == 0) fail("interface '" + name + "'", errno);
  return index;
}

std::array<std::uint8_t, 16> interface_address(const std::string& name) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) fail("getifaddrs", errno);
  std::array<std::uint8_t, 16> found{};
  bool ok = false;
  for (ifaddrs* a = list; a != nullptr && !ok; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET6 || name != a->ifa_name) {
      continue;
    }
    const auto* sa = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
    if (IN6_IS_ADDR_LINKLOCAL(&sa->sin6_addr) || IN6_IS_ADDR_LOOPBACK(&sa->sin6_addr)) continue;
    std::memcpy(found.data(), &sa->sin6_addr, 16);
    ok = true;
  }
  ::freeifaddrs(list);
  if (!ok) throw SocketError("interface '" + name + "' has no global or unique-local IPv6 address");
  return found;
}

std::size_t interface_mtu(const std::string& name) {
  ifreq req{};
  if (name.size() >= sizeof req.ifr_name) throw SocketError("interface name too long: " + name);
  std::memcpy(req.ifr_name, name.c_str(), name.size() + 1);
  const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket", errno);
  const int rc = ::ioctl(fd, SIOCGIFMTU, &req);
  const int err = errno;
  ::close(fd);
  if (rc != 0) fail("SIOCGIFMTU " + name, err);
  return static_cast<std::size_t>(req.ifr_mtu);
}

UdpSocket::UdpSocket(std::uint16_t port, unsigned interface) : interface_(interface) {
  bind_to({}, port, true);
}

UdpSocket::UdpSocket(const std::array<std::uint8_t, 16>& address, std::uint16_t port,
                     unsigned interface)
    : interface_(interface) {
  bind_to(address, port, false);
}

void UdpSocket::bind_to(const std::array<std::uint8_t, 16>& address, std::uint16_t port,
                        bool shared) {
  fd_ = ::socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail("socket", errno);
  const int on = 1;
  if (shared) set_option(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on, "SO_REUSEADDR");
  set_option(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on, "IPV6_V6ONLY");
  if (address != std::array<std::uint8_t, 16>{}) {
    set_option(fd_, IPPROTO_IPV6, IPV6_FREEBIND, &on, sizeof on, "IPV6_FREEBIND");
  }
  Endpoint e;
  e.address = address;
  e.port = port;
  sockaddr_in6 sa = to_sockaddr(e, 0);
  if (IN6_IS_ADDR_LINKLOCAL(&sa.sin6_addr)) sa.sin6_scope_id = interface_;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    fail("bind " + text::format_endpoint(e), err);
  }
  received_.reserve(kMaxBatch);
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

void UdpSocket::join(const Endpoint& group, const std::array<std::uint8_t, 16>* source) {
  sockaddr_in6 g = to_sockaddr(group, interface_);
  if (source == nullptr) {
    group_req req{};
    req.gr_interface = interface_;
    std::memcpy(&req.gr_group, &g, sizeof g);
    set_option(fd_, IPPROTO_IPV6, MCAST_JOIN_GROUP, &req, sizeof req, "MCAST_JOIN_GROUP");
    return;
  }
  group_source_req req{};
  req.gsr_interface = interface_;
  std::memcpy(&req.gsr_group, &g, sizeof g);
  Endpoint s;
  s.address = *source;
  sockaddr_in6 src = to_sockaddr(s, interface_);
  std::memcpy(&req.gsr_source, &src, sizeof src);
  set_option(fd_, IPPROTO_IPV6, MCAST_JOIN_SOURCE_GROUP, &req, sizeof req,
             "MCAST_JOIN_SOURCE_GROUP");
}

void UdpSocket::leave(const Endpoint& group) {
  sockaddr_in6 g = to_sockaddr(group, interface_);
  group_req req{};
  req.gr_interface = interface_;
  std::memcpy(&req.gr_group, &g, sizeof g);
  // Leaving a group we are not in is harmless; the error is ignored on purpose.
  (void)::setsockopt(fd_, IPPROTO_IPV6, MCAST_LEAVE_GROUP, &req, sizeof req);
}

void UdpSocket::set_multicast(int hop_limit, bool loopback) {
  const int ifindex = static_cast<int>(interface_);
  const int loop = loopback ? 1 : 0;
  set_option(fd_, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex, "IPV6_MULTICAST_IF");
  set_option(fd_, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hop_limit, sizeof hop_limit,
             "IPV6_MULTICAST_HOPS");
  set_option(fd_, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof loop, "IPV6_MULTICAST_LOOP");
}

void UdpSocket::set_buffer_sizes(int bytes) {
  // Best effort: the kernel caps at net.core.[rw]mem_max; the FORCE variants need CAP_NET_ADMIN.
  if (::setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0) {
    (void)::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  }
  if (::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
    (void)::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
}

std::uint16_t UdpSocket::receive_backlog() const {
  // SO_MEMINFO (Linux 4.6): the memory the queued datagrams take against the buffer's size,
  // both counted as the kernel charges them (per packet, more than its payload).
  std::array<std::uint32_t, SK_MEMINFO_VARS> info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd_, SOL_SOCKET, SO_MEMINFO, info.data(), &len) != 0 ||
      len < sizeof(std::uint32_t) * (SK_MEMINFO_RCVBUF + 1) || info[SK_MEMINFO_RCVBUF] == 0) {
    return 0;
  }
  const std::uint64_t used = std::min(info[SK_MEMINFO_RMEM_ALLOC], info[SK_MEMINFO_RCVBUF]);
  return static_cast<std::uint16_t>(used * 10000 / info[SK_MEMINFO_RCVBUF]);
}

std::size_t UdpSocket::send(std::span<const Datagram> datagrams) {
  std::size_t done = 0;
  while (done < datagrams.size()) {
    const std::size_t n = std::min(kMaxBatch, datagrams.size() - done);
    std::array<sockaddr_in6, kMaxBatch> addrs;
    std::array<iovec, kMaxBatch> iov;
    std::array<mmsghdr, kMaxBatch> msgs{};
    for (std::size_t i = 0; i < n; ++i) {
      const Datagram& d = datagrams[done + i];
      addrs[i] = to_sockaddr(d.to, interface_);
      iov[i] = {const_cast<std::uint8_t*>(d.bytes.data()), d.bytes.size()};
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in6);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int sent = ::sendmmsg(fd_, msgs.data(), static_cast<unsigned>(n), 0);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == ENOBUFS) break;  // socket full: the caller retries later
      ++send_errors_;  // e.g. unreachable destination: drop this datagram, keep going
      ++done;
      continue;
    }
    done += static_cast<std::size_t>(sent);
    if (static_cast<std::size_t>(sent) < n) break;
  }
  return done;
}

bool UdpSocket::send(std::span<const std::uint8_t> bytes, const Endpoint& to) {
  const Datagram d{bytes, to};
  return send(std::span(&d, 1)) == 1;
}

bool UdpSocket::send_from(std::span<const std::uint8_t> bytes, const Endpoint& to,
                          const std::array<std::uint8_t, 16>& source) {
  sockaddr_in6 sa = to_sockaddr(to, interface_);
  iovec iov{const_cast<std::uint8_t*>(bytes.data()), bytes.size()};
  alignas(cmsghdr) std::array<std::uint8_t, CMSG_SPACE(sizeof(in6_pktinfo))> control{};
  msghdr msg{};
  msg.msg_name = &sa;
  msg.msg_namelen = sizeof sa;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
  in6_pktinfo info{};
  std::memcpy(&info.ipi6_addr, source.data(), 16);
  info.ipi6_ifindex = interface_;
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
  if (::sendmsg(fd_, &msg, 0) == static_cast<ssize_t>(bytes.size())) return true;
  ++send_errors_;
  return false;
}

std::span<const UdpSocket::Received> UdpSocket::receive(std::span<std::uint8_t> buffer,
                                                        std::size_t slot_size) {
  const std::size_t slots = std::min(kMaxBatch, buffer.size() / slot_size);
  std::array<sockaddr_in6, kMaxBatch> addrs{};
  std::array<iovec, kMaxBatch> iov;
  std::array<mmsghdr, kMaxBatch> msgs{};
  for (std::size_t i = 0; i < slots; ++i) {
    iov[i] = {buffer.data() + i * slot_size, slot_size};
    msgs[i].msg_hdr.msg_name = &addrs[i];
    msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in6);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  received_.clear();
  const int n = ::recvmmsg(fd_, msgs.data(), static_cast<unsigned>(slots), MSG_DONTWAIT, nullptr);
  for (int i = 0; i < n; ++i) {
    const auto& m = msgs[static_cast<std::size_t>(i)];
    if (m.msg_hdr.msg_flags & MSG_TRUNC) continue;  // larger than any valid packet: drop
    received_.push_back({buffer.subspan(static_cast<std::size_t>(i) * slot_size, m.msg_len),
                         from_sockaddr(addrs[static_cast<std::size_t>(i)])});
  }
  return received_;
}

std::uint16_t UdpSocket::local_port() const {
  sockaddr_in6 sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) fail("getsockname", errno);
  return ntohs(sa.sin6_port);
}

}  // namespace fleetcast::protocol::io
