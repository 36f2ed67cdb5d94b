#include "codegen/yaml_text.h"

#include <cstdint>

namespace axion::codegen {

std::string yaml_text_problem(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const std::string at = " at byte " + std::to_string(i);
    if (b == 0 || b == 0x7f) return "a NUL or DEL byte" + at;
    if (b < 0x80) {
      ++i;
      continue;
    }
    const int len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
    if (len == 0 || b > 0xf4 || i + len > s.size()) return "invalid UTF-8" + at;
    std::uint32_t cp = b & (0x7f >> len);
    for (int k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xc0) != 0x80) return "invalid UTF-8" + at;
      cp = (cp << 6) | (c & 0x3f);
    }
    const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return "invalid UTF-8" + at;
    if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
      return "a Unicode noncharacter" + at;
    i += static_cast<std::size_t>(len);
  }
  return "";
}

}  // namespace axion::codegen
