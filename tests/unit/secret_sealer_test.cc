// Secrets sealed with AES-256-GCM under AXION_MASTER_KEY: round trips bound to their owner,
// tampering and wrong keys refused with a clear reason, key rotation, and precise refusals of a
// malformed AXION_MASTER_KEY that never echo the key.
#include "infra/crypto/secret_sealer.h"

#include <gtest/gtest.h>

namespace axion::infra::crypto {
namespace {

// 32 bytes each, base64.
constexpr char kKeyA[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr char kKeyB[] = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

SecretSealer sealer(const std::string& spec) {
  auto s = SecretSealer::from_spec(spec);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return std::move(s).value();
}

TEST(SecretSealer, SealsAndOpensBoundToItsOwner) {
  const SecretSealer s = sealer(std::string("k1=") + kKeyA);
  auto sealed = s.seal("hunter2", "ssh:srv-1");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->key_id().substr(0, 3), "k1.");
  EXPECT_EQ(sealed->key_id(), s.sealing_key_id());
  EXPECT_EQ(sealed->nonce().size(), 12u);
  EXPECT_EQ(sealed->ciphertext().size(), 7u + 16u);
  EXPECT_EQ(sealed->ciphertext().find("hunter2"), std::string::npos);
  auto opened = s.open(*sealed, "ssh:srv-1");
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(*opened, "hunter2");
  // Fresh nonce each time: the same secret never seals to the same bytes.
  EXPECT_NE(s.seal("hunter2", "ssh:srv-1")->ciphertext(), sealed->ciphertext());
  // Copied to another server, or altered: it does not open.
  EXPECT_EQ(s.open(*sealed, "ssh:srv-2").status().code(), StatusCode::kDataLoss);
  auto altered = *sealed;
  altered.mutable_ciphertext()->at(0) ^= 1;
  EXPECT_EQ(s.open(altered, "ssh:srv-1").status().code(), StatusCode::kDataLoss);
  altered = *sealed;
  altered.set_nonce("short");
  EXPECT_EQ(s.open(altered, "ssh:srv-1").status().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(s.seal("", "x").ok());
}

TEST(SecretSealer, AWrongKeyOrAMissingOneIsNamed) {
  const auto sealed = sealer(std::string("k1=") + kKeyA).seal("pw", "ssh:srv-1");
  ASSERT_TRUE(sealed.ok());
  const SecretSealer other = sealer(std::string("k1=") + kKeyB);  // same id, another key
  const auto wrong = other.open(*sealed, "ssh:srv-1");
  EXPECT_EQ(wrong.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status().message().find("wrong master key?"), std::string::npos)
      << wrong.status().message();
  EXPECT_TRUE(other.holds_name_of(sealed->key_id()));
  EXPECT_TRUE(SecretSealer::is_sealed_key_id(sealed->key_id()));
  EXPECT_FALSE(SecretSealer::is_sealed_key_id("kek-1"));
  EXPECT_FALSE(SecretSealer::is_sealed_key_id("k1.zzzzzzzz"));
  const SecretSealer rotated_away = sealer(std::string("k2=") + kKeyB);
  EXPECT_FALSE(rotated_away.holds_name_of(sealed->key_id()));
  const auto missing = rotated_away.open(*sealed, "ssh:srv-1");
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("sealed with key 'k1', which AXION_MASTER_KEY does "
                                            "not hold"),
            std::string::npos)
      << missing.status().message();
}

TEST(SecretSealer, RotationSealsWithTheFirstKeyAndOpensWithAll) {
  const auto old = sealer(std::string("k1=") + kKeyA).seal("pw", "a");
  const SecretSealer ring = sealer(std::string("k2=") + kKeyB + ", k1=" + kKeyA);
  EXPECT_EQ(ring.sealing_key_id().substr(0, 3), "k2.");
  EXPECT_EQ(*ring.open(*old, "a"), "pw");
  const auto fresh = ring.seal("pw2", "a");
  EXPECT_EQ(fresh->key_id().substr(0, 3), "k2.");
  EXPECT_EQ(*ring.open(*fresh, "a"), "pw2");
  EXPECT_TRUE(ring.can_open(old->key_id()).ok());
}

TEST(SecretSealer, AMalformedMasterKeyIsRefusedPrecisely) {
  const std::string short_key = "AAECAwQFBgcICQoLDA0ODw==";  // 16 bytes
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "AXION_MASTER_KEY is empty"},
      {"   ", "AXION_MASTER_KEY is empty"},
      {"k1", "entry 1 has no '='"},
      {kKeyA, "entry 1: the key id must be"},  // a bare key: refused, and not echoed
      {std::string("K 1=") + kKeyA, "entry 1: the key id must be"},
      {"k1=not base64!", "key 'k1' is not base64"},
      {"k1=" + short_key, "key 'k1' is 16 bytes; AES-256-GCM needs exactly 32"},
      {std::string("k1=") + kKeyA + ",k1=" + kKeyB, "key id 'k1' is given twice"},
      {std::string("k1=") + kKeyA + ",", "entry 2 has no '='"},
  };
  for (const auto& [spec, want] : cases) {
    const auto s = SecretSealer::from_spec(spec);
    ASSERT_FALSE(s.ok()) << spec;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << spec;
    EXPECT_NE(s.status().message().find(want), std::string::npos) << s.status().message();
    EXPECT_EQ(s.status().message().find(kKeyA), std::string::npos) << "the key was echoed";
    EXPECT_EQ(s.status().message().find(short_key), std::string::npos) << "the key was echoed";
  }
}

}  // namespace
}  // namespace axion::infra::crypto
