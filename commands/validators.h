// Input checks shared by the aggregates: names (DNS labels), labels, free text, ids, SSH hosts,
// ports and user names. Each returns OK or INVALID_ARGUMENT naming the field, with a message
// that says what is allowed. They are deliberately strict allow-lists: these values end up in
// SSH command lines, systemd units and log lines, so anything outside the documented alphabet
// (spaces, ';', '$(', newlines, a leading '-') is refused here rather than escaped later.
#pragma once

#include <google/protobuf/map.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace axion::commands {

inline constexpr std::size_t kMaxLabels = 64;
inline constexpr std::size_t kMaxLabelKey = 63;
inline constexpr std::size_t kMaxLabelValue = 255;
inline constexpr std::size_t kMaxText = 1024;  // descriptions and reasons, in bytes
inline constexpr std::size_t kMaxId = 128;

// `value` in double quotes for an error message, with quotes, backslashes and control
// characters escaped and anything past 64 bytes cut — a hostile value can neither forge a log
// line nor flood the message.
std::string in_quotes(std::string_view value);

// 1..63 of [a-z0-9-], starting and ending with a letter or digit (RFC 1123 label, lowercase).
bool is_dns_label(std::string_view value);
// `what` names the thing in the message ("cluster name").
Status validate_dns_label(std::string_view field, std::string_view what, std::string_view value);

// At most kMaxLabels entries; keys 1..63 of [A-Za-z0-9._/-] starting and ending with a letter or
// digit; values up to kMaxLabelValue bytes without control characters.
Status validate_labels(std::string_view field,
                       const google::protobuf::Map<std::string, std::string>& labels);

// Free text (descriptions, reasons): at most `max_bytes`, no control characters other than
// newline and tab. Empty is allowed unless `required`.
Status validate_text(std::string_view field, std::string_view value, std::size_t max_bytes,
                     bool required = false);

// Ids (UUIDs, derive_id results): 1..128 of [A-Za-z0-9._:-], not starting with '-'.
bool is_id(std::string_view value);
Status validate_id(std::string_view field, std::string_view value);

// Versions ("1.4.2", "v2.0.0-rc.1+build5"): 1..64 of [A-Za-z0-9._+-], starting with a letter or
// digit.
Status validate_version(std::string_view field, std::string_view value);

// Hosts for SSH: a hostname (dot-separated RFC 1123 labels, letters of either case, at most 253
// characters, no trailing dot, the last label not all digits), an IPv4 literal in dotted-quad
// form without leading zeros, or an IPv6 literal without brackets or zone.
bool is_hostname(std::string_view value);
bool is_ipv4(std::string_view value);
bool is_ipv6(std::string_view value);
Status validate_host(std::string_view field, std::string_view host);
// The form two hosts are compared in: hostnames lowercased, IPv6 expanded to eight 4-digit
// groups ("::1" and "0:0::1" are the same host). Only meaningful for a valid host.
std::string canonical_host(std::string_view host);
// "10.0.0.5:22", "[2001:db8::1]:22", "web-1.example.com:2222" — how a person writes it.
std::string endpoint(std::string_view host, std::uint32_t port);

// SSH port: 0 means 22 (as the protos say); otherwise 1..65535. Returns the effective port.
Result<std::uint32_t> effective_ssh_port(std::string_view field, std::uint32_t port);

// POSIX portable user names as useradd accepts them: [a-z_][a-z0-9_-]{0,31}.
bool is_posix_user(std::string_view value);
Status validate_posix_user(std::string_view field, std::string_view value);

}  // namespace axion::commands
