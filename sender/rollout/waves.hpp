#pragma once
// A rollout's waves and its failure halt, as a pure state machine (no clock, no network): the
// runner tells it what the hosts reported, it says which wave may start next and when to stop.
//
// Waves: `--waves 1,3,50%,100%` lists how many targets are done after each wave (cumulative;
// a percentage is of all targets, rounded up, at least one host more than the wave before; a
// step that adds nobody is dropped; hosts left after the last step form one more wave). Hosts
// keep the order they were given in, so the first wave is the canary.
//
// Failures: a host fails when its FIN is anything but `applied` (rolled back, failed,
// rejected), when it did not hold the bundle after distribution, or when it never answered.
// `--max-fail N` or `--max-fail P%` is the number of failures TOLERATED: the rollout halts when
// failures EXCEED it, fleet-wide (P% of all targets, rounded down) or within one wave (P% of
// that wave, rounded down). So with 4 hosts and 50 %, 2 failures go on and a third halts;
// `--max-fail 0` halts at the first failure. Halted: no new wave starts; hosts not yet
// activated keep the bundle held and their configuration unchanged.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetcast::sender {

// A count or a percentage, as written on the command line ("3", "10%").
struct Amount {
  unsigned value = 0;
  bool percent = false;
  static std::optional<Amount> parse(std::string_view text);
  std::string to_string() const;
};

// Parses "1,10%,50%,100%"; nullopt (and `error`) on a bad entry or a decreasing list.
std::optional<std::vector<Amount>> parse_waves(std::string_view text, std::string* error);

// The waves for `hosts` targets: host indices 0..hosts-1 split into consecutive waves.
std::vector<std::vector<std::size_t>> plan_waves(const std::vector<Amount>& steps,
                                                 std::size_t hosts);

// Failures tolerated among `of` hosts.
std::size_t tolerated(const Amount& max_fail, std::size_t of);

enum class HostState { pending, held, not_held, activated, applied, failed };
std::string_view to_string(HostState s);

class WaveTracker {
 public:
  WaveTracker(std::vector<std::vector<std::size_t>> waves, std::size_t hosts, Amount max_fail);

  // Distribution is over: `held` says which hosts hold the bundle (FIN held). The others are
  // failures at once, and are never activated.
  void distributed(const std::vector<bool>& held);
  // The same with a third answer: `missing` hosts never answered; they stay pending (no
  // failure yet) until caught_up() says whether a catch-up before their wave reached them.
  enum class Delivery { held, refused, missing };
  void distributed(const std::vector<Delivery>& delivery);
  void caught_up(std::size_t host, bool held);
  // Hosts of wave `w` still pending (missing from the distribution).
  std::vector<std::size_t> pending_in(std::size_t w) const;
  // The next wave to activate (and marks its holding hosts activated), or nullopt when halted,
  // when the previous wave still waits for results, or when every wave has started.
  std::optional<std::size_t> start_next_wave();
  // An activated host that was not sent its ACTIVATE after all (its maintenance window did not
  // open before the rollout halted or was stopped): it holds the bundle again, untouched.
  void withhold(std::size_t host);
  // A host's result after activation: applied or not. Checks the limits.
  void result(std::size_t host, bool applied);
  // Redundancy (redundancy.hpp): `host` is activated only once `before` applied. When the wave
  // that holds `host` is due and `before` has not, the rollout halts with `why`, whatever
  // --max-fail tolerates: `host` is never touched.
  void require_applied(std::size_t host, std::size_t before, std::string why);

  bool halted() const { return !halt_reason_.empty(); }
  const std::string& halt_reason() const { return halt_reason_; }
  bool finished() const;  // every wave started and every activated host has a result
  const std::vector<std::vector<std::size_t>>& waves() const { return waves_; }
  std::size_t waves_started() const { return next_wave_; }
  HostState state(std::size_t host) const { return states_[host]; }
  // The hosts of wave `w` that will be (were) activated: those that held the bundle.
  std::vector<std::size_t> activated_in(std::size_t w) const;
  std::size_t failures() const;

 private:
  void check_limits(std::size_t wave);

  std::vector<std::vector<std::size_t>> waves_;
  std::vector<std::size_t> wave_of_;
  std::vector<HostState> states_;
  std::vector<std::vector<std::pair<std::size_t, std::string>>> before_;  // per host
  Amount max_fail_;
  std::size_t next_wave_ = 0;
  std::string halt_reason_;
};

}  // namespace fleetcast::sender
