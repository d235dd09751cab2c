// STIX 2.1 bundles: indicator objects whose pattern compares ipv4-addr, ipv6-addr,
// domain-name or url values (one comparison, or several joined by OR).
#include <map>
#include <nlohmann/json.hpp>

#include "intel/feeds/feeds.hpp"
#include "intel/normalize.hpp"

namespace omamori::intel {

namespace {

using json = nlohmann::json;

struct Comparison {
  std::string path;  // "ipv4-addr:value"
  std::string op;    // "=", "ISSUBSET", ...
  std::string value;
  bool value_is_string = false;
  int group = 0;  // comparisons of one group are joined by AND
};

// A small tokenizer and parser for the subset of STIX patterning we take:
//   pattern     := observation (OR observation)*
//   observation := '[' expr ']'
//   expr        := and_group (OR and_group)*
//   and_group   := term (AND term)*      (a parenthesised term must stand alone)
//   term        := comparison | '(' expr ')'
// AND groups are only taken for network-traffic destination address and port
// (address:port indicators). Anything else (FOLLOWEDBY, NOT, qualifiers such as
// WITHIN / REPEATS / START, AND between observations) makes the pattern unsupported.
class PatternParser {
 public:
  explicit PatternParser(std::string_view s) : s_(s) {}

  // Returns nullptr on success.
  const char* parse(std::vector<Comparison>& out) {
    depth_ = 0;
    if (const char* e = observation(out)) return e;
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size()) return nullptr;
      std::string kw = keyword();
      if (kw == "OR") {
        if (const char* e = observation(out)) return e;
        continue;
      }
      if (kw == "AND") return "pattern: AND of observations not supported";
      if (kw == "FOLLOWEDBY") return "pattern: FOLLOWEDBY not supported";
      if (kw == "WITHIN" || kw == "REPEATS" || kw == "START" || kw == "STOP")
        return "pattern: qualifiers not supported";
      return "pattern: syntax error";
    }
  }

