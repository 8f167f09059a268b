// Bundle format: seal, manifest, safe extraction. Hostile archives are built with libarchive
// directly, so each refusal is checked against the exact entry an attacker would send.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "protocol/bundle/archive.hpp"
#include "protocol/bundle/crypt.hpp"
#include "protocol/bundle/render.hpp"
#include "protocol/bundle/seal.hpp"
#include "tests/unit/protocol/test_keys.hpp"

namespace fleetcast::protocol::bundle {
namespace {
namespace fs = std::filesystem;

struct Member {
  std::string path;
  unsigned type = AE_IFREG;
  std::string data;
  std::string link;  // symlink target, or hard link target when `hard`
  bool hard = false;
};
Member m_file(std::string path, std::string data = "x") {
  return {std::move(path), AE_IFREG, std::move(data), "", false};
}
Member m_symlink(std::string path, std::string target) {
  return {std::move(path), AE_IFLNK, "", std::move(target), false};
}
Member m_hardlink(std::string path, std::string target) {
  return {std::move(path), AE_IFREG, "", std::move(target), true};
}
Member m_special(std::string path, unsigned type) {
  return {std::move(path), type, "", "", false};
}

la_ssize_t append(archive*, void* out, const void* buf, std::size_t n) {
  auto* v = static_cast<std::vector<std::uint8_t>*>(out);
  v->insert(v->end(), static_cast<const std::uint8_t*>(buf),
            static_cast<const std::uint8_t*>(buf) + n);
  return static_cast<la_ssize_t>(n);
}

// A tar.zst with exactly these members (no validation: that is what is under test).
std::vector<std::uint8_t> raw_archive(const std::vector<Member>& members) {
  std::vector<std::uint8_t> out;
  archive* a = archive_write_new();
  archive_write_add_filter_zstd(a);
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);  // no zero padding after the zstd frame
  archive_write_open(a, &out, nullptr, append, nullptr);
  for (const Member& m : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.path.c_str());
    archive_entry_set_filetype(e, m.type);
    archive_entry_set_perm(e, 0644);
    if (m.type == AE_IFLNK) archive_entry_set_symlink(e, m.link.c_str());
    if (m.hard) archive_entry_set_hardlink(e, m.link.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(m.data.size()));
    archive_write_header(a, e);
    if (!m.data.empty()) archive_write_data(a, m.data.data(), m.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

constexpr std::string_view kManifest =
    "[bundle]\nname = pool\nversion = 2\nkind = config-files\n\n"
    "[file:motd]\nsource = motd\ntarget = /etc/motd\nmode = 0644\n";

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string leaf = "fc-bundle-";  // appended, not "lit" + temporary: GCC 12 -Wrestrict
    leaf.append(std::to_string(::getpid())).append("-");
    leaf.append(::testing::UnitTest::GetInstance()->current_test_info()->name());
    dir_ = fs::temp_directory_path() / leaf;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // The reason extract() refuses `members`, or "" when it accepts them.
  std::string refusal(const std::vector<Member>& members, Limits limits = {}) {
    fs::remove_all(dir_ / "staging");
    try {
      extract(raw_archive(members), dir_ / "staging", limits);
      return "";
    } catch (const ArchiveError& e) {
      return e.what();
    }
  }
  fs::path dir_;
};

// A sealed bundle opens with the manager's key; any flipped byte or another key is refused.
TEST_F(BundleTest, SealDetectsTamperingAndWrongKeys) {
  const SecretKey key = SecretKey::generate();
  const auto content = raw_archive({m_file("manifest.ini", std::string(kManifest))});
  const auto sealed = seal(content, key);
  ASSERT_EQ(sealed.size(), content.size() + kSealBytes);
  const Opened ok = open(sealed, key.public_key());
  ASSERT_TRUE(ok.ok) << ok.reason;
  EXPECT_EQ(ok.content.size(), content.size());
  for (std::size_t i = 0; i < sealed.size(); i += 7) {
    auto bad = sealed;
    bad[i] ^= 0x20;
    EXPECT_FALSE(open(bad, key.public_key()).ok) << "byte " << i;
  }
  EXPECT_NE(open(sealed, SecretKey::generate().public_key()).reason.find("not by the trusted"),
            std::string::npos);
  const auto truncated = std::span(sealed).first(sealed.size() - 1);
  EXPECT_NE(open(truncated, key.public_key()).reason.find("no fleetcast seal"), std::string::npos);
}

// pack_directory round-trips through extract, manifest first, host overlay resolved per host.
TEST_F(BundleTest, PackExtractAndResolvePerHost) {
  const fs::path src = dir_ / "src";
  fs::create_directories(src / "hosts/h1");
  std::ofstream(src / "manifest.ini") << kManifest;
  std::ofstream(src / "motd") << "common\n";
  std::ofstream(src / "hosts/h1/motd") << "only h1\n";
  Manifest m;
  const auto content = pack_directory(src, &m);
  EXPECT_EQ(m.name, "pool");
  EXPECT_EQ(read_manifest(content).version, 2u);
  const auto entries = list_entries(content, {});
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(entries[0].path, "manifest.ini");
  extract(content, dir_ / "staging", {});
  resolve_for_host(dir_ / "staging", "h1", dir_ / "h1");
  resolve_for_host(dir_ / "staging", "h2", dir_ / "h2");
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  EXPECT_EQ(slurp(dir_ / "h1/motd"), "only h1\n");
  EXPECT_EQ(slurp(dir_ / "h2/motd"), "common\n");
  EXPECT_FALSE(fs::exists(dir_ / "h2/hosts"));
}

// Templates rendered per host on the manager: each host gets its own values, defaults apply,
// hosts.ini and the templates stay out of the bundle.
TEST_F(BundleTest, TemplatesRenderOneFilePerHost) {
  const fs::path src = dir_ / "src";
  fs::create_directories(src);
  std::ofstream(src / "manifest.ini") << kManifest;
  std::ofstream(src / "motd.tmpl") << "{{host}}: subnet {{ subnet }}, router {{router}}\n";
  std::ofstream(src / "hosts.ini") << "[*]\nrouter = .1\n[school-1]\nsubnet = 10.1.0.0/24\n"
                                      "[school-2]\nsubnet = 10.2.0.0/24\nrouter = .254\n";
  ASSERT_TRUE(has_templates(src));
  const auto hosts = render_directory(src, dir_ / "rendered");
  EXPECT_EQ(hosts, (std::vector<std::string>{"school-1", "school-2"}));
  Manifest m;
  const auto content = pack_directory(dir_ / "rendered", &m);
  for (const auto& e : list_entries(content, {})) {
    EXPECT_EQ(e.path.find(".tmpl"), std::string::npos) << e.path;
    EXPECT_NE(e.path, "hosts.ini");
  }
  extract(content, dir_ / "staging", {});
  resolve_for_host(dir_ / "staging", "school-2", dir_ / "s2");
  std::ifstream in(dir_ / "s2/motd");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), {}),
            "school-2: subnet 10.2.0.0/24, router .254\n");
}

