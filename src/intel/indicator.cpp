#include "intel/indicator.hpp"

#include <algorithm>
#include <cctype>

namespace omamori::intel {

namespace {
constexpr const char* kKindNames[kKindCount] = {"ipv4", "ipv6", "cidr", "domain", "url", "addr_port"};
constexpr const char* kCategoryNames[kCategoryCount] = {"unknown", "c2",   "malware_download", "phishing",  "sinkhole",
                                                        "scanner", "spam", "malware",          "suspicious"};

std::string lower_copy(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::replace(r.begin(), r.end(), '-', '_');
  std::replace(r.begin(), r.end(), ' ', '_');
  return r;
}
}  // namespace

const char* kind_name(Kind k) {
  auto i = static_cast<unsigned>(k);
  return i < kKindCount ? kKindNames[i] : "unknown";
}

const char* category_name(Category c) {
  auto i = static_cast<unsigned>(c);
  return i < kCategoryCount ? kCategoryNames[i] : "unknown";
}

std::optional<Kind> parse_kind(std::string_view s) {
  std::string l = lower_copy(s);
  for (int i = 0; i < kKindCount; ++i)
    if (l == kKindNames[i]) return static_cast<Kind>(i);
  if (l == "ip" || l == "ipv4_addr" || l == "ipv4_address") return Kind::kIpv4;
  if (l == "ipv6_addr" || l == "ipv6_address") return Kind::kIpv6;
  if (l == "prefix" || l == "net" || l == "network") return Kind::kCidr;
  if (l == "domain_name" || l == "fqdn" || l == "hostname" || l == "host") return Kind::kDomain;
  if (l == "addrport" || l == "ip_port" || l == "ipport" || l == "endpoint") return Kind::kAddrPort;
  return std::nullopt;
}

std::optional<Category> parse_category(std::string_view s) {
  std::string l = lower_copy(s);
  for (int i = 0; i < kCategoryCount; ++i)
    if (l == kCategoryNames[i]) return static_cast<Category>(i);
  if (l == "cnc" || l == "c&c" || l == "cc" || l == "command_and_control" || l == "botnet_cc" || l == "c2_server" ||
      l == "botnet")
    return Category::kC2;
  if (l == "download" || l == "payload" || l == "payload_delivery" || l == "malware_distribution" ||
      l == "distribution" || l == "dropper")
    return Category::kMalwareDownload;
  if (l == "phish") return Category::kPhishing;
  if (l == "scan" || l == "scanning" || l == "bruteforce" || l == "brute_force") return Category::kScanner;
  if (l == "spammer") return Category::kSpam;
  if (l == "malicious" || l == "malicious_activity" || l == "malware_host" || l == "compromised")
    return Category::kMalware;
  if (l == "anomalous_activity" || l == "anomalous") return Category::kSuspicious;
  return std::nullopt;
}

void apply_feed_defaults(Indicator& ind, const FeedConfig& cfg, TimeMs now) {
  ind.feed = cfg.name;
  if (ind.category == Category::kUnknown && cfg.category) ind.category = *cfg.category;
  if (ind.family.empty()) ind.family = cfg.family;
  for (const auto& t : cfg.tags)
    if (std::find(ind.tags.begin(), ind.tags.end(), t) == ind.tags.end()) ind.tags.push_back(t);
  if (ind.first_seen == 0) ind.first_seen = now;
  if (ind.last_seen == 0) ind.last_seen = now;
  if (ind.expiry == 0 && cfg.ttl > 0) ind.expiry = now + cfg.ttl;
  if (ind.kind != Kind::kDomain)
    ind.subdomains = false;
  else if (!cfg.subdomains)
    ind.subdomains = false;
}

}  // namespace omamori::intel
