// CSV feeds with a column mapping ("value=1,category=3,family=4").
#include <charconv>

#include "intel/feeds/feeds.hpp"
#include "intel/normalize.hpp"

namespace omamori::intel {

namespace {

enum Field { kValue, kKindF, kCategoryF, kFamily, kTags, kConfidence, kFirst, kLast, kExpiry, kReference, kFields };
constexpr const char* kFieldNames[kFields] = {"value",      "kind",       "category",  "family", "tags",
                                              "confidence", "first_seen", "last_seen", "expiry", "reference"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool parse_mapping(std::string_view spec, int (&col)[kFields], std::string& error) {
  for (int& c : col) c = -1;
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view item = trim(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      error = "column mapping item '" + std::string(item) + "' is not name=column";
      return false;
    }
    std::string_view name = trim(item.substr(0, eq)), num = trim(item.substr(eq + 1));
    int f = -1;
    for (int i = 0; i < kFields; ++i)
      if (name == kFieldNames[i]) f = i;
    if (name == "first") f = kFirst;
    if (name == "last") f = kLast;
    if (f < 0) {
      error = "unknown field '" + std::string(name) +
              "' in column mapping (value, kind, category, family, tags, confidence, first_seen, last_seen, expiry, "
              "reference)";
      return false;
    }
    int n = 0;
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
    if (ec != std::errc() || p != num.data() + num.size() || n < 1 || n > 1000) {
      error = "column for '" + std::string(name) + "' must be a number from 1";
      return false;
    }
    col[f] = n - 1;
  }
  if (col[kValue] < 0) {
    error = "column mapping needs value=N";
    return false;
  }
  return true;
}

// Reads one RFC 4180 record starting at pos into fields. Returns false at end of text.
// Sets bad when a quoted field is not closed or has text after the closing quote.
bool next_record(std::string_view text, size_t& pos, char delim, std::vector<std::string>& fields, size_t& nfields,
                 bool& bad) {
  nfields = 0;
  bad = false;
  if (pos >= text.size()) return false;
  auto field = [&]() -> std::string& {
    if (nfields == fields.size()) fields.emplace_back();
    std::string& f = fields[nfields++];
    f.clear();
    return f;
  };
  std::string* cur = &field();
  bool at_start = true;
  while (pos < text.size()) {
    char c = text[pos];
    if (at_start && c == '"') {
      ++pos;
      bool closed = false;
      while (pos < text.size()) {
        char q = text[pos++];
        if (q == '"') {
          if (pos < text.size() && text[pos] == '"') {
            cur->push_back('"');
            ++pos;
          } else {
            closed = true;
            break;
          }
        } else {
          cur->push_back(q);
        }
      }
      if (!closed) {
        bad = true;
        return true;
      }
      at_start = false;
      // Only a delimiter or end of line may follow.
      while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r')) ++pos;
      if (pos < text.size() && text[pos] != delim && text[pos] != '\n') {
        bad = true;
        while (pos < text.size() && text[pos] != '\n') ++pos;
        if (pos < text.size()) ++pos;
        return true;
      }
      continue;
    }
    ++pos;
    if (c == '\n') return true;
    if (c == delim) {
      cur = &field();
      at_start = true;
      continue;
    }
    if (at_start && (c == ' ' || c == '\t')) continue;  // spaces before a quote
    at_start = false;
    cur->push_back(c);
  }
  return true;
}

bool parse_int(std::string_view s, int& v) {
  s = trim(s);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

bool parse_csv(std::string_view text, const FeedConfig& cfg, TimeMs now, ParseResult& r, std::string& error) {
  r = ParseResult{};
  int col[kFields];
  if (!parse_mapping(cfg.columns, col, error)) return false;
  std::vector<std::string> fields;
  size_t nf = 0, pos = 0;
  bool bad = false;
  bool first = true;
  while (next_record(text, pos, cfg.delimiter, fields, nf, bad)) {
    ++r.records;
    if (bad) {
      r.skipped.add("malformed quoted field");
      first = false;
      continue;
    }
    std::string_view f0 = nf ? trim(fields[0]) : std::string_view();
    if (nf == 1 && f0.empty()) {
      r.ignored.add("blank line");
      continue;
    }
    if (!f0.empty() && f0.front() == '#') {
      r.ignored.add("comment");
      continue;
    }
    if (first && cfg.header) {
      first = false;
      r.ignored.add("header row");
      continue;
    }
    first = false;
    auto get = [&](int f) -> std::string_view {
      return col[f] >= 0 && static_cast<size_t>(col[f]) < nf ? trim(fields[col[f]]) : std::string_view();
    };
    if (static_cast<size_t>(col[kValue]) >= nf) {
      r.skipped.add("row without the value column");
      continue;
    }
    Classified c;
    if (const char* why = classify_indicator(get(kValue), c)) {
      r.skipped.add(why);
      continue;
    }
    if (c.note) r.ignored.add(c.note);
    Indicator ind;
    ind.kind = c.kind;
    ind.value = std::move(c.value);
    ind.confidence = cfg.confidence;
    if (auto k = get(kKindF); !k.empty()) {
      auto pk = parse_kind(k);
      if (!pk)
        r.ignored.add("unknown kind name: detected kind kept");
      else if (*pk != ind.kind)
        r.ignored.add("kind column disagrees with the value: detected kind kept");
    }
    if (auto v = get(kCategoryF); !v.empty()) {
      if (auto cat = parse_category(v))
        ind.category = *cat;
      else
        r.ignored.add("unknown category name: feed default used");
    }
    ind.family = std::string(get(kFamily));
    for (auto& ch : ind.family) ch = static_cast<char>((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
    if (auto t = get(kTags); !t.empty()) {
      while (!t.empty()) {
        size_t sep = t.find_first_of(";|");
        std::string_view one = trim(t.substr(0, sep));
        if (!one.empty()) ind.tags.emplace_back(one);
        if (sep == std::string_view::npos) break;
        t.remove_prefix(sep + 1);
      }
    }
    if (auto v = get(kConfidence); !v.empty()) {
      int n;
      if (parse_int(v, n) && n >= 0 && n <= 100)
        ind.confidence = static_cast<uint8_t>(n);
      else
        r.ignored.add("invalid confidence: feed default used");
    }
    auto time_field = [&](int f, TimeMs& t) {
      if (auto v = get(f); !v.empty()) {
        if (auto p = parse_time(v))
          t = *p;
        else
          r.ignored.add("invalid time field ignored");
      }
    };
    time_field(kFirst, ind.first_seen);
    time_field(kLast, ind.last_seen);
    time_field(kExpiry, ind.expiry);
    ind.reference = std::string(get(kReference));
    apply_feed_defaults(ind, cfg, now);
    r.indicators.push_back(std::move(ind));
  }
  return true;
}

}  // namespace omamori::intel
