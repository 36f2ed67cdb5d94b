#include "infra/crypto/secret_sealer.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <set>

namespace axion::infra::crypto {

namespace v1 = axion::v1;

namespace {

constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kMaxPlaintext = 1 << 20;

bool is_key_name(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  return true;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t'))
    s.remove_suffix(1);
  return std::string(s);
}

// Standard base64 with padding; false on anything else.
bool decode_base64(const std::string& in, std::vector<unsigned char>& out) {
  if (in.empty() || in.size() % 4 != 0) return false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    const bool pad = c == '=' && i >= in.size() - 2;
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || pad)) return false;
    if (!pad && i > 0 && in[i - 1] == '=') return false;
  }
  out.assign(in.size() / 4 * 3, 0);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return false;
  std::size_t padding = 0;
  if (in.back() == '=') ++padding;
  if (in.size() >= 2 && in[in.size() - 2] == '=') ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  return true;
}

std::string key_check(const std::array<unsigned char, 32>& key) {
  static constexpr std::string_view kLabel = "axion key check";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(kLabel.data()), kLabel.size(), mac, &len);
  char hex[9];
  std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3]);
  return hex;
}

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

}  // namespace

Result<SecretSealer> SecretSealer::from_spec(std::string_view spec) {
  const std::string hint =
      " (expected <key id>=<base64 of 32 random bytes>[,<id>=<key>...]; "
      "make one with: echo \"k1=$(head -c 32 /dev/urandom | base64)\")";
  SecretSealer out;
  std::set<std::string> names;
  std::size_t start = 0;
  const std::string all(spec);
  if (trim(all).empty()) return invalid_argument("AXION_MASTER_KEY is empty" + hint);
  while (start <= all.size()) {
    const std::size_t comma = std::min(all.find(',', start), all.size());
    const std::string entry = trim(std::string_view(all).substr(start, comma - start));
    start = comma + 1;
    const std::size_t position = out.keys_.size() + 1;
    const std::size_t eq = entry.find('=');
    if (eq == std::string::npos) {
      return invalid_argument("AXION_MASTER_KEY: entry " + std::to_string(position) +
                              " has no '='" + hint);
    }
    const std::string name = entry.substr(0, eq);
    if (!is_key_name(name)) {
      return invalid_argument("AXION_MASTER_KEY: entry " + std::to_string(position) +
                              ": the key id must be 1-32 of a-z, 0-9, '-' and '_'" + hint);
    }
    if (!names.insert(name).second) {
      return invalid_argument("AXION_MASTER_KEY: key id '" + name + "' is given twice");
    }
    std::vector<unsigned char> bytes;
    if (!decode_base64(entry.substr(eq + 1), bytes)) {
      return invalid_argument("AXION_MASTER_KEY: key '" + name + "' is not base64" + hint);
    }
    if (bytes.size() != 32) {
      OPENSSL_cleanse(bytes.data(), bytes.size());
      return invalid_argument("AXION_MASTER_KEY: key '" + name + "' is " +
                              std::to_string(bytes.size()) +
                              " bytes; AES-256-GCM needs exactly 32" + hint);
    }
    Key key;
    std::copy(bytes.begin(), bytes.end(), key.bytes.begin());
    OPENSSL_cleanse(bytes.data(), bytes.size());
    key.id = name + "." + key_check(key.bytes);
    out.keys_.push_back(std::move(key));
  }
  return out;
}

const SecretSealer::Key* SecretSealer::find(std::string_view key_id) const {
  for (const auto& k : keys_)
    if (k.id == key_id) return &k;
  return nullptr;
}

bool SecretSealer::holds_name_of(std::string_view key_id) const {
  const std::string_view name = key_id.substr(0, key_id.find('.'));
  for (const auto& k : keys_)
    if (std::string_view(k.id).substr(0, k.id.find('.')) == name) return true;
  return false;
}

bool SecretSealer::is_sealed_key_id(std::string_view key_id) {
  const auto dot = key_id.find('.');
  if (dot == std::string_view::npos || !is_key_name(key_id.substr(0, dot))) return false;
  const std::string_view check = key_id.substr(dot + 1);
  return check.size() == 8 && std::all_of(check.begin(), check.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Status SecretSealer::can_open(std::string_view key_id) const {
  if (find(key_id)) return ok_status();
  const std::string id(key_id);
  const std::string name = id.substr(0, id.find('.'));
  for (const auto& k : keys_) {
    if (k.id.substr(0, k.id.find('.')) == name) {
      return failed_precondition("AXION_MASTER_KEY's key '" + name +
                                 "' is not the key the secret was sealed with (key check " +
                                 id.substr(id.find('.') + 1) + ", this key's " +
                                 k.id.substr(k.id.find('.') + 1) + "): wrong master key?");
    }
  }
  return failed_precondition("the secret was sealed with key '" + name +
                             "', which AXION_MASTER_KEY does not hold: add it (after the "
                             "current key) to open secrets sealed before a rotation");
}

Result<v1::SealedSecret> SecretSealer::seal(std::string_view plaintext,
                                            std::string_view associated_data) const {
  if (plaintext.size() > kMaxPlaintext) return invalid_argument("the secret is larger than 1 MiB");
  const Key& key = keys_.front();
  v1::SealedSecret out;
  out.set_key_id(key.id);
  unsigned char nonce[kNonceBytes];
  if (RAND_bytes(nonce, sizeof nonce) != 1) return internal_error("no random bytes for a nonce");
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string ciphertext(plaintext.size() + kTagBytes, '\0');
  auto* cbuf = reinterpret_cast<unsigned char*>(ciphertext.data());
  int len = 0, total = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(associated_data.data()),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), cbuf, &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1) {
    return internal_error("AES-256-GCM encryption failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), cbuf + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, cbuf + plaintext.size()) !=
          1) {
    return internal_error("AES-256-GCM encryption failed");
  }
  out.set_nonce(reinterpret_cast<const char*>(nonce), sizeof nonce);
  out.set_ciphertext(std::move(ciphertext));
  return out;
}

Result<std::string> SecretSealer::open(const v1::SealedSecret& sealed,
                                       std::string_view associated_data) const {
  AXION_RETURN_IF_ERROR(can_open(sealed.key_id()));
  const Key& key = *find(sealed.key_id());
  if (sealed.nonce().size() != kNonceBytes || sealed.ciphertext().size() < kTagBytes) {
    return data_loss("the sealed secret is malformed (nonce or tag missing)");
  }
  const std::size_t n = sealed.ciphertext().size() - kTagBytes;
  const auto* cbuf = reinterpret_cast<const unsigned char*>(sealed.ciphertext().data());
  std::string plaintext(n, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  unsigned char tag[kTagBytes];
  std::copy(cbuf + n, cbuf + n + kTagBytes, tag);
  const bool ok =
      ctx &&
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(),
                         reinterpret_cast<const unsigned char*>(sealed.nonce().data())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(associated_data.data()),
                        static_cast<int>(associated_data.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plaintext.data()), &len, cbuf,
                        static_cast<int>(n)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plaintext.data()) + len,
                          &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return data_loss(
        "the sealed secret does not authenticate: it was altered, or it belongs to "
        "something else");
  }
  return plaintext;
}

}  // namespace axion::infra::crypto
