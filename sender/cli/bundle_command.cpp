#include "sender/cli/bundle_command.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include "protocol/bundle/archive.hpp"
#include "protocol/bundle/crypt.hpp"
#include "protocol/bundle/open.hpp"
#include "protocol/bundle/render.hpp"
#include "protocol/bundle/seal.hpp"
#include "protocol/control.hpp"
#include "protocol/io/file.hpp"
#include "protocol/io/key_file.hpp"
#include "protocol/text.hpp"
#include "sender/fleet/inventory.hpp"

namespace fleetcast::sender {
namespace p = protocol;
namespace b = protocol::bundle;
namespace {

p::PublicKey trusted_key(const BundleOptions& o) {
  if (o.manager_pub) return p::io::load_public_key(*o.manager_pub).key;
  if (o.key) return p::io::load_secret_key(*o.key).public_key();
  throw std::runtime_error("--manager-pub or --key is required to verify the bundle");
}

void print_manifest(const b::Manifest& m) {
  std::printf("name        %s\nversion     %llu\nkind        %s\n", m.name.c_str(),
              static_cast<unsigned long long>(m.version), m.kind.c_str());
  std::string targets;
  for (const auto& t : m.targets) targets += (targets.empty() ? "" : ",") + t;
  std::printf("targets     %s\napply       timeout %llds\n",
              targets.empty() ? "*" : targets.c_str(),
              static_cast<long long>(m.apply_timeout.count()));
  if (!m.description.empty()) std::printf("description %s\n", m.description.c_str());
  for (const auto& [k, v] : m.settings) std::printf("  %s = %s\n", k.c_str(), v.c_str());
  for (const auto& f : m.files) {
    std::printf("  file:%s %s -> %s %s:%s %04o%s%s\n", f.id.c_str(),
                f.source.empty() ? "-" : f.source.c_str(), f.target.c_str(), f.owner.c_str(),
                f.group.c_str(), f.mode,
                f.validate.empty() ? "" : " validate: ", f.validate.c_str());
  }
}

// Verifies or throws with the reason.
std::string manifest_text(const std::filesystem::path& dir) {
  const auto bytes = p::io::read_file(dir / b::kManifestName);
  return std::string(bytes.begin(), bytes.end());
}

// The hosts an encrypted bundle is for: the inventory hosts the manifest targets (all when it
// names none), narrowed by --hosts, which may name only such hosts.
std::vector<const Host*> encryption_readers(const Inventory& inv, const BundleOptions& o,
                                            const b::Manifest& m) {
  const p::Targets targets = m.targets.empty() ? p::Targets::all() : p::Targets{m.targets};
  std::vector<const Host*> out;
  for (const std::string& name : o.encrypt_hosts) {
    const Host* h = inv.find(name);
    if (!h) throw std::runtime_error("--hosts: " + name + " is not in the inventory");
    if (!targets.includes(h->name, h->groups)) {
      throw std::runtime_error("--hosts: " + name + " is not among the manifest's targets");
    }
  }
  for (const Host& h : inv.hosts()) {
    if (!targets.includes(h.name, h.groups)) continue;
    if (!o.encrypt_hosts.empty() && std::find(o.encrypt_hosts.begin(), o.encrypt_hosts.end(),
                                              h.name) == o.encrypt_hosts.end()) {
      continue;
    }
    out.push_back(&h);
  }
  if (out.empty()) throw std::runtime_error("--encrypt: no host to encrypt for");
  return out;
}

}  // namespace

int bundle_create_command(const BundleOptions& o) {
  if (!o.key) throw std::runtime_error("bundle create: --key is required");
  const p::SecretKey key = p::io::load_secret_key(*o.key);
  // --encrypt: the hosts that may read it, by default the manifest's targets (narrowed by
  // --hosts), and each host's overlay sealed to that host alone.
  std::vector<const Host*> readers;
  std::optional<Inventory> inv;
  if (o.encrypt_for) {
    inv = Inventory::load(*o.encrypt_for);
    readers = encryption_readers(*inv, o, b::parse_manifest(manifest_text(o.input)));
  }
  const b::OverlaySealer seal =
      [&](const std::string& host,
          std::span<const std::uint8_t> tar) -> std::optional<std::vector<std::uint8_t>> {
    const auto it = std::find_if(readers.begin(), readers.end(),
                                 [&](const Host* h) { return h->name == host; });
    if (it == readers.end()) {
      std::printf("hosts/%s/: left out (not a reader of this encrypted bundle)\n", host.c_str());
      return std::nullopt;
    }
    return b::encrypt(tar, {key.public_key(), (*it)->key});
  };
  b::Manifest manifest;
  std::vector<std::uint8_t> content;
  if (b::has_templates(o.input)) {
    // Per-host files rendered from templates and hosts.ini, in a private copy of DIR.
    const p::io::TempDir scratch("fleetcast-render");
    const auto hosts = b::render_directory(o.input, scratch.path() / "dir");
    std::printf("rendered templates for %zu host(s)\n", hosts.size());
    content = b::pack_directory(scratch.path() / "dir", &manifest, inv ? seal : b::OverlaySealer{});
  } else {
    content = b::pack_directory(o.input, &manifest, inv ? seal : b::OverlaySealer{});
  }
  if (inv) {
    std::vector<p::PublicKey> recipients{key.public_key()};  // the manager reads its manifest
    for (const Host* h : readers) recipients.push_back(h->key);
    content = b::encrypt(content, recipients);
  }
  const auto sealed = b::seal(std::move(content), key);
  p::io::write_file_atomic(o.output, sealed, 0644);
  std::printf("%s: %s version %llu (%s), %zu bytes, digest %s", o.output.c_str(),
              manifest.name.c_str(), static_cast<unsigned long long>(manifest.version),
              manifest.kind.c_str(), sealed.size(), p::text::hex(p::digest(sealed)).c_str());
  if (inv) {
    std::string names;
    for (const Host* h : readers) names += (names.empty() ? "" : ",") + h->name;
    std::printf(", encrypted for %zu host(s) (%s) and this manager", readers.size(), names.c_str());
  }
  std::printf("\n");
  return 0;
}

int bundle_seal_command(const BundleOptions& o) {
  const p::SecretKey key = p::io::load_secret_key(*o.key);
  auto content = p::io::read_file(o.input);
  const b::Manifest manifest = b::read_manifest(content);  // throws when it is no bundle
  if (!o.allow_unsafe) {
    // What every receiver does with it, here first: extraction with all its refusals.
    const p::io::TempDir scratch("fleetcast-seal");
    try {
      b::extract(content, scratch.path() / "staging", b::Limits{});
    } catch (const std::exception& e) {
      throw std::runtime_error(o.input.string() + ": receivers would refuse it: " + e.what());
    }
  }
  const auto sealed = b::seal(std::move(content), key);
  p::io::write_file_atomic(o.output, sealed, 0644);
  std::printf("%s: %s version %llu (%s), %zu bytes, digest %s%s\n", o.output.c_str(),
              manifest.name.c_str(), static_cast<unsigned long long>(manifest.version),
              manifest.kind.c_str(), sealed.size(), p::text::hex(p::digest(sealed)).c_str(),
              o.allow_unsafe ? " (not checked: --allow-unsafe)" : "");
  return 0;
}

// The bundle FILE opened with --key (a recipient of an encrypted one) or --manager-pub.
b::OpenedBundle opened_bundle(const p::io::InputFile& file, const BundleOptions& o) {
  std::optional<p::SecretKey> own;
  if (o.key) own = p::io::load_secret_key(*o.key);
  auto opened = b::open_bundle(file, trusted_key(o), own ? &*own : nullptr);
  if (opened.encrypted) {
    std::printf("encrypted   for %zu key(s) (opened with --key)\n", opened.readers.size());
  }
  return opened;
}

int bundle_verify_command(const BundleOptions& o) {
  const auto file = p::io::InputFile::open(o.input);
  try {
    const b::OpenedBundle opened = opened_bundle(*file, o);
    const b::Manifest& m = opened.manifest;
    std::printf("%s: OK: %s version %llu signed by %s, digest %s\n", o.input.c_str(),
                m.name.c_str(), static_cast<unsigned long long>(m.version),
                p::text::hex64(opened.seal.signer.value).c_str(),
                p::text::hex(file->digest()).c_str());
  } catch (const b::Refused& e) {
    std::printf("%s: REFUSED: %s\n", o.input.c_str(), e.what());
    return 1;
  }
  return 0;
}

int bundle_inspect_command(const BundleOptions& o) {
  const auto file = p::io::InputFile::open(o.input);
  b::OpenedBundle opened;
  try {
    opened = opened_bundle(*file, o);
  } catch (const b::Refused& e) {
    throw std::runtime_error(o.input.string() + ": refused: " + e.what());
  }
  std::printf("bundle      %s (%llu bytes)\ndigest      %s\nsigned by   %s (verified)\n",
              o.input.c_str(), static_cast<unsigned long long>(file->size()),
              p::text::hex(file->digest()).c_str(),
              p::text::hex64(opened.seal.signer.value).c_str());
  print_manifest(opened.manifest);
  std::printf("files:\n");
  for (const auto& e : b::list_entries(opened.content(*file), b::Limits{})) {
    std::printf("  %c %04o %10llu  %s%s%s\n", e.type, e.mode,
                static_cast<unsigned long long>(e.size), e.path.c_str(),
                e.link.empty() ? "" : " -> ", e.link.c_str());
  }
  return 0;
}

}  // namespace fleetcast::sender