 private:
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::string keyword() {
    skip_ws();
    size_t b = pos_;
    while (pos_ < s_.size() && ((s_[pos_] >= 'A' && s_[pos_] <= 'Z') || (s_[pos_] >= 'a' && s_[pos_] <= 'z'))) ++pos_;
    std::string k(s_.substr(b, pos_ - b));
    for (auto& c : k) c = static_cast<char>((c >= 'a' && c <= 'z') ? c - 32 : c);
    return k;
  }
  const char* observation(std::vector<Comparison>& out) {
    if (!eat('[')) {
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == '(') return "pattern: grouped observations not supported";
      return "pattern: syntax error";
    }
    if (const char* e = expr(out)) return e;
    if (!eat(']')) return "pattern: syntax error";
    return nullptr;
  }
  const char* expr(std::vector<Comparison>& out) {
    if (++depth_ > 32) return "pattern: nested too deeply";
    int group = next_group_++;
    bool paren = false;
    if (const char* e = term(out, group, paren)) return e;
    bool last_paren = paren;
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] == ']' || s_[pos_] == ')') break;
      size_t save = pos_;
      std::string kw = keyword();
      if (kw == "OR") {
        group = next_group_++;
        if (const char* e = term(out, group, paren)) return e;
        last_paren = paren;
        continue;
      }
      if (kw == "AND") {
        if (last_paren) return "pattern: AND with a parenthesised group not supported";
        if (const char* e = term(out, group, paren)) return e;
        if (paren) return "pattern: AND with a parenthesised group not supported";
        continue;
      }
      pos_ = save;
      return "pattern: syntax error";
    }
    --depth_;
    return nullptr;
  }
  const char* term(std::vector<Comparison>& out, int group, bool& paren) {
    paren = false;
    if (eat('(')) {
      paren = true;
      if (const char* e = expr(out)) return e;
      if (!eat(')')) return "pattern: syntax error";
      return nullptr;
    }
    Comparison c;
    skip_ws();
    size_t b = pos_;
    // Object path: type ':' property path (letters, digits, '-', '_', '.', quotes and [*] for lists).
    int brackets = 0;  // list indexes such as protocols[*] or values[0]
    while (pos_ < s_.size() && s_[pos_] != ' ' && s_[pos_] != '=' && s_[pos_] != '!' && s_[pos_] != '<' &&
           s_[pos_] != '>' && (s_[pos_] != ']' || brackets > 0) && s_[pos_] != '\t') {
      if (s_[pos_] == '[') ++brackets;
      if (s_[pos_] == ']') --brackets;
      ++pos_;
    }
    c.path.assign(s_.substr(b, pos_ - b));
    if (c.path.empty() || c.path.find(':') == std::string::npos) return "pattern: syntax error";
    skip_ws();
    if (pos_ < s_.size() && (s_[pos_] == '=' || s_[pos_] == '!' || s_[pos_] == '<' || s_[pos_] == '>')) {
      size_t ob = pos_;
      while (pos_ < s_.size() && (s_[pos_] == '=' || s_[pos_] == '!' || s_[pos_] == '<' || s_[pos_] == '>')) ++pos_;
      c.op.assign(s_.substr(ob, pos_ - ob));
    } else {
      c.op = keyword();
      if (c.op == "NOT") return "pattern: NOT not supported";
      if (c.op.empty()) return "pattern: syntax error";
    }
    skip_ws();
    if (pos_ >= s_.size()) return "pattern: syntax error";
    if (s_[pos_] == '\'') {
      ++pos_;
      bool closed = false;
      while (pos_ < s_.size()) {
        char ch = s_[pos_++];
        if (ch == '\\' && pos_ < s_.size()) {
          c.value.push_back(s_[pos_++]);
        } else if (ch == '\'') {
          closed = true;
          break;
        } else {
          c.value.push_back(ch);
        }
      }
      if (!closed) return "pattern: unterminated string";
      c.value_is_string = true;
    } else if (s_[pos_] == '(') {
      // A list value (IN): skip over it; unsupported operator anyway.
      int d = 0;
      while (pos_ < s_.size()) {
        char ch = s_[pos_++];
        if (ch == '(') ++d;
        if (ch == ')' && --d == 0) break;
        if (ch == '\'') {
          while (pos_ < s_.size() && s_[pos_] != '\'') pos_ += (s_[pos_] == '\\') ? 2 : 1;
          ++pos_;
        }
      }
      if (pos_ > s_.size()) pos_ = s_.size();
    } else {
      // Numbers, booleans, t'...', h'...', b'...'
      size_t vb = pos_;
      if (pos_ + 1 < s_.size() && (s_[pos_] == 't' || s_[pos_] == 'h' || s_[pos_] == 'b') && s_[pos_ + 1] == '\'') {
        pos_ += 2;
        while (pos_ < s_.size() && s_[pos_] != '\'') ++pos_;
        if (pos_ >= s_.size()) return "pattern: unterminated string";
        ++pos_;
      } else {
        while (pos_ < s_.size() && s_[pos_] != ' ' && s_[pos_] != ']' && s_[pos_] != ')') ++pos_;
      }
      c.value.assign(s_.substr(vb, pos_ - vb));
      if (c.value.empty()) return "pattern: syntax error";
    }
    c.group = group;
    out.push_back(std::move(c));
    return nullptr;
  }

  std::string_view s_;
  size_t pos_ = 0;
  int depth_ = 0;
  int next_group_ = 0;
};

