#pragma once
// Per-host values rendered on the manager when a bundle is built. A bundle directory may hold
// `hosts.ini`, one section per host name with that host's values (and an optional [*] section
// of defaults), and templates: files named `<path>.tmpl`. For each host section, every template
// becomes hosts/<host>/<path> with each `{{ key }}` replaced by the host's value (`{{ host }}`
// is the host name). Receivers then take their own copy like any per-host file. Neither
// hosts.ini nor the templates go into the bundle. A host section needs at least one value (the
// INI reader drops empty sections); a template with no host to render for is an error.

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleetcast::protocol::bundle {

class RenderError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::string_view kHostValuesName = "hosts.ini";
inline constexpr std::string_view kTemplateSuffix = ".tmpl";

using Values = std::vector<std::pair<std::string, std::string>>;

// `text` with every {{ key }} replaced; throws RenderError naming `where` and the key when a
// value is missing or a placeholder is not closed.
std::string render(std::string_view text, const Values& values, std::string_view where);

// Whether `dir` has anything to render (hosts.ini or a template).
bool has_templates(const std::filesystem::path& dir);

// Copies `dir` to `out` (which must not exist) with every template rendered for every host of
// hosts.ini. Refuses a template without hosts.ini, a host section that is not a host name, and
// a rendered file that the directory already has under hosts/<host>/. Returns the host names.
std::vector<std::string> render_directory(const std::filesystem::path& dir,
                                          const std::filesystem::path& out);

}  // namespace fleetcast::protocol::bundle
