#include "intel/export.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "core/ip.hpp"

namespace omamori::intel {

namespace {

// omamori's UUIDv5 namespace (a random v4 UUID fixed once).
constexpr uint8_t kNamespace[16] = {0xd9, 0xfe, 0x4d, 0x2c, 0x36, 0x94, 0x40, 0xc0,
                                    0xa4, 0x4d, 0x1b, 0x58, 0xcb, 0x2c, 0x3f, 0xa4};

std::string uuid_text(const uint8_t* b) {
  return fmt::format(
      "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}", b[0],
      b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

int severity(RpzAction a) {
  switch (a) {
    case RpzAction::kPassthru:
      return 0;
    case RpzAction::kWalledGarden:
      return 1;
    case RpzAction::kNodata:
      return 2;
    case RpzAction::kNxdomain:
      return 3;
    case RpzAction::kDrop:
      return 4;
  }
  return 0;
}

std::string rpz_target(RpzAction a, const std::string& garden) {
  switch (a) {
    case RpzAction::kPassthru:
      return "rpz-passthru.";
    case RpzAction::kNxdomain:
      return ".";
    case RpzAction::kNodata:
      return "*.";
    case RpzAction::kDrop:
      return "rpz-drop.";
    case RpzAction::kWalledGarden:
      return garden + ".";
  }
  return "rpz-passthru.";
}

std::string stix_time(TimeMs t) {
  return format_rfc3339(t);
}

std::string stix_escape(std::string_view v) {
  std::string r;
  for (char c : v) {
    if (c == '\'' || c == '\\') r += '\\';
    r += c;
  }
  return r;
}

}  // namespace

const char* rpz_action_name(RpzAction a) {
  switch (a) {
    case RpzAction::kPassthru:
      return "passthru";
    case RpzAction::kNxdomain:
      return "nxdomain";
    case RpzAction::kNodata:
      return "nodata";
    case RpzAction::kDrop:
      return "drop";
    case RpzAction::kWalledGarden:
      return "walled-garden";
  }
  return "passthru";
}

bool parse_action_map(std::string_view spec, RpzOptions& opt, std::string& error) {
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      error = "action map item '" + std::string(item) + "' is not category=action";
      return false;
    }
    std::string_view cat = item.substr(0, eq), act = item.substr(eq + 1);
    RpzAction a;
    std::string garden;
    if (act == "passthru" || act == "log" || act == "log-only")
      a = RpzAction::kPassthru;
    else if (act == "nxdomain")
      a = RpzAction::kNxdomain;
    else if (act == "nodata")
      a = RpzAction::kNodata;
    else if (act == "drop")
      a = RpzAction::kDrop;
    else if (act.starts_with("walled-garden:") && act.size() > 14) {
      a = RpzAction::kWalledGarden;
      garden = std::string(act.substr(14));
      if (!garden.empty() && garden.back() == '.') garden.pop_back();
    } else {
      error = "unknown action '" + std::string(act) + "' (passthru, nxdomain, nodata, drop, walled-garden:HOST)";
      return false;
    }
    if (cat == "*" || cat == "default" || cat == "all") {
      opt.action.fill(a);
      opt.garden.fill(garden);
      continue;
    }
    auto c = parse_category(cat);
    if (!c) {
      error = "unknown category '" + std::string(cat) + "' in action map";
      return false;
    }
    opt.action[static_cast<int>(*c)] = a;
    opt.garden[static_cast<int>(*c)] = garden;
  }
  return true;
}

std::string rpz_ip_owner(Kind kind, std::string_view value) {
  std::optional<Prefix> p;
  if (kind == Kind::kIpv4 || kind == Kind::kIpv6 || kind == Kind::kCidr) p = Prefix::parse(value);
  if (!p) return {};
  const uint8_t* b = p->addr().bytes();
  if (p->is_v4()) return fmt::format("{}.{}.{}.{}.{}.rpz-ip", p->len(), b[15], b[14], b[13], b[12]);
  // IPv6: 16-bit groups in reverse order, the longest run of zero groups (2+) as "zz".
  uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = static_cast<uint16_t>((b[2 * i] << 8) | b[2 * i + 1]);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best = -1;
  std::string r = std::to_string(p->len());
  for (int i = 7; i >= 0;) {
    if (best >= 0 && i == best + best_len - 1) {
      r += ".zz";
      i = best - 1;
      continue;
    }
    r += fmt::format(".{:x}", g[i]);
    --i;
  }
  return r + ".rpz-ip";
}

std::string export_rpz(const std::vector<Indicator>& inds, const RpzOptions& opt, ReasonCounters& skipped, TimeMs now) {
  struct Entry {
    RpzAction action = RpzAction::kPassthru;
    std::string garden;
    std::string note;
    bool set = false;
  };
  std::map<std::string, Entry> entries;  // owner (relative) -> action
  for (const auto& ind : inds) {
    int c = static_cast<int>(ind.category);
    RpzAction a = opt.action[c];
    std::vector<std::string> owners;
    switch (ind.kind) {
      case Kind::kDomain:
        owners.push_back(ind.value);
        if (ind.subdomains) owners.push_back("*." + ind.value);
        break;
      case Kind::kIpv4:
      case Kind::kIpv6:
      case Kind::kCidr:
        if (!opt.ip_triggers) {
          skipped.add("rpz: address triggers disabled");
          continue;
        }
        owners.push_back(rpz_ip_owner(ind.kind, ind.value));
        break;
      case Kind::kUrl:
        skipped.add("rpz: url indicator not expressible");
        continue;
      case Kind::kAddrPort:
        skipped.add("rpz: address:port indicator not expressible");
        continue;
    }
    for (auto& o : owners) {
      if (o.size() + opt.origin.size() + 1 > 253) {
        skipped.add("rpz: name too long below the zone origin");
        continue;
      }
      Entry& e = entries[o];
      if (!e.set || severity(a) > severity(e.action)) {
        e.action = a;
        e.garden = opt.garden[c];
        e.note =
            fmt::format("{} {}{}{}", ind.feed, category_name(ind.category), ind.family.empty() ? "" : " ", ind.family);
        e.set = true;
      }
    }
  }
  std::string out;
  uint32_t serial = opt.serial ? opt.serial : static_cast<uint32_t>(now / 1000);
  out += fmt::format("; omamori response policy zone, {} triggers, exported {}\n", entries.size(), format_rfc3339(now));
  out += fmt::format("$ORIGIN {}.\n$TTL {}\n", opt.origin, opt.ttl);
  out += fmt::format("@ SOA {}. {}. {} 3600 600 86400 {}\n", opt.mname, opt.rname, serial, opt.ttl);
  out += fmt::format("@ NS {}.\n", opt.mname);
  for (const auto& [owner, e] : entries) {
    out += owner;
    out += " CNAME ";
    out += rpz_target(e.action, e.garden);
    if (opt.comments) {
      out += " ; ";
      out += e.note;
    }
    out += '\n';
  }
  return out;
}

std::string export_plain(const std::vector<Indicator>& inds, TimeMs now) {
  std::set<std::string> seen;
  std::string body;
  for (const auto& ind : inds)
    if (seen.insert(ind.value).second) {
      body += ind.value;
      body += '\n';
    }
  return fmt::format("# omamori indicators, {} values, exported {}\n", seen.size(), format_rfc3339(now)) + body;
}

std::string uuid_v4() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint8_t b[16];
  for (int i = 0; i < 16; i += 8) {
    uint64_t v = rng();
    std::memcpy(b + i, &v, 8);
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  return uuid_text(b);
}

std::string uuid_v5(std::string_view name) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
  EVP_DigestUpdate(ctx, kNamespace, sizeof(kNamespace));
  EVP_DigestUpdate(ctx, name.data(), name.size());
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  md[6] = static_cast<uint8_t>((md[6] & 0x0f) | 0x50);
  md[8] = static_cast<uint8_t>((md[8] & 0x3f) | 0x80);
  return uuid_text(md);
}

