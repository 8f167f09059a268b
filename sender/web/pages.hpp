#pragma once
// The web view's HTML pages, rendered on the server from the model (model.hpp): the fleet at a
// glance (`/`), one rollout (`/rollouts/ID`), one host's history (`/hosts/NAME`). Every text
// from the store goes through escape() (html.hpp). A page of a live rollout carries
// data-live="1" on <main>: the script (assets.cpp) fetches the page again every 2 s and swaps
// <main>, until the rollout is over. No framework: what it serves is in the binary.

#include <string>

#include "sender/web/model.hpp"

namespace fleetcast::sender::web {

struct PageContext {
  std::string manager;    // this manager's host name
  std::string state_dir;  // for the command that verifies receipts
  std::int64_t now = 0;
};

std::string overview_html(const Overview& o, const PageContext& c);
std::string rollout_html(const RolloutModel& m, const PageContext& c);
std::string host_html(const HostPage& h, const PageContext& c);
std::string not_found_html(const std::string& what, const PageContext& c);

}  // namespace fleetcast::sender::web
