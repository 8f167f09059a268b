#pragma once
// The files the page loads (/static/fleetcast.css, /static/fleetcast.js), compiled in: the
// web view downloads nothing at run time and needs no files beside the binary.

#include <string_view>

namespace fleetcast::sender::web {

std::string_view stylesheet();
std::string_view script();

}  // namespace fleetcast::sender::web
