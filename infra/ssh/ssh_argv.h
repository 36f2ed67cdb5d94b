// What crosses to a remote shell, made safe: every remote command is an argv vector whose
// arguments are single-quoted for the POSIX shell sshd runs it with, so no argument — whatever a
// user put in it — can add a word, a command or an expansion; and the user names and paths
// that reach a remote host are checked before any connection is made.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace axion::infra::ssh {

// `arg` as one word of a POSIX shell command line: 'it'\''s'.
std::string shell_quote(std::string_view arg);
// The command line of `argv` (each argument quoted). INVALID_ARGUMENT for an empty argv or an
// argument with a NUL byte (a shell cannot carry it).
Result<std::string> remote_command(const std::vector<std::string>& argv);

// A login name as POSIX and useradd accept it: 1-32 of [a-z0-9_-], starting with a letter or '_'
// (a trailing '$' is not accepted). INVALID_ARGUMENT naming `field` otherwise.
Status validate_ssh_user(std::string_view user, const std::string& field = "ssh_user");
// An absolute path on a remote host made of [A-Za-z0-9._/-] segments, no '.' or '..' segment,
// at most 255 bytes. INVALID_ARGUMENT naming `field` otherwise.
Status validate_remote_path(std::string_view path, const std::string& field = "path");

}  // namespace axion::infra::ssh
