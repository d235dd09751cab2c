// Plain lists and Maltrail trail files: one indicator a line.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "intel/feeds/feeds.hpp"
#include "intel/normalize.hpp"

namespace omamori::intel {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <typename F>
void for_each_line(std::string_view text, F&& f) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    f(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
}

// Cuts a trailing comment that follows whitespace: "1.2.3.4  # seen 2024".
std::string_view cut_comment(std::string_view s) {
  for (size_t i = 1; i < s.size(); ++i)
    if ((s[i] == '#' || s[i] == ';') && (s[i - 1] == ' ' || s[i - 1] == '\t')) return trim(s.substr(0, i));
  return s;
}

bool take_indicator(std::string_view token, const FeedConfig& cfg, ParseResult& r, Indicator& ind) {
  Classified c;
  if (const char* why = classify_indicator(token, c)) {
    r.skipped.add(why);
    return false;
  }
  if (c.note) r.ignored.add(c.note);
  ind = Indicator{};
  ind.kind = c.kind;
  ind.value = std::move(c.value);
  ind.confidence = cfg.confidence;
  return true;
}

}  // namespace

ParseResult parse_plain(std::string_view text, const FeedConfig& cfg, TimeMs now) {
  ParseResult r;
  for_each_line(text, [&](std::string_view line) {
    ++r.records;
    line = trim(line);
    if (line.empty()) return r.ignored.add("blank line");
    if (line.front() == '#' || line.front() == ';' || line.starts_with("//")) return r.ignored.add("comment");
    line = cut_comment(line);
    // First token; hosts-file lines give the name in the second token.
    size_t sp = line.find_first_of(" \t");
    std::string_view token = line.substr(0, sp);
    if (sp != std::string_view::npos) {
      std::string_view rest = trim(line.substr(sp));
      if (token == "0.0.0.0" || token == "127.0.0.1" || token == "::" || token == "::1") {
        size_t sp2 = rest.find_first_of(" \t");
        if (sp2 != std::string_view::npos) r.ignored.add("hosts line with several names: first taken");
        token = rest.substr(0, sp2);
        r.ignored.add("hosts-file line");
      } else {
        r.ignored.add("text after the value ignored");
      }
    }
    Indicator ind;
    if (!take_indicator(token, cfg, r, ind)) return;
    apply_feed_defaults(ind, cfg, now);
    r.indicators.push_back(std::move(ind));
  });
  return r;
}

std::string maltrail_family(std::string_view file_name) {
  size_t slash = file_name.find_last_of('/');
  if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  if (size_t dot = file_name.rfind('.'); dot != std::string_view::npos) file_name = file_name.substr(0, dot);
  static constexpr std::string_view kPrefixes[] = {"sinkhole_", "elf_", "win_",   "android_",
                                                   "osx_",      "ios_", "linux_", "macos_"};
  for (auto p : kPrefixes)
    if (file_name.starts_with(p) && file_name.size() > p.size()) {
      file_name.remove_prefix(p.size());
      break;
    }
  std::string f(file_name);
  for (auto& c : f) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c + 32 : c);
  return f;
}

ParseResult parse_maltrail(std::string_view text, const FeedConfig& cfg, std::string_view file_name, TimeMs now) {
  ParseResult r;
  std::string base(
      file_name.substr(file_name.find_last_of('/') == std::string_view::npos ? 0 : file_name.find_last_of('/') + 1));
  bool sinkhole = base.starts_with("sinkhole_");
  std::string family = maltrail_family(file_name);
  std::string reference;
  std::vector<std::string> aliases;
  for_each_line(text, [&](std::string_view line) {
    ++r.records;
    line = trim(line);
    if (line.empty()) return r.ignored.add("blank line");
    if (line.front() == '#') {
      std::string_view c = trim(line.substr(1));
      auto value_after = [&](std::string_view key) -> std::optional<std::string_view> {
        if (c.size() > key.size() && strncasecmp(c.data(), key.data(), key.size()) == 0)
          return trim(c.substr(key.size()));
        return std::nullopt;
      };
      if (auto v = value_after("Reference:")) {
        reference.assign(*v);
        return r.ignored.add("reference comment");
      }
      if (auto v = value_after("Aliases:")) {
        aliases.clear();
        std::string_view rest = *v;
        while (!rest.empty()) {
          size_t comma = rest.find(',');
          std::string_view a = trim(rest.substr(0, comma));
          if (!a.empty()) {
            std::string t = "alias:";
            for (char ch : a) t += (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch + 32) : ch;
            aliases.push_back(std::move(t));
          }
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
        return r.ignored.add("aliases comment");
      }
      return r.ignored.add("comment");
    }
    line = cut_comment(line);
    if (line.find_first_of(" \t") != std::string_view::npos) return r.skipped.add("space inside trail");
    Indicator ind;
    if (!take_indicator(line, cfg, r, ind)) return;
    if (cfg.category) {
      ind.category = *cfg.category;
    } else if (sinkhole) {
      ind.category = Category::kSinkhole;
    } else if (ind.kind == Kind::kUrl) {
      ind.category = Category::kMalwareDownload;
    } else {
      ind.category = Category::kC2;
    }
    ind.family = cfg.family.empty() ? family : cfg.family;
    ind.reference = reference;
    ind.tags = aliases;
    apply_feed_defaults(ind, cfg, now);
    r.indicators.push_back(std::move(ind));
  });
  return r;
}

bool read_text_file(const std::string& path, std::string& out, std::string& error) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (!f) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  out.clear();
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  bool bad = std::ferror(f);
  if (f != stdin) std::fclose(f);
  if (bad) {
    error = "cannot read " + path;
    return false;
  }
  return true;
}

bool parse_feed(std::string_view text, const FeedConfig& cfg, std::string_view file_name, TimeMs now, ParseResult& out,
                std::string& error) {
  if (cfg.format == "plain") {
    out = parse_plain(text, cfg, now);
    return true;
  }
  if (cfg.format == "maltrail") {
    out = parse_maltrail(text, cfg, file_name, now);
    return true;
  }
  if (cfg.format == "stix") {
    out = parse_stix(text, cfg, now);
    return true;
  }
  if (cfg.format == "csv") return parse_csv(text, cfg, now, out, error);
  error = "unknown feed format '" + cfg.format + "' (plain, csv, maltrail, stix)";
  return false;
}

}  // namespace omamori::intel
