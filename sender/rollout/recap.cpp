#include "sender/rollout/recap.hpp"

#include <cstdio>
#include <map>

namespace fleetcast::sender {

std::vector<std::string> recap_lines(std::string_view bundle, std::uint64_t version,
                                     const std::vector<RecapRow>& rows) {
  std::map<std::string, std::size_t> counts;
  for (const RecapRow& r : rows) ++counts[r.word];
  std::string head = "RECAP";
  if (!bundle.empty()) {
    head += " ";
    head += bundle;
    head += " version " + std::to_string(version) + ":";
  }
  for (const auto& [word, n] : counts) head += "  " + word + "=" + std::to_string(n);
  std::vector<std::string> out{head};
  for (const RecapRow& r : rows) {
    if (!r.listed) continue;
    char line[512];
    std::snprintf(line, sizeof line, "  %-20s %-12s ", r.host.c_str(), r.status.c_str());
    out.push_back(line + r.message);
  }
  return out;
}

}  // namespace fleetcast::sender
