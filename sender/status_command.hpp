#pragma once
// `fleetcast-sender status` and `receipts verify`: answers from the receipt store (store.hpp),
// without a network.

#include "sender/config.hpp"

namespace fleetcast::sender {

int status_command(const StatusOptions& o);
// Exit 0 only when every stored reply verifies with the key its host had when it was stored.
int receipts_verify_command(const StatusOptions& o);

}  // namespace fleetcast::sender
