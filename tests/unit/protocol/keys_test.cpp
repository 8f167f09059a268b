// Tests for protocol/keys.hpp, protocol/signature.hpp and protocol/io/key_file.hpp.

#include "protocol/keys.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "protocol/io/key_file.hpp"
#include "protocol/signature.hpp"
#include "protocol/text.hpp"
#include "tests/unit/protocol/test_keys.hpp"

namespace fleetcast::protocol {
namespace {

// BLAKE2b-256 matches an independent implementation (Python hashlib.blake2b, digest_size=32).
TEST(Keys, DigestGoldenVector) {
  EXPECT_EQ(text::hex(digest(as_bytes("fleetcast"))),
            "e6873303ee5858645afba3926d38dcded211b49dd44a1ca70bc230ff73039aee");
  Hasher h;
  h.update(as_bytes("fleet"));
  h.update(as_bytes("cast"));
  EXPECT_EQ(h.finish(), digest(as_bytes("fleetcast")));
}

// A seed determines the key, its ID and fingerprint; key files round-trip.
TEST(Keys, KeyFilesRoundTrip) {
  const SecretKey key = testing::seeded_key(0);
  EXPECT_EQ(text::hex64(key.key_id().value), "9d24e2eeaf27c2a0");
  EXPECT_EQ(encode_secret_key_file(key),
            "fleetcast-ed25519-secret-v1 "
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
  const std::string pub = encode_public_key_file(key.public_key(), "host-1");
  auto parsed = parse_public_key_file(pub);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->key, key.public_key());
  EXPECT_EQ(parsed->host_name, "host-1");
  auto secret = parse_secret_key_file(encode_secret_key_file(key));
  ASSERT_TRUE(secret);
  EXPECT_EQ(secret->public_key(), key.public_key());
  EXPECT_TRUE(fingerprint(key.public_key()).starts_with("blake2b:9d24:e2ee:af27:c2a0:"));
}

// Malformed key files are refused.
TEST(Keys, RejectsMalformedKeyFiles) {
  const std::string good = encode_public_key_file(testing::seeded_key(0).public_key(), "");
  EXPECT_TRUE(parse_public_key_file(good));
  EXPECT_FALSE(parse_public_key_file(good.substr(0, good.size() - 1)));  // no LF
  EXPECT_FALSE(parse_public_key_file(good.substr(0, good.size() - 3) + "\n"));
  EXPECT_FALSE(parse_public_key_file("fleetcast-ed25519-secret-v1 " + good.substr(28)));
  EXPECT_FALSE(parse_public_key_file(good.substr(0, good.size() - 1) + " bad_host\n"));
  EXPECT_FALSE(parse_public_key_file(good.substr(0, good.size() - 1) + " \n"));
  EXPECT_FALSE(parse_secret_key_file(good));
  EXPECT_FALSE(parse_secret_key_file(""));
}

// Signatures verify only with the right key, domain and bytes.
TEST(Keys, SignaturesAreDomainSeparated) {
  const SecretKey key = testing::seeded_key(0);
  const auto msg = as_bytes("hello");
  const Signature sig = sign(key, kCtrlSignDomain, msg);
  EXPECT_TRUE(verify(key.public_key(), kCtrlSignDomain, msg, sig));
  EXPECT_FALSE(verify(key.public_key(), kDataSignDomain, msg, sig));
  EXPECT_FALSE(verify(testing::seeded_key(1).public_key(), kCtrlSignDomain, msg, sig));
  EXPECT_FALSE(verify(key.public_key(), kCtrlSignDomain, as_bytes("hellp"), sig));
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("fleetcast-keys-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

// keygen writes 0600 / 0644, loads back, and never overwrites.
TEST_F(KeyFileTest, WritesPrivateSecretKeyAndRefusesOverwrite) {
  const SecretKey key = testing::seeded_key(7);
  io::write_key_pair(dir_, "host", key, "h1");
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "host.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ / "host.pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(io::load_secret_key(dir_ / "host.key").public_key(), key.public_key());
  EXPECT_EQ(io::load_public_key(dir_ / "host.pub").host_name, "h1");
  EXPECT_THROW(io::write_key_pair(dir_, "host", testing::seeded_key(8), ""), io::KeyFileError);
  EXPECT_EQ(io::load_secret_key(dir_ / "host.key").public_key(), key.public_key());
}

// A secret key readable by group or others is refused with the fix in the message.
TEST_F(KeyFileTest, RefusesOpenSecretKey) {
  io::write_key_pair(dir_, "m", testing::seeded_key(7), "");
  ::chmod((dir_ / "m.key").c_str(), 0640);
  try {
    io::load_secret_key(dir_ / "m.key");
    FAIL() << "loaded a group-readable secret key";
  } catch (const io::KeyFileError& e) {
    EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos) << e.what();
  }
  EXPECT_THROW(io::load_secret_key(dir_ / "missing.key"), io::KeyFileError);
  EXPECT_THROW(io::load_secret_key(dir_), io::KeyFileError);  // a directory
}

}  // namespace
}  // namespace fleetcast::protocol
