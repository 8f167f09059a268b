#include "protocol/io/wait.hpp"

#include <algorithm>
#include <ctime>

namespace fleetcast::protocol::io {

int wait_readable(std::span<pollfd> fds, std::chrono::nanoseconds wait,
                  std::chrono::nanoseconds most) {
  const auto us =
      std::clamp(std::chrono::ceil<std::chrono::microseconds>(wait), std::chrono::microseconds(0),
                 std::chrono::ceil<std::chrono::microseconds>(most))
          .count();
  const timespec timeout{static_cast<time_t>(us / 1'000'000),
                         static_cast<long>(us % 1'000'000) * 1'000};
  return ::ppoll(fds.data(), fds.size(), &timeout, nullptr);
}

}  // namespace fleetcast::protocol::io
