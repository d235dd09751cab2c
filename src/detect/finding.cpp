#include "detect/finding.hpp"

#include <nlohmann/json.hpp>

namespace omamori {

std::string finding_to_json(const Finding& f) {
  nlohmann::ordered_json j;
  j["type"] = f.type;
  j["host"] = f.host.str();
  j["first"] = format_rfc3339(f.first);
  j["last"] = format_rfc3339(f.last);
  j["indicator"] = f.indicator;
  j["feed"] = f.feed;
  j["category"] = f.category;
  j["family"] = f.family;
  j["events"] = f.events;
  j["confidence"] = f.confidence;
  j["explanation"] = f.explanation;
  if (!f.details.empty()) {
    auto& d = j["details"];
    for (const auto& [k, v] : f.details) d[k] = v;
  }
  // Invalid UTF-8 (names from the wire) is replaced, never an exception.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace omamori

namespace omamori {

namespace {

bool fail(const char** reason, const char* r) {
  if (reason) *reason = r;
  return false;
}

}  // namespace

bool finding_from_json(std::string_view line, Finding& out, const char** reason) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(reason, "invalid json");
  if (!j.is_object()) return fail(reason, "not an object");
  Finding f;
  auto str = [&](const char* key, std::string& dst) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return true;
    if (!it->is_string()) return false;
    dst = it->get<std::string>();
    return true;
  };
  if (!str("type", f.type) || !str("indicator", f.indicator) || !str("feed", f.feed) ||
      !str("category", f.category) || !str("family", f.family) || !str("explanation", f.explanation))
    return fail(reason, "wrong value type");
  if (f.type.empty()) return fail(reason, "missing type");
  std::string host;
  if (!str("host", host)) return fail(reason, "wrong value type");
  if (!host.empty()) {
    auto a = IpAddr::parse(host);
    if (!a) return fail(reason, "bad host");
    f.host = *a;
  }
  for (auto [key, dst] : {std::pair{"first", &f.first}, std::pair{"last", &f.last}}) {
    std::string t;
    if (!str(key, t)) return fail(reason, "wrong value type");
    if (t.empty()) continue;
    auto v = parse_time(t);
    if (!v) return fail(reason, "bad time");
    *dst = *v;
  }
  if (auto it = j.find("events"); it != j.end() && !it->is_null()) {
    if (!it->is_number_unsigned()) return fail(reason, "bad number");
    f.events = it->get<uint64_t>();
  }
  if (auto it = j.find("confidence"); it != j.end() && !it->is_null()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() > 100) return fail(reason, "bad number");
    f.confidence = static_cast<uint8_t>(it->get<uint64_t>());
  }
  if (auto it = j.find("details"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return fail(reason, "bad details");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) return fail(reason, "bad details");
      f.details.emplace_back(k, v.get<std::string>());
    }
  }
  out = std::move(f);
  return true;
}

}  // namespace omamori
