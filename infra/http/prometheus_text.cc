#include "infra/http/prometheus_text.h"

#include <cassert>
#include <charconv>
#include <cmath>

namespace axion::infra::http {

namespace {

[[maybe_unused]] bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   const Labels& labels, const std::pair<std::string, std::string>* extra,
                   double value) {
  out.append(name).append(suffix);
  if (!labels.empty() || extra) {
    out.push_back('{');
    bool first = true;
    const auto label = [&](const std::string& key, const std::string& text) {
      assert(valid_name(key) && key.rfind("__", 0) != 0 && "bad label name");
      if (!first) out.push_back(',');
      first = false;
      out.append(key).append("=\"").append(escape_label_value(text)).push_back('"');
    };
    for (const auto& [key, text] : labels) label(key, text);
    if (extra) label(extra->first, extra->second);
    out.push_back('}');
  }
  out.push_back(' ');
  out.append(format_value(value)).push_back('\n');
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<std::int64_t>(value));
  }
  // Shortest round-trip digits; plain decimals ("0.0005", not "5e-04") where they stay short.
  char buf[64];
  const double magnitude = std::fabs(value);
  const auto format =
      magnitude >= 1e-4 && magnitude < 1e15 ? std::chars_format::fixed : std::chars_format::general;
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, format);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(value);
}

PrometheusText::Family& PrometheusText::family(std::string_view name, std::string_view type,
                                               std::string_view help) {
  assert(valid_name(name) && "bad metric name");
  for (auto& f : families_) {
    if (f.name == name) {
      assert(f.type == type && "a metric family keeps one type");
      return f;
    }
  }
  families_.push_back({std::string(name), std::string(type), std::string(help), {}});
  return families_.back();
}

void PrometheusText::counter(std::string_view name, std::string_view help, double value,
                             Labels labels) {
  append_sample(family(name, "counter", help).samples, name, "", labels, nullptr, value);
}

void PrometheusText::gauge(std::string_view name, std::string_view help, double value,
                           Labels labels) {
  append_sample(family(name, "gauge", help).samples, name, "", labels, nullptr, value);
}

void PrometheusText::histogram(std::string_view name, std::string_view help,
                               const Histogram::Snapshot& h, Labels labels) {
  std::string& out = family(name, "histogram", help).samples;
  for (std::size_t i = 0; i < h.cumulative.size(); ++i) {
    const std::pair<std::string, std::string> le{
        "le", i < h.upper_bounds.size() ? format_value(h.upper_bounds[i]) : "+Inf"};
    append_sample(out, name, "_bucket", labels, &le, static_cast<double>(h.cumulative[i]));
  }
  append_sample(out, name, "_sum", labels, nullptr, h.sum);
  append_sample(out, name, "_count", labels, nullptr, static_cast<double>(h.count));
}

std::string PrometheusText::str() const {
  std::string out;
  for (const auto& f : families_) {
    out.append("# HELP ").append(f.name).append(" ").append(escape_help(f.help)).push_back('\n');
    out.append("# TYPE ").append(f.name).append(" ").append(f.type).push_back('\n');
    out.append(f.samples);
  }
  return out;
}

}  // namespace axion::infra::http
