#include "protocol/bundle/manifest.hpp"

#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <algorithm>
#include <sstream>

#include "protocol/text.hpp"

namespace fleetcast::protocol::bundle {
namespace {

namespace pt = boost::property_tree;
constexpr std::size_t kMaxValue = 1024;
constexpr std::size_t kMaxFiles = 1000;

// Settings each kind's script understands (a typo is an error, not a silent default).
struct KindKeys {
  std::string_view kind;
  std::vector<std::string_view> keys;
  bool needs_files;
};
const std::vector<KindKeys>& kind_keys() {
  static const std::vector<KindKeys> table = {
      {"dhcp-server",
       {"server", "config", "keep-old-ranges", "probe", "failover-timeout", "ha-timeout", "health",
        "health-timeout"},
       false},
      {"config-files", {"reload", "health", "health-timeout"}, true},
      {"patch", {"script", "packages", "check-script", "verify-script"}, false},
      {"backup", {}, true},
      {"restore", {"backup", "backup-version"}, true},
  };
  return table;
}

[[noreturn]] void fail(std::string_view where, std::string_view what) {
  throw ManifestError("manifest.ini: " + std::string(where) + ": " + std::string(what));
}

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

std::string value_of(const pt::ptree& section, std::string_view where, const std::string& key) {
  const std::string v = section.get<std::string>(key);
  if (v.size() > kMaxValue || !printable(v)) {
    fail(where, key + " must be printable ASCII of at most 1024 bytes");
  }
  return v;
}

std::uint64_t number(std::string_view where, const std::string& key, const std::string& v,
                     std::uint64_t min, std::uint64_t max) {
  auto r = text::parse_decimal(v, min, max, "manifest");
  if (!r) {
    fail(where, key + " = '" + v + "' is not a number in " + std::to_string(min) + ".." +
                    std::to_string(max));
  }
  return r.value();
}

void check_yes_no(const Manifest& m, std::string_view key) {
  const std::string v = m.setting(key, "no");
  if (v != "yes" && v != "no")
    fail(m.kind, std::string(key) + " must be yes or no, not '" + v + "'");
}

FileSpec parse_file(const std::string& section_name, const pt::ptree& s) {
  FileSpec f;
  f.id = section_name.substr(5);
  if (!text::is_token(f.id)) fail(section_name, "file id must be 1..32 of [a-z0-9-]");
  for (const auto& [key, node] : s) {
    if (!node.empty()) fail(section_name, "nested key " + key);
    const std::string v = value_of(s, section_name, key);
    if (key == "source") {
      if (!is_safe_relative_path(v)) fail(section_name, "source '" + v + "' is not a safe path");
      f.source = v;
    } else if (key == "target") {
      if (v.empty() || v[0] != '/' || !is_safe_relative_path(v.substr(1))) {
        fail(section_name, "target '" + v + "' must be an absolute path without . or ..");
      }
      f.target = v;
    } else if (key == "owner" || key == "group") {
      if (!text::is_group_name(v)) fail(section_name, key + " '" + v + "' is not a user name");
      (key == "owner" ? f.owner : f.group) = v;
    } else if (key == "mode") {
      if (v.size() != 4 || v[0] != '0' ||
          !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        fail(section_name, "mode '" + v + "' must be four octal digits like 0644");
      }
      f.mode = static_cast<std::uint32_t>(std::stoul(v, nullptr, 8));
    } else if (key == "validate") {
      f.validate = v;
    } else {
      fail(section_name, "unknown key '" + key + "'");
    }
  }
  if (f.target.empty()) fail(section_name, "target is required");
  return f;
}

}  // namespace

bool is_safe_relative_path(std::string_view path) {
  if (path.empty() || path.size() > 1024 || !printable(path) || path.front() == '/') return false;
  for (const auto& part : text::split(path, '/')) {
    if (part.empty() || part == "." || part == ".." || part.find('\\') != std::string::npos) {
      return false;
    }
  }
  return true;
}

std::string Manifest::setting(std::string_view key, std::string_view fallback) const {
  for (const auto& [k, v] : settings) {
    if (k == key) return v;
  }
  return std::string(fallback);
}

std::vector<std::string> Manifest::payload_paths() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : settings) {
    if (k == "config" || k == "script" || k.ends_with("-script")) out.push_back(v);
    if (k == "packages") {
      for (auto& p : text::split(v, ',')) out.push_back(p);
    }
  }
  for (const FileSpec& f : files) {
    if (!f.source.empty()) out.push_back(f.source);
  }
  return out;
}