TEST_F(BundleTest, TemplateErrorsNameTheHostAndKey) {
  const auto what = [](auto f) {
    try {
      f();
      return std::string();
    } catch (const RenderError& e) {
      return std::string(e.what());
    }
  };
  EXPECT_EQ(render("a {{x}} b", {{"x", "1"}}, "t"), "a 1 b");
  EXPECT_NE(what([] {
              render("{{ nope }}", {}, "dhcpd.conf.tmpl for h1");
            }).find("dhcpd.conf.tmpl for h1: no value for 'nope'"),
            std::string::npos);
  EXPECT_NE(what([] { render("x {{ open", {}, "t"); }).find("never closed"), std::string::npos);
  const fs::path src = dir_ / "src";
  fs::create_directories(src / "hosts/h1");
  std::ofstream(src / "manifest.ini") << kManifest;
  std::ofstream(src / "motd.tmpl") << "{{host}}\n";
  EXPECT_NE(what([&] { render_directory(src, dir_ / "a"); }).find("needs hosts.ini"),
            std::string::npos);
  std::ofstream(src / "hosts.ini") << "[h1]\n";  // an empty section: no host at all
  EXPECT_NE(what([&] { render_directory(src, dir_ / "c"); }).find("names no host"),
            std::string::npos);
  std::ofstream(src / "hosts.ini") << "[h1]\nx = 1\n";
  std::ofstream(src / "hosts/h1/motd") << "by hand\n";
  EXPECT_NE(what([&] { render_directory(src, dir_ / "b"); }).find("exists already"),
            std::string::npos);
}

// A manifest naming a file the bundle lacks, or a link in the source tree, is refused at create.
TEST_F(BundleTest, PackRefusesMissingPayloadAndLinks) {
  const fs::path src = dir_ / "src";
  fs::create_directories(src);
  std::ofstream(src / "manifest.ini") << kManifest;
  EXPECT_THROW(pack_directory(src, nullptr), ArchiveError);
  std::ofstream(src / "motd") << "x";
  fs::create_symlink("/etc/passwd", src / "evil");
  EXPECT_THROW(pack_directory(src, nullptr), ArchiveError);
}

