#pragma once
// `fleetcast-sender status` and `receipts verify`: answers from the receipt store (store.hpp),
// without a network; `status --refresh` first asks every host it lists (STATUS) for its latest
// result in the newest session of each bundle, and stores what they answer.

#include "sender/cli/config.hpp"

namespace fleetcast::sender {

int status_command(const StatusOptions& o);
// Exit 0 only when every stored reply verifies with the key its host had when it was stored.
int receipts_verify_command(const StatusOptions& o);

}  // namespace fleetcast::sender
