// Small text and value checks shared by the command validators (graphs, projects, deployments):
// DNS labels, environment variable names, ids, paths, durations, and `quote`, which renders a
// user-supplied value safely inside an error message (escaped, truncated). Each check returns an
// empty string when the value is fine, else a short reason a person can act on, so callers can
// wrap it into `invalid_field(path, ...)` with their own context.
#pragma once

#include <google/protobuf/duration.pb.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace axion::commands {

// The value between single quotes, with control, non-ASCII, quote and backslash bytes escaped
// (\n, \t, \xNN, \', \\) and cut after `max_bytes` input bytes ("..." plus the full length), so
// a hostile value can neither forge log lines nor flood a message.
std::string quote(std::string_view value, std::size_t max_bytes = 64);

// RFC 1123 label: 1..63 of [a-z0-9-], starting and ending with a letter or digit.
std::string dns_label_problem(std::string_view value);
// The standard advice appended to a dns_label_problem.
inline constexpr std::string_view kDnsLabelRule =
    "use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit";

// POSIX-portable environment variable name: [A-Za-z_][A-Za-z0-9_]*, at most `max_bytes`.
std::string env_name_problem(std::string_view value, std::size_t max_bytes = 256);

// Ids assigned by the gateway or derived (project, deployment, cluster, server): 1..128 of
// [A-Za-z0-9._:-]. Anything else cannot be a real id, so it is refused before any lookup.
std::string id_problem(std::string_view value);

// Free text (descriptions, reasons): at most `max_bytes`, no control characters except
// newline and tab. UTF-8 is allowed.
std::string text_problem(std::string_view value, std::size_t max_bytes);
// A single-line token (image references, URLs, label keys): 1..max_bytes printable ASCII
// without whitespace.
std::string token_problem(std::string_view value, std::size_t max_bytes);

// Source commit hash (git SHA-1 or SHA-256, possibly abbreviated): 7..64 lowercase hex digits.
std::string commit_hash_problem(std::string_view value);

// True if any byte is NUL.
bool has_nul(std::string_view value);
// True if any byte is a control character (< 0x20 or 0x7f).
bool has_control(std::string_view value);

// Absolute path inside a container ("/data"): starts with '/', no NUL or control characters,
// at most 4096 bytes.
std::string absolute_path_problem(std::string_view value);
// Path relative to a repository root ("services/api"): no leading '/', no ".." component, no
// NUL or control characters, at most 4096 bytes. Empty is allowed (the root).
std::string relative_path_problem(std::string_view value);

// A Duration that is well formed (seconds and nanos in range, same sign). `require_positive`
// refuses zero; negative values are always refused; `max_seconds` bounds it from above.
std::string duration_problem(const google::protobuf::Duration& d, bool require_positive,
                             std::int64_t max_seconds);
// -1, 0 or 1 as a is shorter than, equal to or longer than b (both well formed); exact, unlike
// comparing rounded milliseconds.
int compare_durations(const google::protobuf::Duration& a, const google::protobuf::Duration& b);

}  // namespace axion::commands
