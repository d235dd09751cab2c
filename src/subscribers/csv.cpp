// The subscriber directory CSV: RFC 4180 records, validated field by field.
#include <absl/container/flat_hash_set.h>

#include <algorithm>

#include "store/text.hpp"
#include "subscribers/subscriber.hpp"

namespace omamori::subscribers {

namespace {

struct Record {
  std::vector<std::string> fields;
  uint64_t line = 0;             // line the record starts on
  const char* error = nullptr;   // quoting error
};

// Splits the next record off text at pos; false at the end.
class RecordReader {
 public:
  explicit RecordReader(std::string_view t) : t_(t) {}

  bool next(Record& r) {
    if (pos_ >= t_.size()) return false;
    r.fields.assign(1, std::string());
    r.line = line_;
    r.error = nullptr;
    bool in_quotes = false, after_quote = false;
    while (pos_ < t_.size()) {
      char c = t_[pos_++];
      if (in_quotes) {
        if (c == '"') {
          if (pos_ < t_.size() && t_[pos_] == '"') {
            r.fields.back() += '"';
            ++pos_;
          } else {
            in_quotes = false;
            after_quote = true;
          }
        } else {
          if (c == '\n') ++line_;
          r.fields.back() += c;
        }
        continue;
      }
      if (c == '\n') {
        ++line_;
        break;
      }
      if (c == '\r' && (pos_ >= t_.size() || t_[pos_] == '\n')) continue;
      if (c == ',') {
        r.fields.emplace_back();
        after_quote = false;
      } else if (c == '"' && !after_quote && trimmed_empty(r.fields.back())) {
        r.fields.back().clear();
        in_quotes = true;
      } else if (after_quote) {
        if (c != ' ' && c != '\t' && !r.error) r.error = "bad quoting";
      } else {
        r.fields.back() += c;
      }
    }
    if (in_quotes) r.error = "unterminated quote";
    return true;
  }

 private:
  static bool trimmed_empty(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; });
  }
  std::string_view t_;
  size_t pos_ = 0;
  uint64_t line_ = 1;
};

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool valid_id(std::string_view s) { return !s.empty() && s.size() <= 128 && !has_control(s); }

bool valid_email(std::string_view s) {
  if (s.size() < 3 || s.size() > 254 || has_control(s)) return false;
  size_t at = s.find('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || s.find('@', at + 1) != std::string_view::npos) return false;
  std::string_view domain = s.substr(at + 1);
  if (domain.size() < 3 || domain.front() == '.' || domain.back() == '.' || domain.find('.') == std::string_view::npos ||
      domain.find("..") != std::string_view::npos)
    return false;
  for (char c : s)
    if (c == ' ' || c == '\t' || std::string_view("<>()[]\\,;:\"").find(c) != std::string_view::npos) return false;
  return true;
}

std::optional<bool> parse_bool(const std::string& s) {
  std::string v = lower(s);
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  return std::nullopt;
}

bool valid_service(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

// Validates one record's fields; nullptr when good.
const char* validate(const std::vector<std::string>& f, Subscriber& s) {
  if (f.size() != 6) return "wrong number of fields";
  for (const auto& x : f)
    if (!store::storable_text(x)) return "invalid utf-8";
  s.id = trim(f[0]);
  if (!valid_id(s.id)) return "bad subscriber id";
  s.email = trim(f[1]);
  if (!valid_email(s.email)) return "bad email";
  s.language = lower(trim(f[2]));
  if (s.language != "ja" && s.language != "en") return "bad language";
  auto w = parse_bool(trim(f[3]));
  if (!w) return "bad warnings_allowed";
  s.warnings_allowed = *w;
  s.terms_version = trim(f[4]);
  if (s.terms_version.size() > 64 || has_control(s.terms_version)) return "bad terms_version";
  if (s.warnings_allowed && s.terms_version.empty()) return "missing terms_version";
  s.service = lower(trim(f[5]));
  if (!valid_service(s.service)) return "bad service";
  return nullptr;
}

bool blank(const Record& r) { return r.fields.size() == 1 && trim(r.fields[0]).empty() && !r.error; }

}  // namespace

CsvResult parse_csv(std::string_view text) {
  CsvResult out;
  if (text.starts_with("\xef\xbb\xbf")) text.remove_prefix(3);
  RecordReader rd(text);
  Record r;
  bool header = false;
  absl::flat_hash_set<std::string> seen;
  while (rd.next(r)) {
    if (blank(r)) continue;
    if (!header) {
      std::string got;
      for (size_t i = 0; i < r.fields.size(); ++i) got += (i ? "," : "") + lower(trim(r.fields[i]));
      if (r.error || got != kCsvHeader) {
        out.error = "line " + std::to_string(r.line) + ": bad header, expected '" + std::string(kCsvHeader) + "'";
        return out;
      }
      header = true;
      continue;
    }
    ++out.lines;
    Subscriber s;
    const char* why = r.error ? r.error : validate(r.fields, s);
    if (!why && !seen.insert(s.id).second) why = "duplicate subscriber id";
    if (why) {
      out.rejects.add(why);
      out.rejected.push_back({r.line, why});
      continue;
    }
    out.rows.push_back(std::move(s));
  }
  if (!header) out.error = "empty file: the header line is required ('" + std::string(kCsvHeader) + "')";
  return out;
}

}  // namespace omamori::subscribers