std::string str_or(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> str_list(const json& o, const char* key) {
  std::vector<std::string> r;
  auto it = o.find(key);
  if (it == o.end() || !it->is_array()) return r;
  for (const auto& v : *it)
    if (v.is_string()) r.push_back(v.get<std::string>());
  return r;
}

// Category from indicator_types (2.1) and labels (2.0 and custom), most specific first.
std::optional<Category> category_from(const std::vector<std::string>& names) {
  std::optional<Category> generic;
  for (const auto& n : names) {
    auto c = parse_category(n);
    if (!c) continue;
    if (*c == Category::kMalware || *c == Category::kSuspicious) {
      if (!generic) generic = c;
      continue;
    }
    return c;
  }
  return generic;
}

void take_indicator_object(const json& o, const FeedConfig& cfg, TimeMs now,
                           const std::unordered_map<std::string, std::string>& families, ParseResult& r) {
  if (auto pt = str_or(o, "pattern_type"); !pt.empty() && pt != "stix")
    return r.skipped.add("indicator: pattern_type is not stix");
  if (auto it = o.find("revoked"); it != o.end() && it->is_boolean() && it->get<bool>())
    return r.skipped.add("indicator: revoked");
  auto pit = o.find("pattern");
  if (pit == o.end() || !pit->is_string()) return r.skipped.add("indicator: no pattern");
  std::vector<Comparison> comps;
  std::string pattern = pit->get<std::string>();
  PatternParser p(pattern);
  if (const char* e = p.parse(comps)) return r.skipped.add(e);

  Indicator base;
  base.confidence = cfg.confidence;
  if (auto it = o.find("confidence"); it != o.end() && it->is_number_integer()) {
    auto v = it->get<int64_t>();
    if (v >= 0 && v <= 100)
      base.confidence = static_cast<uint8_t>(v);
    else
      r.ignored.add("indicator: confidence out of range, feed default used");
  }
  auto types = str_list(o, "indicator_types");
  auto labels = str_list(o, "labels");
  std::vector<std::string> names = labels;
  names.insert(names.end(), types.begin(), types.end());
  if (auto c = category_from(names)) base.category = *c;
  for (const auto& l : labels) {
    if (l.starts_with("family:"))
      base.family = l.substr(7);
    else if (!parse_category(l))
      base.tags.push_back(l);
  }
  if (auto id = str_or(o, "id"); !id.empty()) {
    if (auto f = families.find(id); f != families.end() && base.family.empty()) base.family = f->second;
  }
  for (auto& ch : base.family) ch = static_cast<char>((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
  if (auto v = str_or(o, "valid_from"); !v.empty()) {
    if (auto t = parse_time(v))
      base.first_seen = *t;
    else
      r.ignored.add("indicator: invalid valid_from");
  }
  if (auto v = str_or(o, "valid_until"); !v.empty()) {
    if (auto t = parse_time(v))
      base.expiry = *t;
    else
      r.ignored.add("indicator: invalid valid_until");
  }
  if (auto it = o.find("external_references"); it != o.end() && it->is_array()) {
    for (const auto& ref : *it)
      if (ref.is_object()) {
        if (auto u = str_or(ref, "url"); !u.empty()) {
          base.reference = u;
          break;
        }
      }
  }
  size_t taken = 0;
  // AND groups: network-traffic destination address and port -> address:port.
  std::map<int, std::vector<const Comparison*>> groups;
  for (const auto& c : comps) groups[c.group].push_back(&c);
  std::vector<Comparison> singles;
  for (const auto& [g, members] : groups) {
    if (members.size() == 1) {
      singles.push_back(*members[0]);
      continue;
    }
    std::string addr, port, proto, type;
    bool ok = true;
    for (const Comparison* c : members) {
      if (c->op != "=")
        ok = false;
      else if (c->path == "network-traffic:dst_ref.value" && c->value_is_string)
        addr = c->value;
      else if (c->path == "network-traffic:dst_ref.type" && c->value_is_string)
        type = c->value;
      else if (c->path == "network-traffic:dst_port" && !c->value_is_string)
        port = c->value;
      else if (c->path == "network-traffic:protocols[*]" && c->value_is_string)
        proto = c->value;
      else
        ok = false;
    }
    for (auto& ch : proto) ch = static_cast<char>((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
    if (!ok || addr.empty() || port.empty() || (!proto.empty() && proto != "tcp" && proto != "udp") ||
        (!type.empty() && type != "ipv4-addr" && type != "ipv6-addr")) {
      r.skipped.add("pattern: AND of comparisons not supported");
      continue;
    }
    std::string text = addr.find(':') != std::string::npos ? "[" + addr + "]:" + port : addr + ":" + port;
    if (!proto.empty()) text += "/" + proto;
    Classified cl;
    if (const char* why = classify_indicator(text, cl)) {
      r.skipped.add(why);
      continue;
    }
    if (cl.kind != Kind::kAddrPort) {
      r.skipped.add("comparison: value does not fit its object type");
      continue;
    }
    Indicator ind = base;
    ind.kind = cl.kind;
    ind.value = std::move(cl.value);
    apply_feed_defaults(ind, cfg, now);
    r.indicators.push_back(std::move(ind));
    ++taken;
  }
  for (const auto& c : singles) {
    bool v4 = c.path == "ipv4-addr:value", v6 = c.path == "ipv6-addr:value";
    bool dom = c.path == "domain-name:value", url = c.path == "url:value";
    if (!v4 && !v6 && !dom && !url) {
      r.skipped.add("comparison: object path not supported");
      continue;
    }
    bool subset = c.op == "ISSUBSET";
    if (c.op != "=" && !(subset && (v4 || v6))) {
      r.skipped.add("comparison: operator not supported");
      continue;
    }
    if (!c.value_is_string) {
      r.skipped.add("comparison: value is not a string");
      continue;
    }
    Classified cl;
    if (const char* why = classify_indicator(c.value, cl)) {
      r.skipped.add(why);
      continue;
    }
    bool kind_ok =
        (v4 && (cl.kind == Kind::kIpv4 || (cl.kind == Kind::kCidr && cl.value.find(':') == std::string::npos))) ||
        (v6 && (cl.kind == Kind::kIpv6 || (cl.kind == Kind::kCidr && cl.value.find(':') != std::string::npos))) ||
        (dom && cl.kind == Kind::kDomain) ||
        (url && (cl.kind == Kind::kUrl || cl.kind == Kind::kDomain || cl.kind == Kind::kIpv4 ||
                 cl.kind == Kind::kIpv6 || cl.kind == Kind::kAddrPort));
    if (!kind_ok) {
      r.skipped.add("comparison: value does not fit its object type");
      continue;
    }
    if (cl.note) r.ignored.add(cl.note);
    Indicator ind = base;
    ind.kind = cl.kind;
    ind.value = std::move(cl.value);
    if (ind.category == Category::kUnknown && !cfg.category && ind.kind == Kind::kUrl)
      ind.category = Category::kMalwareDownload;
    apply_feed_defaults(ind, cfg, now);
    r.indicators.push_back(std::move(ind));
    ++taken;
  }
  if (taken == 0 && !comps.empty()) r.skipped.add("indicator: no supported comparison");
}

}  // namespace

ParseResult parse_stix(std::string_view text, const FeedConfig& cfg, TimeMs now) {
  ParseResult r;
  json doc = json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded()) {
    r.skipped.add("not valid JSON");
    return r;
  }
  const json* objects = nullptr;
  json single;
  if (doc.is_object() && doc.contains("objects") && doc["objects"].is_array()) {
    objects = &doc["objects"];
  } else if (doc.is_array()) {
    objects = &doc;
  } else if (doc.is_object()) {
    single = json::array({doc});
    objects = &single;
  } else {
    r.skipped.add("JSON is not a STIX bundle or object");
    return r;
  }
  // Families: malware objects and "indicates" relationships from indicators to them.
  std::unordered_map<std::string, std::string> malware_names;
  for (const auto& o : *objects)
    if (o.is_object() && str_or(o, "type") == "malware") {
      if (auto n = str_or(o, "name"); !n.empty()) malware_names[str_or(o, "id")] = n;
    }
  std::unordered_map<std::string, std::string> families;  // indicator id -> family
  for (const auto& o : *objects)
    if (o.is_object() && str_or(o, "type") == "relationship" && str_or(o, "relationship_type") == "indicates") {
      auto m = malware_names.find(str_or(o, "target_ref"));
      if (m != malware_names.end()) families.emplace(str_or(o, "source_ref"), m->second);
    }
  for (const auto& o : *objects) {
    ++r.records;
    if (!o.is_object()) {
      r.skipped.add("object is not a JSON object");
      continue;
    }
    std::string type = str_or(o, "type");
    if (type != "indicator") {
      r.ignored.add(type.empty() ? "object without type" : "not an indicator object");
      continue;
    }
    take_indicator_object(o, cfg, now, families, r);
  }
  return r;
}

}  // namespace omamori::intel
