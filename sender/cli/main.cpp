// fleetcast-sender entry point: parse the command line, run one command.

#include <cstdio>

#include "protocol/program/program.hpp"
#include "sender/cli/bundle_command.hpp"
#include "sender/cli/config.hpp"
#include "sender/cli/push_setup.hpp"
#include "sender/cli/rollout_command.hpp"
#include "sender/cli/send_command.hpp"
#include "sender/cli/status_command.hpp"

namespace {

int run(const fleetcast::sender::Invocation& inv) {
  using fleetcast::sender::Command;
  fleetcast::log::configure(inv.log);
  switch (inv.command) {
    case Command::help:
      std::fputs(inv.help_text.c_str(), stdout);
      return 0;
    case Command::version:
      std::puts("fleetcast-sender " FLEETCAST_VERSION);
      return 0;
    case Command::keygen:
      return fleetcast::protocol::program::keygen_command(inv.key_dir, "manager", "");
    case Command::fingerprint:
      return fleetcast::protocol::program::fingerprint_command(inv.key_file);
    case Command::inventory_add:
      return fleetcast::sender::inventory_add_command(inv);
    case Command::inventory_redundancy:
      return fleetcast::sender::inventory_redundancy_command(inv);
    case Command::inventory_list:
      return fleetcast::sender::inventory_list_command(inv);
    case Command::inventory_site:
      return fleetcast::sender::inventory_site_command(inv);
    case Command::send:
    case Command::push:
      return fleetcast::sender::send_command(inv.send, inv.rollout, inv.argv);
    case Command::bundle_create:
      return fleetcast::sender::bundle_create_command(inv.bundle);
    case Command::bundle_seal:
      return fleetcast::sender::bundle_seal_command(inv.bundle);
    case Command::bundle_inspect:
      return fleetcast::sender::bundle_inspect_command(inv.bundle);
    case Command::bundle_lint:
      return fleetcast::sender::bundle_lint_command(inv.send);
    case Command::bundle_verify:
      return fleetcast::sender::bundle_verify_command(inv.bundle);
    case Command::rollout_plan:
      return fleetcast::sender::rollout_plan_command(inv.send, inv.rollout);
    case Command::rollout_run:
      return fleetcast::sender::rollout_run_command(inv.send, inv.rollout, inv.argv);
    case Command::rollout_resume:
      return fleetcast::sender::rollout_resume_command(inv.status.state);
    case Command::rollout_pause:
      return fleetcast::sender::rollout_request_command(inv.status.state,
                                                        fleetcast::sender::Request::pause);
    case Command::rollout_abort:
      return fleetcast::sender::rollout_request_command(inv.status.state,
                                                        fleetcast::sender::Request::abort);
    case Command::rollout_list:
      return fleetcast::sender::rollout_list_command(inv.status.state);
    case Command::rollout_status:
      return fleetcast::sender::rollout_status_command(inv.status);
    case Command::rollout_start:
      return fleetcast::sender::rollout_start_command(inv.send, inv.rollout, inv.argv);
    case Command::serve:
      return fleetcast::sender::serve_command(inv.status.state, inv.http);
    case Command::status:
      return fleetcast::sender::status_command(inv.status);
    case Command::receipts_verify:
      return fleetcast::sender::receipts_verify_command(inv.status);
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  return fleetcast::protocol::program::guarded_main<fleetcast::sender::ConfigError>(
      "fleetcast-sender", [&] { return fleetcast::sender::parse_command_line(argc, argv); }, run);
}
