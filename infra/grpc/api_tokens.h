// Bearer API tokens for the gRPC gateway. Only SHA-256 digests of the configured tokens are kept
// in memory, and a presented token is compared against every digest in constant time, so
// neither a memory dump nor response timing reveals a token. Tokens are never logged.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace axion::infra::gateway {

using TokenDigest = std::array<unsigned char, 32>;

TokenDigest token_digest(std::string_view token);

struct ApiToken {
  std::string actor;   // recorded on every command the token authorizes
  TokenDigest digest;  // SHA-256 of the token
};

// The exact refusal text for a missing or wrong token (UNAUTHENTICATED).
inline constexpr std::string_view kUnauthenticatedMessage =
    "missing or invalid API token: pass 'authorization: Bearer <token>'";

class ApiTokens {
 public:
  explicit ApiTokens(std::vector<ApiToken> tokens) : tokens_(std::move(tokens)) {}

  // The actor whose token is in `authorization` ("Bearer <token>"), or nullopt. Every digest
  // is compared (no early exit), so the time taken does not depend on which one matched.
  std::optional<std::string> authenticate(std::string_view authorization) const;
  bool empty() const { return tokens_.empty(); }

 private:
  std::vector<ApiToken> tokens_;
};

}  // namespace axion::infra::gateway
