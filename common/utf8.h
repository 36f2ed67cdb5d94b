// valid_utf8(s): `s` with every byte that does not start a well-formed UTF-8 sequence replaced
// by U+FFFD. Protobuf refuses to parse a string field that is not UTF-8, so text that comes
// from outside (a service's output, a cut tail) passes through this before it goes into one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace axion {

inline std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out += static_cast<char>(b);
      ++i;
      continue;
    }
    const std::size_t len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
    bool ok = len != 0 && b <= 0xf4 && i + len <= s.size();
    std::uint32_t cp = b & (0x7f >> len);
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      ok = (c & 0xc0) == 0x80;
      cp = (cp << 6) | (c & 0x3f);
    }
    const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    ok = ok && cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace axion
