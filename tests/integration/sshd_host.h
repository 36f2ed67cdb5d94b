// A real sshd for the SSH tests, through tests/support/sshd-host: on loopback, or as a separate
// host in a network namespace of its own. The login user "deploy" and its password and key live
// in the host's scratch directory only.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace axion::testing {

class SshdHost {
 public:
  // `addr` "127.0.0.1" (loopback) or "10.77.N.2" (its own namespace, reached over a veth).
  SshdHost(const std::string& addr, int port) {
    const char* base = std::getenv("AXION_TEST_RUN_DIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/sshd-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) return;
    dir_ = pattern;
    info_ = script({"start", dir_, std::to_string(port), addr});
  }
  ~SshdHost() {
    if (!dir_.empty()) {
      script({"stop", dir_});
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  bool ok() const { return info_.contains("FINGERPRINT"); }
  const std::string& log() const { return log_; }
  std::string host() const { return value("HOST"); }
  int port() const { return std::atoi(value("PORT").c_str()); }
  std::string fingerprint() const { return value("FINGERPRINT"); }
  std::string password() const { return read(dir_ + "/password"); }
  std::string private_key() const { return read(dir_ + "/client_key"); }
  std::string home() const { return dir_ + "/home/deploy"; }
  // A new host key (the server was reinstalled, or is an impostor); restarts sshd.
  bool rekey() {
    info_ = script({"rekey", dir_});
    return ok();
  }

 private:
  std::string value(const std::string& key) const {
    const auto it = info_.find(key);
    return it == info_.end() ? "" : it->second;
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    std::string text = s.str();
    if (path.ends_with("password") && !text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }
  std::map<std::string, std::string> script(std::vector<std::string> args) {
    std::string line = AXION_SSHD_HOST_SCRIPT;
    for (const auto& a : args) line += " '" + a + "'";
    line += " 2>&1";
    std::map<std::string, std::string> out;
    FILE* p = popen(line.c_str(), "r");
    if (!p) return out;
    std::array<char, 512> buf{};
    log_.clear();
    while (fgets(buf.data(), buf.size(), p)) {
      std::string l(buf.data());
      log_ += l;
      if (!l.empty() && l.back() == '\n') l.pop_back();
      const auto eq = l.find('=');
      if (eq != std::string::npos) out[l.substr(0, eq)] = l.substr(eq + 1);
    }
    pclose(p);
    return out;
  }

  std::string dir_;
  std::string log_;
  std::map<std::string, std::string> info_;
};

}  // namespace axion::testing
