#include "protocol/bundle/open.hpp"

#include "protocol/bundle/crypt.hpp"

namespace fleetcast::protocol::bundle {

std::vector<std::uint8_t> OpenedBundle::content(const io::InputFile& file) const {
  return encrypted ? plain : read_content(file, seal);
}

void OpenedBundle::extract_to(const io::InputFile& file, const std::filesystem::path& staging,
                              const Limits& limits) const {
  if (encrypted) {
    extract(plain, staging, limits);
  } else {
    extract(file, seal.content_size, staging, limits);
  }
}

OpenedBundle open_bundle(const io::InputFile& file, const PublicKey& manager,
                         const SecretKey* own) {
  const Opened opened = open(file, manager);
  if (!opened.ok) throw Refused(opened.reason);
  OpenedBundle b;
  b.seal = opened.seal;
  b.encrypted = opened.encrypted;
  if (b.encrypted) {
    const auto sealed = read_content(file, opened.seal);
    b.readers = recipients(sealed).value_or(std::vector<KeyId>{});
    if (own == nullptr) {
      throw Refused("encrypted for " + std::to_string(b.readers.size()) +
                    " key(s), and no key of a recipient to open it");
    }
    auto d = decrypt(sealed, *own);
    if (!d.ok) throw Refused(d.reason);
    b.plain = std::move(d.plain);
  }
  try {
    b.manifest = b.encrypted ? read_manifest(b.plain) : read_manifest(file, b.seal.content_size);
  } catch (const std::exception& e) {
    throw Refused(e.what());
  }
  return b;
}

}  // namespace fleetcast::protocol::bundle