// Every hostile entry kind is refused with a reason that names it.
TEST_F(BundleTest, ExtractRefusesHostileEntries) {
  EXPECT_NE(refusal({m_file("../etc/passwd", "x")}).find("'..'"), std::string::npos);
  EXPECT_NE(refusal({m_file("a/../../x", "x")}).find("'..'"), std::string::npos);
  EXPECT_NE(refusal({m_file("/etc/passwd", "x")}).find("absolute"), std::string::npos);
  EXPECT_NE(refusal({m_symlink("l", "/etc")}).find("outside"), std::string::npos);
  EXPECT_NE(refusal({m_symlink("d/l", "../../etc")}).find("outside"), std::string::npos);
  // A chain whose lexical form stays inside but whose real path leaves.
  EXPECT_NE(refusal({m_symlink("a", "."), m_symlink("b/c", "../a/..")}).find("outside"),
            std::string::npos);
  EXPECT_NE(refusal({m_hardlink("h", "/etc/shadow")}).find("outside"), std::string::npos);
  EXPECT_NE(refusal({m_special("dev", AE_IFCHR)}).find("device"), std::string::npos);
  EXPECT_NE(refusal({m_special("fifo", AE_IFIFO)}).find("device"), std::string::npos);
  EXPECT_NE(refusal({m_file("x", "1"), m_file("x", "2")}).find("duplicate"), std::string::npos);
  // Writing through a link is impossible: a link is never a parent.
  EXPECT_NE(refusal({m_symlink("l", "sub"), m_symlink("l/x", "y")}).find("not a directory"),
            std::string::npos);
  // Accepted: a link that stays inside, a hard link to an earlier file.
  EXPECT_EQ(refusal({m_file("sub/f", "x"), m_symlink("l", "sub/f"), m_hardlink("h", "sub/f")}), "");
}

// Decompression bombs: bounded bytes and entries, counted while decompressing.
TEST_F(BundleTest, ExtractBoundsSizeAndEntryCount) {
  const std::string big(1 << 20, 'A');  // compresses to almost nothing
  EXPECT_NE(refusal({m_file("a", big), m_file("b", big)}, Limits{(3u << 20) / 2, 100})
                .find("decompression bomb"),
            std::string::npos);
  std::vector<Member> many;
  for (int i = 0; i < 20; ++i) many.push_back(m_file(std::string(1, static_cast<char>('a' + i))));
  EXPECT_NE(refusal(many, Limits{1 << 20, 10}).find("entries"), std::string::npos);
}

// Garbage or a truncated compressed stream is an error, never a crash or a partial success.
TEST_F(BundleTest, ExtractRefusesCorruptContent) {
  auto content = raw_archive({m_file("manifest.ini", std::string(kManifest))});
  content.resize(content.size() / 2);
  EXPECT_THROW(extract(content, dir_ / "s1", {}), ArchiveError);
  std::vector<std::uint8_t> noise(4096);
  std::mt19937 rng(7);
  for (auto& b : noise) b = static_cast<std::uint8_t>(rng());
  EXPECT_THROW(extract(noise, dir_ / "s2", {}), ArchiveError);
}

// Manifest validation names the section, key and value.
TEST(ManifestTest, RefusesBadManifests) {
  auto why = [](std::string_view ini) -> std::string {
    try {
      parse_manifest(ini);
      return "";
    } catch (const ManifestError& e) {
      return e.what();
    }
  };
  EXPECT_EQ(why(kManifest), "");
  EXPECT_NE(why("[bundle]\nname = x\nversion = 1\nkind = rootkit\n").find("kind 'rootkit'"),
            std::string::npos);
  EXPECT_NE(why("[bundle]\nname = x\nversion = 01\nkind = backup\n").find("version"),
            std::string::npos);
  EXPECT_NE(why("[bundle]\nname = x\nversion = 1\nkind = dhcp-server\n[dhcp-server]\n"
                "server = dhcpd\nconfig = ../x\n")
                .find("not a safe"),
            std::string::npos);
  EXPECT_NE(why("[bundle]\nname = x\nversion = 1\nkind = dhcp-server\n[dhcp-server]\n"
                "server = dhcpd\nconfig = a\nkeep-old-range = yes\n")
                .find("unknown key 'keep-old-range'"),
            std::string::npos);
  EXPECT_NE(why("[bundle]\nname = x\nversion = 1\nkind = config-files\n[file:a]\n"
                "source = a\ntarget = etc/a\n")
                .find("absolute"),
            std::string::npos);
  EXPECT_NE(why("[bundle]\nname = x\nname = y\n").find("line"), std::string::npos);
}

}  // namespace
}  // namespace fleetcast::protocol::bundle

