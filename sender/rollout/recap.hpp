#pragma once
// The RECAP every rollout view ends with (rollout run and resume, rollout status, status):
//   RECAP school-dhcp version 7:  applied=3  failed=1
//     r2                   rolled-back  the health gate failed: ...
// One count per word, then one line per host worth a look.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fleetcast::sender {

struct RecapRow {
  std::string host;
  std::string word;     // what is counted (a host state, or a status word)
  std::string status;   // what the host said last
  std::string message;  // and why
  bool listed = false;  // shown under the counts
};

// The lines, without line breaks; `bundle` empty: "RECAP" alone (status across bundles).
std::vector<std::string> recap_lines(std::string_view bundle, std::uint64_t version,
                                     const std::vector<RecapRow>& rows);

}  // namespace fleetcast::sender