bool is_valid_uuid(std::string_view s, int version) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  }
  if (s[14] != static_cast<char>('0' + version)) return false;
  return s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b';
}

std::string export_stix(const std::vector<Indicator>& inds, ReasonCounters& skipped, TimeMs now) {
  using json = nlohmann::json;
  json objects = json::array();
  std::map<std::string, std::string> malware;  // family -> id
  json rels = json::array();
  std::set<std::string> ids;
  for (const auto& ind : inds) {
    std::string pattern;
    switch (ind.kind) {
      case Kind::kIpv4:
        pattern = "[ipv4-addr:value = '" + stix_escape(ind.value) + "']";
        break;
      case Kind::kIpv6:
        pattern = "[ipv6-addr:value = '" + stix_escape(ind.value) + "']";
        break;
      case Kind::kCidr:
        pattern = std::string(ind.value.find(':') == std::string::npos ? "[ipv4-addr" : "[ipv6-addr") + ":value = '" +
                  stix_escape(ind.value) + "']";
        break;
      case Kind::kDomain:
        pattern = "[domain-name:value = '" + stix_escape(ind.value) + "']";
        break;
      case Kind::kUrl:
        if (ind.value.front() == '/') {
          skipped.add("stix: host-less url path not expressible");
          continue;
        }
        pattern = "[url:value = 'http://" + stix_escape(ind.value) + "']";
        break;
      case Kind::kAddrPort: {
        std::string v = ind.value;
        std::string proto;
        if (v.ends_with("/tcp") || v.ends_with("/udp")) {
          proto = v.substr(v.size() - 3);
          v.resize(v.size() - 4);
        }
        size_t colon = v.rfind(':');
        std::string addr = v.substr(0, colon);
        if (!addr.empty() && addr.front() == '[') addr = addr.substr(1, addr.size() - 2);
        bool v6 = addr.find(':') != std::string::npos;
        pattern = fmt::format(
            "[network-traffic:dst_ref.type = '{}' AND network-traffic:dst_ref.value = '{}' AND "
            "network-traffic:dst_port = {}{}]",
            v6 ? "ipv6-addr" : "ipv4-addr", addr, v.substr(colon + 1),
            proto.empty() ? "" : " AND network-traffic:protocols[*] = '" + proto + "'");
        break;
      }
    }
    std::string id = "indicator--" + uuid_v5(ind.feed + "\x1f" + kind_name(ind.kind) + "\x1f" + ind.value);
    if (!ids.insert(id).second) {
      skipped.add("stix: duplicate indicator");
      continue;
    }
    TimeMs created = ind.first_seen ? ind.first_seen : now;
    TimeMs modified = std::max(created, ind.last_seen ? ind.last_seen : now);
    json o = {{"type", "indicator"},
              {"spec_version", "2.1"},
              {"id", id},
              {"created", stix_time(created)},
              {"modified", stix_time(modified)},
              {"name", ind.value},
              {"pattern", pattern},
              {"pattern_type", "stix"},
              {"pattern_version", "2.1"},
              {"valid_from", stix_time(created)},
              {"confidence", ind.confidence}};
    if (ind.expiry > created) o["valid_until"] = stix_time(ind.expiry);
    const char* type = "malicious-activity";
    if (ind.category == Category::kScanner || ind.category == Category::kSuspicious) type = "anomalous-activity";
    if (ind.category == Category::kUnknown) type = "unknown";
    if (ind.category == Category::kSinkhole) type = "benign";
    o["indicator_types"] = json::array({type});
    json labels = json::array({category_name(ind.category)});
    for (const auto& t : ind.tags) labels.push_back(t);
    o["labels"] = labels;
    if (!ind.reference.empty())
      o["external_references"] = json::array({{{"source_name", ind.feed}, {"url", ind.reference}}});
    objects.push_back(std::move(o));
    if (!ind.family.empty()) {
      auto [it, fresh] = malware.try_emplace(ind.family, "malware--" + uuid_v5("malware\x1f" + ind.family));
      if (fresh)
        objects.push_back({{"type", "malware"},
                           {"spec_version", "2.1"},
                           {"id", it->second},
                           {"created", stix_time(now)},
                           {"modified", stix_time(now)},
                           {"name", ind.family},
                           {"is_family", true}});
      rels.push_back({{"type", "relationship"},
                      {"spec_version", "2.1"},
                      {"id", "relationship--" + uuid_v5(id + "\x1f" + it->second)},
                      {"created", stix_time(now)},
                      {"modified", stix_time(now)},
                      {"relationship_type", "indicates"},
                      {"source_ref", id},
                      {"target_ref", it->second}});
    }
  }
  for (auto& r : rels) objects.push_back(std::move(r));
  json bundle = {{"type", "bundle"}, {"id", "bundle--" + uuid_v4()}, {"objects", std::move(objects)}};
  return bundle.dump(1) + "\n";
}

}  // namespace omamori::intel