namespace fleetcast::protocol::bundle {
namespace {

// Encryption (crypt.hpp): every recipient, and only a recipient, gets the exact content back;
// a cut, a flipped byte anywhere, or a changed recipient table gives nothing; the content is
// not readable in the envelope; 0 bytes and several chunks both work.
TEST(BundleCrypt, OnlyRecipientsReadIt) {
  const SecretKey a = protocol::testing::seeded_key(21), b = protocol::testing::seeded_key(22),
                  outsider = protocol::testing::seeded_key(23);
  for (const std::size_t size : {std::size_t{0}, std::size_t{5}, std::size_t{200000}}) {
    std::vector<std::uint8_t> plain(size);
    std::mt19937_64 rng(size);
    for (auto& c : plain) c = static_cast<std::uint8_t>(rng());
    const std::string marker = "SECRET-MARKER-0123456789";
    if (size >= marker.size()) std::copy(marker.begin(), marker.end(), plain.begin());
    const auto env = encrypt(plain, {a.public_key(), b.public_key()});
    ASSERT_TRUE(is_encrypted(env));
    EXPECT_EQ(recipients(env)->size(), 2u);
    EXPECT_EQ(std::search(env.begin(), env.end(), marker.begin(), marker.end()), env.end());
    for (const SecretKey* k : {&a, &b}) {
      const auto d = decrypt(env, *k);
      ASSERT_TRUE(d.ok) << d.reason;
      EXPECT_EQ(d.plain, plain);
    }
    const auto no = decrypt(env, outsider);
    EXPECT_FALSE(no.ok);
    EXPECT_NE(no.reason.find("not for this host"), std::string::npos) << no.reason;
    EXPECT_TRUE(no.plain.empty());
    for (const std::size_t at : {std::size_t{20}, env.size() / 2, env.size() - 1}) {
      auto bad = env;
      bad[at] ^= 1;
      EXPECT_FALSE(decrypt(bad, a).ok) << "flipped byte " << at;
    }
    EXPECT_FALSE(decrypt(std::span(env).first(env.size() - 1), a).ok);
    auto longer = env;
    longer.push_back(0);
    EXPECT_FALSE(decrypt(longer, a).ok);
  }
  EXPECT_FALSE(recipients(std::vector<std::uint8_t>(8, 'x')));
}

// Issue 26, item 5: with --encrypt each host's overlay is sealed to that host (and the manager):
// the outer content names no overlay in clear, a host opens only its own, and another host's
// key (a reader of the same bundle) opens nothing of it.
TEST_F(BundleTest, secretOverlaysAreSealedToTheirHost) {
  const SecretKey manager = protocol::testing::seeded_key(30),
                  h1 = protocol::testing::seeded_key(31), h2 = protocol::testing::seeded_key(32);
  const fs::path src = dir_ / "src";
  fs::create_directories(src / "hosts/h1");
  fs::create_directories(src / "hosts/h2");
  fs::create_directories(src / "hosts/h3");
  std::ofstream(src / "manifest.ini") << kManifest;
  std::ofstream(src / "motd") << "common\n";
  std::ofstream(src / "hosts/h1/motd") << "OMAPI-SECRET-OF-H1\n";
  std::ofstream(src / "hosts/h2/motd") << "OMAPI-SECRET-OF-H2\n";
  std::ofstream(src / "hosts/h3/motd") << "NOT-A-READER\n";
  const OverlaySealer seal =
      [&](const std::string& host,
          std::span<const std::uint8_t> tar) -> std::optional<std::vector<std::uint8_t>> {
    if (host == "h1") return encrypt(tar, {manager.public_key(), h1.public_key()});
    if (host == "h2") return encrypt(tar, {manager.public_key(), h2.public_key()});
    return std::nullopt;  // h3 reads no overlay
  };
  const auto content = pack_directory(src, nullptr, seal);
  for (const std::string marker : {"OMAPI-SECRET-OF-H1", "OMAPI-SECRET-OF-H2", "NOT-A-READER"}) {
    EXPECT_EQ(std::search(content.begin(), content.end(), marker.begin(), marker.end()),
              content.end())
        << marker;
  }
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  struct Case {
    const SecretKey* key;
    std::string host, motd;
  };
  for (const Case& c : {Case{&h1, "h1", "OMAPI-SECRET-OF-H1\n"},
                        Case{&h2, "h2", "OMAPI-SECRET-OF-H2\n"}, Case{&h1, "h2", "common\n"}}) {
    const fs::path staging = dir_ / ("staging-" + c.host + std::to_string(c.key == &h1));
    extract(content, staging, {});
    const auto opened = open_overlays(staging, *c.key, {});
    ASSERT_EQ(opened.size(), 1u);
    EXPECT_FALSE(fs::exists(staging / "hosts/h1.fcc") || fs::exists(staging / "hosts/h2.fcc"));
    const fs::path payload = fs::path(staging.string() + "-payload");
    resolve_for_host(staging, c.host, payload);
    EXPECT_EQ(slurp(payload / "motd"), c.motd) << c.host;
  }
  // The manager opens every overlay (the DHCP lint reads them).
  extract(content, dir_ / "staging-manager", {});
  EXPECT_EQ(open_overlays(dir_ / "staging-manager", manager, {}).size(), 2u);
}

}  // namespace
}  // namespace fleetcast::protocol::bundle
