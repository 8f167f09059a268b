#pragma once
// When the host asks for repair, and what: a NAK after each round marker (ROUND), at a random
// moment of the window the marker announces (spread so 1,000 hosts do not answer at once), or
// without a marker once data that had started stopped for `idle_after` (listening()); it lists
// the missing symbols of the first blocks (at most kMaxNakPackets packets) and the AUTH chunks
// that symbols kept aside wait for, and carries the loss this host measured since it started
// listening.

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "protocol/data.hpp"
#include "receiver/reception/assembler.hpp"

namespace fleetcast::receiver {

class NakScheduler {
 public:
  // A NAK takes at most this many packets: 4 x 186 runs. After round 0 nearly every block is
  // its own run, so this describes the first ~750 blocks (~135 MB at the defaults) and the
  // manager plans their repair together; blocks past them are asked for in later rounds. It
  // bounds the feedback of 1,000 hosts to 4,000 packets per NAK window.
  static constexpr std::size_t kMaxNakPackets = 4;

  // A new session (or a process that starts listening): nothing counted yet.
  void reset(Clock::time_point now);
  void on_packet(std::uint32_t sequence, Clock::time_point now);
  // The file is complete, or the session is over: no NAK any more.
  void stop();
  // A round marker worth its signature check: rounds only go forward (a replayed ROUND
  // schedules nothing).
  bool wants(const protocol::Round& r) const { return r.round > round_; }
  void on_round(const protocol::Round& r, Clock::duration delay, Clock::time_point now);
  // The NAK packets due at `now` for what `a` misses (none when nothing is missing).
  std::vector<protocol::Nak> due(Clock::time_point now, Clock::duration idle_after,
                                 const Assembler& a, std::uint16_t file_id);
  Clock::time_point next_wakeup(Clock::duration idle_after) const;

 private:
  std::uint16_t loss() const;
  // Whether a silence means data stopped: a packet or a round marker of this session reached
  // this process. A host that registered long before round 0 (a manager waiting for 1,000
  // hosts to register, or preparing a large file) hears nothing meanwhile; an idle NAK then
  // asked for the whole file and the manager re-sent a copy to everyone (1,000 hosts, 2 MiB:
  // 3,000 such NAKs, wire 2.4 instead of ~1.1).
  bool listening() const { return packets_ > 0 || round_ > 0; }

  Clock::time_point nak_at_ = Clock::time_point::max();
  std::uint32_t round_ = 0;
  // Packets seen in this session by this process, and the first one's sequence (loss measure).
  std::uint64_t packets_ = 0;
  std::uint32_t first_seq_ = 0;
  std::uint32_t end_seq_ = 0;  // from the round marker: first sequence of the next round
  Clock::time_point last_data_{};
};

}  // namespace fleetcast::receiver
