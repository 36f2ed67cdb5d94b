// Secrets of the agent protocol: one-time registration tokens (minted by the gateway for
// CreateAgentRegistrationToken) and long-lived agent credentials (minted by the agent hub when a
// token is exchanged). 32 random bytes from OpenSSL's CSPRNG, base64url, behind a prefix that
// tells them apart ("axr_" tokens, "axc_" credentials). Only their SHA-256 is ever stored or
// logged; the secret itself goes once to the party that holds it.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace axion::infra::gateway {

inline constexpr std::string_view kRegistrationTokenPrefix = "axr_";
inline constexpr std::string_view kAgentCredentialPrefix = "axc_";

// `prefix` + 43 base64url characters of 32 random bytes; INTERNAL if the CSPRNG fails.
Result<std::string> new_agent_secret(std::string_view prefix);
// Lowercase hex SHA-256 of `secret` (what the aggregate compares).
std::string secret_hash(std::string_view secret);

}  // namespace axion::infra::gateway
