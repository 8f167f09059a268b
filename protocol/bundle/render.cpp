#include "protocol/bundle/render.hpp"

#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <algorithm>

#include "protocol/bundle/manifest.hpp"
#include "protocol/io/file.hpp"
#include "protocol/signature.hpp"
#include "protocol/text.hpp"

namespace fleetcast::protocol::bundle {
namespace {

namespace fs = std::filesystem;
namespace pt = boost::property_tree;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_template(const fs::path& p) {
  return p.filename().string().ends_with(kTemplateSuffix);
}

}  // namespace

std::string render(std::string_view text, const Values& values, std::string_view where) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    const std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      throw RenderError(std::string(where) + ": '{{' at offset " + std::to_string(open) +
                        " is never closed");
    }
    const std::string key(trim(text.substr(open + 2, close - open - 2)));
    const auto v = std::find_if(values.rbegin(), values.rend(),
                                [&](const auto& kv) { return kv.first == key; });
    if (v == values.rend()) throw RenderError(std::string(where) + ": no value for '" + key + "'");
    out.append(text.substr(pos, open - pos)).append(v->second);
    pos = close + 2;
  }
  out.append(text.substr(pos));
  return out;
}

bool has_templates(const fs::path& dir) {
  if (fs::exists(dir / kHostValuesName)) return true;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && is_template(e.path())) return true;
  }
  return false;
}

std::vector<std::string> render_directory(const fs::path& dir, const fs::path& out) {
  std::vector<fs::path> templates;  // relative to dir
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const fs::path rel = e.path().lexically_relative(dir);
    if (e.is_regular_file() && is_template(e.path())) {
      if (*rel.begin() == kHostsDir) {
        throw RenderError(rel.string() + ": templates belong outside hosts/ (rendered into it)");
      }
      templates.push_back(rel);
    }
  }
  const fs::path values_file = dir / kHostValuesName;
  if (!templates.empty() && !fs::exists(values_file)) {
    throw RenderError(templates.front().string() + " needs " + std::string(kHostValuesName) +
                      " with one section of values per host");
  }
  pt::ptree tree;
  if (fs::exists(values_file)) {
    try {
      pt::ini_parser::read_ini(values_file.string(), tree);
    } catch (const pt::ini_parser_error& e) {
      throw RenderError(std::string(kHostValuesName) + " line " + std::to_string(e.line()) + ": " +
                        e.message());
    }
  }
  Values defaults;
  if (auto d = tree.get_child_optional("*")) {
    for (const auto& [k, v] : *d) defaults.emplace_back(k, v.data());
  }

  fs::copy(dir, out, fs::copy_options::recursive);
  fs::remove(out / kHostValuesName);
  for (const auto& t : templates) fs::remove(out / t);

  std::vector<std::string> hosts;
  for (const auto& [host, section] : tree) {
    if (host == "*") continue;
    if (!text::is_host_name(host)) {
      throw RenderError(std::string(kHostValuesName) + ": [" + host + "] is not a host name");
    }
    Values values = defaults;
    values.emplace_back("host", host);
    for (const auto& [k, v] : section) values.emplace_back(k, v.data());
    for (const auto& t : templates) {
      std::string name = t.string();
      name.resize(name.size() - kTemplateSuffix.size());
      const fs::path target = out / kHostsDir / host / name;
      if (fs::exists(target)) {
        throw RenderError(t.string() + ": " + (fs::path(kHostsDir) / host / name).string() +
                          " exists already; a file comes from a template or from hosts/, not both");
      }
      const auto bytes = io::read_file(dir / t);
      const std::string text(bytes.begin(), bytes.end());
      const std::string rendered = render(text, values, t.string() + " for " + host);
      fs::create_directories(target.parent_path());
      io::write_file_atomic(target, protocol::as_bytes(rendered), 0644);
    }
    hosts.push_back(host);
  }
  if (!templates.empty() && hosts.empty()) {
    throw RenderError(std::string(kHostValuesName) +
                      " names no host (a host section needs at least one value)");
  }
  return hosts;
}

}  // namespace fleetcast::protocol::bundle
