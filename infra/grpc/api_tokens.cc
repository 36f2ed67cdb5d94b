// SHA-256 via OpenSSL's one-shot API; CRYPTO_memcmp for the constant-time comparison.
#include "infra/grpc/api_tokens.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cctype>

namespace axion::infra::gateway {

TokenDigest token_digest(std::string_view token) {
  TokenDigest out{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), out.data());
  return out;
}

std::optional<std::string> ApiTokens::authenticate(std::string_view authorization) const {
  // The scheme is case-insensitive (RFC 7235); the token is everything after one space.
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return std::nullopt;
    }
  }
  const TokenDigest presented = token_digest(authorization.substr(kScheme.size()));
  const ApiToken* match = nullptr;
  for (const auto& t : tokens_) {
    const bool same = CRYPTO_memcmp(t.digest.data(), presented.data(), presented.size()) == 0;
    if (same && !match) match = &t;
  }
  if (!match) return std::nullopt;
  return match->actor;
}

}  // namespace axion::infra::gateway
