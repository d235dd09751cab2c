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
