// Secrets sealed at rest: AES-256-GCM (OpenSSL) under a key ring read from AXION_MASTER_KEY, so
// the log, the views and the API only ever see a SealedSecret (key id, nonce, ciphertext+tag).
//
// AXION_MASTER_KEY is "<key id>=<base64 of 32 random bytes>", several joined with ',': the first
// key seals, every key opens (rotation: put the new key first, keep the old ones until the
// secrets sealed with them were sealed again). Generate one with
//   echo "k1=$(head -c 32 /dev/urandom | base64)"
// A sealed secret's key id is "<key id>.<check>", the check being 8 hex digits of
// HMAC-SHA256(key, "axion key check"): a secret sealed under another key that happens to carry
// the same id is recognised as such instead of failing as "tampered".
//
// Each secret is bound to what it belongs to (the associated data, e.g. "ssh:<server id>"): a
// ciphertext copied onto another server does not open.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "axion/v1/infrastructure.pb.h"
#include "common/status.h"

namespace axion::infra::crypto {

class SecretSealer {
 public:
  // Parses AXION_MASTER_KEY's value. INVALID_ARGUMENT, saying which key and what is wrong (an
  // empty value, a bad id, not base64, not 32 bytes, an id given twice); never the key itself.
  static Result<SecretSealer> from_spec(std::string_view spec);

  // Seals `plaintext` under the first key, bound to `associated_data`.
  Result<axion::v1::SealedSecret> seal(std::string_view plaintext,
                                       std::string_view associated_data) const;
  // Opens a sealed secret. FAILED_PRECONDITION when the ring lacks its key (or has another key
  // under that id), DATA_LOSS when it does not authenticate (altered, or bound to other data).
  Result<std::string> open(const axion::v1::SealedSecret& sealed,
                           std::string_view associated_data) const;
  // OK if this ring can open secrets sealed with `key_id` (as found in a SealedSecret).
  Status can_open(std::string_view key_id) const;

  // Whether the ring has a key named as `key_id`'s name (whatever its check).
  bool holds_name_of(std::string_view key_id) const;
  // Whether `key_id` has the "<id>.<8 hex check>" form a SecretSealer gives.
  static bool is_sealed_key_id(std::string_view key_id);

  // The id new secrets are sealed with ("<id>.<check>").
  const std::string& sealing_key_id() const { return keys_.front().id; }

 private:
  struct Key {
    std::string id;  // "<id>.<check>"
    std::array<unsigned char, 32> bytes{};
  };
  const Key* find(std::string_view key_id) const;
  std::vector<Key> keys_;
};

}  // namespace axion::infra::crypto
