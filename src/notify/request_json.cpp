#include "notify/request_json.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace omamori::notify {
namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string& key, const std::string& what) {
  throw std::invalid_argument(fmt::format("request: '{}' {}", key, what));
}

std::string get_str(const json& o, const char* key, const std::string& path, bool required = false) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) {
    if (required) bad(path + key, "is missing");
    return "";
  }
  if (!it->is_string()) bad(path + key, "must be a string");
  return it->get<std::string>();
}

TimeMs get_time(const json& o, const char* key, const std::string& path) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return 0;
  constexpr int64_t kMax = 253402300799999;  // 9999-12-31T23:59:59.999Z
  if (it->is_number_integer()) {
    int64_t v = it->get<int64_t>();
    if (v < 0 || v > kMax) bad(path + key, "is out of range");
    return v;
  }
  if (!it->is_string()) bad(path + key, "must be an RFC 3339 time");
  auto t = parse_time(it->get<std::string>());
  if (!t || *t < 0 || *t > kMax) bad(path + key, "must be an RFC 3339 time from 1970 to 9999");
  return *t;
}

uint64_t get_uint(const json& o, const char* key, const std::string& path, uint64_t max) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return 0;
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0))
    bad(path + key, "must be a non-negative integer");
  uint64_t v = it->get<uint64_t>();
  if (v > max) bad(path + key, fmt::format("must be at most {}", max));
  return v;
}

}  // namespace

std::string request_to_json(const WarningRequest& r) {
  nlohmann::ordered_json j;
  j["case_id"] = r.case_id;
  j["subscriber_id"] = r.subscriber_id;
  j["email"] = r.email;
  j["language"] = r.language;
  j["severity"] = r.severity;
  j["first_seen"] = format_rfc3339(r.first_seen);
  j["last_seen"] = format_rfc3339(r.last_seen);
  j["pseudonym"] = r.pseudonym;
  auto& fs = j["findings"] = nlohmann::ordered_json::array();
  for (const auto& f : r.findings) fs.push_back(nlohmann::ordered_json::parse(finding_to_json(f)));
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

WarningRequest request_from_json(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw std::invalid_argument("request: not valid JSON");
  if (!j.is_object()) throw std::invalid_argument("request: must be a JSON object");
  WarningRequest r;
  auto id = j.find("case_id");
  if (id == j.end() || !id->is_number_integer()) bad("case_id", "must be an integer");
  r.case_id = id->get<int64_t>();
  r.subscriber_id = get_str(j, "subscriber_id", "");
  r.email = get_str(j, "email", "");
  r.language = get_str(j, "language", "");
  r.severity = get_str(j, "severity", "");
  r.pseudonym = get_str(j, "pseudonym", "");
  r.first_seen = get_time(j, "first_seen", "");
  r.last_seen = get_time(j, "last_seen", "");
  auto fs = j.find("findings");
  if (fs != j.end() && !fs->is_null()) {
    if (!fs->is_array()) bad("findings", "must be an array");
    if (fs->size() > kMaxFindings) bad("findings", fmt::format("holds more than {} findings", kMaxFindings));
    size_t i = 0;
    for (const auto& o : *fs) {
      std::string p = fmt::format("findings[{}].", i++);
      if (!o.is_object()) bad(p.substr(0, p.size() - 1), "must be an object");
      Finding f;
      f.type = get_str(o, "type", p, true);
      std::string host = get_str(o, "host", p);
      if (!host.empty()) {
        auto a = IpAddr::parse(host);
        if (!a) bad(p + "host", "must be an IP address");
        f.host = *a;
      }
      f.first = get_time(o, "first", p);
      f.last = get_time(o, "last", p);
      f.indicator = get_str(o, "indicator", p);
      f.feed = get_str(o, "feed", p);
      f.category = get_str(o, "category", p);
      f.family = get_str(o, "family", p);
      f.events = get_uint(o, "events", p, UINT64_MAX);
      f.confidence = static_cast<uint8_t>(get_uint(o, "confidence", p, 100));
      f.explanation = get_str(o, "explanation", p);
      if (auto d = o.find("details"); d != o.end() && !d->is_null()) {
        if (!d->is_object()) bad(p + "details", "must be an object");
        for (const auto& [k, v] : d->items()) {
          if (!v.is_string()) bad(p + "details." + k, "must be a string");
          f.details.emplace_back(k, v.get<std::string>());
        }
      }
      r.findings.push_back(std::move(f));
    }
  }
  return r;
}

}  // namespace omamori::notify