namespace {

// The [bundle] section.
void read_bundle_section(const pt::ptree& bundle, Manifest& m) {
  for (const auto& [key, node] : bundle) {
    const std::string v = value_of(bundle, "[bundle]", key);
    if (key == "name") {
      if (!text::is_file_name(v) || !is_safe_relative_path(v))
        fail("[bundle]", "bad name '" + v + "'");
      m.name = v;
    } else if (key == "version") {
      m.version = number("[bundle]", key, v, 1, UINT64_MAX);
    } else if (key == "kind") {
      m.kind = v;
    } else if (key == "targets") {
      for (auto& t : text::split(v, ',')) {
        const bool ok = t == "*" || text::is_host_name(t) ||
                        (t.size() > 1 && t[0] == '@' && text::is_group_name(t.substr(1)));
        if (!ok) fail("[bundle]", "bad target '" + t + "' (host name, @group or *)");
        m.targets.push_back(t);
      }
    } else if (key == "apply-timeout") {
      m.apply_timeout =
          std::chrono::seconds(number("[bundle]", key, v, 1, kMaxApplyTimeout.count()));
    } else if (key == "description") {
      m.description = v;
    } else {
      fail("[bundle]", "unknown key '" + key + "'");
    }
  }
}

// What the kind requires of the settings and files, once they are read.
void check_kind(const Manifest& m, const KindKeys& spec) {
  const KindKeys* kind = &spec;
  if (kind->needs_files && m.files.empty()) fail("[file:*]", "kind " + m.kind + " needs files");
  if (m.kind == "config-files") {
    for (const auto& f : m.files) {
      if (f.source.empty()) fail("[file:" + f.id + "]", "source is required");
    }
  }
  if (m.kind == "dhcp-server") {
    const std::string server = m.setting("server");
    if (server != "dhcpd" && server != "kea4" && server != "dhcpd6" && server != "kea6") {
      fail("[dhcp-server]", "server must be dhcpd, kea4, dhcpd6 or kea6, not '" + server + "'");
    }
    if (m.setting("config").empty()) fail("[dhcp-server]", "config is required");
    check_yes_no(m, "keep-old-ranges");
    check_yes_no(m, "probe");
  }
  for (const char* key : {"failover-timeout", "ha-timeout", "health-timeout"}) {  // health gates
    const std::string t = m.setting(key);
    if (t.empty()) continue;
    const bool digits = t.size() <= 4 && t.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoi(t) < 1) {
      fail("[" + m.kind + "]", std::string(key) + " must be 1 to 9999 seconds, not '" + t + "'");
    }
  }
  if (m.kind == "patch" && m.setting("script").empty() && m.setting("packages").empty()) {
    fail("[patch]", "script or packages is required");
  }
  for (const auto& p : m.payload_paths()) {
    if (!is_safe_relative_path(p))
      fail(m.kind, "payload path '" + p + "' is not a safe relative path");
  }
}

}  // namespace

Manifest parse_manifest(std::string_view ini) {
  pt::ptree tree;
  try {
    std::istringstream in{std::string(ini)};
    pt::ini_parser::read_ini(in, tree);
  } catch (const pt::ini_parser_error& e) {
    throw ManifestError("manifest.ini line " + std::to_string(e.line()) + ": " + e.message());
  }
  Manifest m;
  const auto bundle = tree.get_child_optional("bundle");
  if (!bundle) fail("[bundle]", "section missing");
  read_bundle_section(*bundle, m);
  if (m.name.empty()) fail("[bundle]", "name is required");
  if (m.version == 0) fail("[bundle]", "version is required");
  const auto kind = std::find_if(kind_keys().begin(), kind_keys().end(),
                                 [&](const KindKeys& k) { return k.kind == m.kind; });
  if (kind == kind_keys().end()) {
    fail("[bundle]",
         "kind '" + m.kind + "' is not one of dhcp-server, config-files, patch, backup, restore");
  }
  for (const auto& [section, node] : tree) {
    if (section == "bundle") continue;
    if (section == m.kind) {
      for (const auto& [key, value] : node) {
        if (std::find(kind->keys.begin(), kind->keys.end(), key) == kind->keys.end()) {
          fail("[" + section + "]", "unknown key '" + key + "'");
        }
        m.settings.emplace_back(key, value_of(node, "[" + section + "]", key));
      }
    } else if (section.starts_with("file:")) {
      if (!kind->needs_files) fail("[" + section + "]", "kind " + m.kind + " takes no files");
      if (m.files.size() == kMaxFiles) fail("[" + section + "]", "too many files");
      m.files.push_back(parse_file(section, node));
    } else {
      fail("[" + section + "]", "unknown section (expected [" + m.kind + "] or [file:<id>])");
    }
  }
  check_kind(m, *kind);
  return m;
}

}  // namespace fleetcast::protocol::bundle
