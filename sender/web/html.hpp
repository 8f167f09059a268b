#pragma once
// Text into HTML and URLs, and back out of a request's path. Everything a host sent (a FIN's
// reason, a DENY's text, a host or bundle name) reaches a page only through escape(): an
// attacker's `<script>` is shown as text. The page's policy (http_server.cpp) forbids inline
// script besides, so a slip here still runs nothing.

#include <optional>
#include <string>
#include <string_view>

namespace fleetcast::sender::web {

// & < > " ' as entities: safe in element text and in quoted attribute values.
std::string escape(std::string_view text);
// A state word as a CSS class suffix: every byte but a-z 0-9 becomes '-' ("no answer" ->
// "no-answer"), so a class attribute never splits or escapes.
std::string css_name(std::string_view text);
// Percent-encodes every byte but A-Z a-z 0-9 - . _ ~ (one path segment).
std::string url_component(std::string_view text);
// Percent-decoding of a path segment; nullopt for a bad escape or a decoded NUL or '/'.
std::optional<std::string> url_decode(std::string_view text);

}  // namespace fleetcast::sender::web
