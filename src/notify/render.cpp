#include "notify/render.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "notify/text.hpp"

// Bundled templates, embedded by src/notify/CMakeLists.txt (.incbin).
extern "C" const char omamori_notify_tpl_ja_begin[], omamori_notify_tpl_ja_end[];
extern "C" const char omamori_notify_tpl_en_begin[], omamori_notify_tpl_en_end[];

namespace omamori::notify {
namespace {

constexpr int64_t kJstOffsetMs = 9 * 3600 * 1000;

struct Civil {
  int64_t y;
  unsigned m, d, hh, mm;
};

Civil civil(TimeMs t) {
  int64_t secs = t >= 0 ? t / 1000 : (t - 999) / 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t sod = secs - days * 86400;
  // Days to civil date (proleptic Gregorian), H. Hinnant's algorithm.
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  auto doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {m <= 2 ? y + 1 : y, m, d, static_cast<unsigned>(sod / 3600), static_cast<unsigned>(sod % 3600 / 60)};
}

bool is_ja(const std::string& language) { return language == "ja"; }

std::string date_part(const Civil& c, bool ja) {
  return ja ? fmt::format("{}年{}月{}日", c.y, c.m, c.d) : fmt::format("{:04}-{:02}-{:02}", c.y, c.m, c.d);
}
std::string clock_part(const Civil& c) { return fmt::format("{:02}:{:02}", c.hh, c.mm); }

// "A ～ B" (ja) / "A to B UTC"; one time when both fall in the same minute,
// the date once when both fall on the same day.
std::string format_period(TimeMs a, TimeMs b, const std::string& language) {
  bool ja = is_ja(language);
  if (b < a) b = a;
  Civil ca = civil(ja ? a + kJstOffsetMs : a), cb = civil(ja ? b + kJstOffsetMs : b);
  std::string suffix = ja ? "" : " UTC";
  std::string start = date_part(ca, ja) + " " + clock_part(ca);
  std::string sep = ja ? " ～ " : " to ";
  if (date_part(ca, ja) == date_part(cb, ja)) {
    if (clock_part(ca) == clock_part(cb)) return start + suffix;
    return start + sep + clock_part(cb) + suffix;
  }
  return start + sep + date_part(cb, ja) + " " + clock_part(cb) + suffix;
}

bool is_known_type(std::string_view t) {
  for (std::string_view k : {finding_type::kReputationDns, finding_type::kReputationFlow, finding_type::kDga,
                             finding_type::kNxdomain, finding_type::kScan, finding_type::kDarknet,
                             finding_type::kDdosSource})
    if (t == k) return true;
  return false;
}

// A malware family as shown: a plain name (letters, digits, . _ - space), else "".
std::string shown_family(std::string_view f) {
  if (f.empty() || f.size() > 40) return "";
  for (char c : f) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == ' ';
    if (!ok) return "";
  }
  return std::string(f);
}

std::string lower_primary_tag(const std::string& lang) {
  std::string out;
  for (char c : lang) {
    if (c == '-' || c == '_') break;
    out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return out;
}

std::string severity_text(const std::string& severity, bool ja) {
  if (severity == "high") return ja ? "高" : "high";
  if (severity == "medium") return ja ? "中" : "medium";
  if (severity == "low") return ja ? "低" : "low";
  return clean_line(severity, 20);
}

}  // namespace

std::string format_warning_time(TimeMs t, const std::string& language) {
  bool ja = is_ja(language);
  Civil c = civil(ja ? t + kJstOffsetMs : t);
  return date_part(c, ja) + " " + clock_part(c) + (ja ? "" : " UTC");
}

std::string shown_destination(const Finding& f) {
  if (f.type != finding_type::kReputationDns && f.type != finding_type::kReputationFlow) return "";
  if (f.category != "c2") return "";
  std::string_view s = f.indicator;
  if (s.empty() || s.size() > 253) return "";
  if (s.find('.') == std::string_view::npos) return "";
  if (IpAddr::parse(s)) return "";  // an address: not a name
  bool has_letter = false;
  std::string out;
  for (char c : s) {
    char l = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (l >= 'a' && l <= 'z') has_letter = true;
    bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '_' || l == '.';
    if (!ok) return "";  // addr:port, CIDR, URL, anything but a host name
    if (l == '.') out += "[.]";
    else out += l;
  }
  return has_letter ? out : "";
}

Scope warning_scope(const WarningRequest& req, const std::string& language, const NotifyConfig& cfg) {
  bool ja = is_ja(language);
  Scope s;
  IspContact isp = cfg.isp_for(language);
  s.set("isp_name", isp.name.empty() ? (ja ? "ご利用のプロバイダ" : "your internet provider") : clean_line(isp.name));
  s.set("isp_phone", clean_line(isp.phone));
  s.set("isp_url", clean_line(isp.url, 500));
  s.set("isp_email", clean_line(isp.email));
  s.set("isp_hours", clean_line(isp.hours));
  s.set("case_id", std::to_string(req.case_id));
  s.set("reference", clean_line(cfg.reference_prefix, 40) + std::to_string(req.case_id));
  s.set("subscriber_id", clean_line(req.subscriber_id, 100));
  s.set("language", language);
  s.set("severity", clean_line(req.severity, 20));
  s.set("severity_text", severity_text(req.severity, ja));

  std::vector<const Finding*> fs;
  for (const auto& f : req.findings) fs.push_back(&f);
  std::stable_sort(fs.begin(), fs.end(), [](const Finding* a, const Finding* b) { return a->first < b->first; });
  TimeMs first = req.first_seen, last = req.last_seen;
  if (first == 0 && !fs.empty()) {
    first = fs.front()->first;
    for (auto* f : fs) last = std::max(last, f->last);
  }
  s.set("first_seen", format_warning_time(first, language));
  s.set("last_seen", format_warning_time(std::max(first, last), language));
  s.set("first_seen_utc", format_rfc3339(first));
  s.set("last_seen_utc", format_rfc3339(std::max(first, last)));
  s.set("period", format_period(first, last, language));
  s.set("finding_count", std::to_string(fs.size()));
  size_t shown = std::min(fs.size(), cfg.max_findings);
  s.set("findings_more", fs.size() > shown ? std::to_string(fs.size() - shown) : "");

  bool has_dest = false, has_c2 = false, has_scan = false, has_ddos = false, has_dns = false;
  auto& list = s.list("findings");
  for (size_t i = 0; i < fs.size(); ++i) {
    const Finding& f = *fs[i];
    has_c2 |= f.category == "c2";
    has_scan |= f.type == finding_type::kScan || f.type == finding_type::kDarknet;
    has_ddos |= f.type == finding_type::kDdosSource;
    has_dns |= f.type == finding_type::kReputationDns || f.type == finding_type::kDga || f.type == finding_type::kNxdomain;
    if (i >= shown) continue;
    Scope item;
    item.set("type", clean_line(f.type, 40));
    item.set("known_type", is_known_type(f.type) ? "yes" : "");
    item.set("category", clean_line(f.category, 40));
    // For DDoS findings the family is the attack vector, not malware.
    bool ddos = f.type == finding_type::kDdosSource || f.category == "ddos";
    item.set("family", ddos ? "" : shown_family(f.family));
    item.set("first", format_warning_time(f.first, language));
    item.set("last", format_warning_time(std::max(f.first, f.last), language));
    item.set("period", format_period(f.first, f.last, language));
    item.set("events", std::to_string(f.events));
    std::string dest = shown_destination(f);
    has_dest |= !dest.empty();
    item.set("destination", std::move(dest));
    list.push_back(std::move(item));
  }
  s.set("has_destination", has_dest ? "yes" : "");
  s.set("has_c2", has_c2 ? "yes" : "");
  s.set("has_scan", has_scan ? "yes" : "");
  s.set("has_ddos", has_ddos ? "yes" : "");
  s.set("has_dns", has_dns ? "yes" : "");
  return s;
}

WarningRequest sample_request() {
  WarningRequest r;
  r.case_id = 42;
  r.subscriber_id = "C-0001";
  r.email = "subscriber@example.jp";
  r.language = "ja";
  r.severity = "high";
  r.pseudonym = "sub-0123456789abcdef";
  TimeMs t0 = 1714564800000;  // 2024-05-01T12:00:00Z
  auto add = [&](std::string_view type, std::string indicator, std::string category, std::string family,
                 int64_t off_min, uint64_t events) {
    Finding f;
    f.type = std::string(type);
    f.host = *IpAddr::parse("192.0.2.10");
    f.first = t0 + off_min * 60000;
    f.last = f.first + 25 * 60000;
    f.indicator = std::move(indicator);
    f.category = std::move(category);
    f.family = std::move(family);
    f.events = events;
    f.confidence = 90;
    r.findings.push_back(std::move(f));
  };
  add(finding_type::kReputationDns, "cnc.mirai-sample.example", "c2", "mirai", 0, 14);
  add(finding_type::kReputationFlow, "198.51.100.7:23", "c2", "mirai", 2, 30);
  add(finding_type::kReputationDns, "dl.malware-sample.example", "malware-download", "", 5, 3);
  add(finding_type::kDga, "x1b3k9qz.example", "dga", "", 10, 200);
  add(finding_type::kNxdomain, "", "dga", "", 10, 1500);
  add(finding_type::kScan, "tcp/23,2323", "scanner", "mirai", 20, 5000);
  add(finding_type::kDarknet, "", "scanner", "", 20, 80);
  add(finding_type::kDdosSource, "udp-flood", "ddos", "udp-flood", 40, 100000);
  add("new-detector", "", "suspicious", "", 50, 1);
  r.first_seen = r.findings.front().first;
  r.last_seen = r.findings.back().last;
  return r;
}

std::shared_ptr<const WarningTemplate> TemplateSet::parse_file(std::string_view text, const std::string& source) {
  if (text.starts_with("\xef\xbb\xbf")) text.remove_prefix(3);  // BOM from some editors
  size_t nl = text.find('\n');
  std::string_view first = text.substr(0, nl);
  if (first.ends_with('\r')) first.remove_suffix(1);
  if (!first.starts_with("Subject:"))
    throw TemplateError(source, 1, 1, "the first line must be \"Subject: ...\" (the e-mail subject)");
  std::string_view rest = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  size_t nl2 = rest.find('\n');
  std::string_view second = rest.substr(0, nl2);
  if (second.ends_with('\r')) second.remove_suffix(1);
  if (!second.empty()) throw TemplateError(source, 2, 1, "line 2 must be empty (it separates the subject from the body)");
  std::string_view body = nl2 == std::string_view::npos ? std::string_view{} : rest.substr(nl2 + 1);
  std::string_view subj = first.substr(8);
  while (!subj.empty() && subj.front() == ' ') subj.remove_prefix(1);
  auto t = std::make_shared<WarningTemplate>();
  t->source = source;
  t->subject = Template::parse(subj, source, 1);
  t->body = Template::parse(body, source, 3);
  Scope schema = warning_scope(sample_request(), "en", NotifyConfig{});
  t->subject.check(schema);
  t->body.check(schema);
  return t;
}

TemplateSet TemplateSet::bundled() {
  static const TemplateSet set = [] {
    TemplateSet s;
    s.set("ja", parse_file(std::string_view(omamori_notify_tpl_ja_begin,
                                            static_cast<size_t>(omamori_notify_tpl_ja_end - omamori_notify_tpl_ja_begin)),
                           "bundled:ja/warning.txt"));
    s.set("en", parse_file(std::string_view(omamori_notify_tpl_en_begin,
                                            static_cast<size_t>(omamori_notify_tpl_en_end - omamori_notify_tpl_en_begin)),
                           "bundled:en/warning.txt"));
    return s;
  }();
  return set;
}

TemplateSet TemplateSet::load(const std::string& dir) {
  namespace fs = std::filesystem;
  TemplateSet s = bundled();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw std::runtime_error(fmt::format("{}: not a template directory", dir));
  int found = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_directory()) continue;
    std::string lang = e.path().filename().string();
    bool tag_ok = !lang.empty() && lang.size() <= 35 && std::all_of(lang.begin(), lang.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
    if (!tag_ok) continue;  // not a language tag (lower case, e.g. "ja", "pt-br")
    fs::path file = e.path() / "warning.txt";
    if (!fs::exists(file)) continue;
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error(fmt::format("{}: cannot read", file.string()));
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (text.size() > Template::kMaxSize) throw TemplateError(file.string(), 1, 1, "file too large");
    s.set(lang, parse_file(text, file.string()));
    ++found;
  }
  if (ec) throw std::runtime_error(fmt::format("{}: {}", dir, ec.message()));
  if (found == 0) throw std::runtime_error(fmt::format("{}: no <language>/warning.txt template found", dir));
  return s;
}

const WarningTemplate* TemplateSet::find(const std::string& language) const {
  auto it = by_lang_.find(language);
  return it == by_lang_.end() ? nullptr : it->second.get();
}

std::vector<std::string> TemplateSet::languages() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : by_lang_) out.push_back(k);
  return out;
}

std::string choose_language(const std::string& requested, const TemplateSet& set, const NotifyConfig& cfg) {
  std::string lang = lower_primary_tag(requested);
  if (!lang.empty() && set.find(lang)) return lang;
  if (set.find(cfg.default_language)) return cfg.default_language;
  return "en";
}

RenderedWarning render_warning(const WarningRequest& req, const TemplateSet& set, const NotifyConfig& cfg) {
  RenderedWarning w;
  w.language = choose_language(req.language, set, cfg);
  const WarningTemplate* t = set.find(w.language);
  if (!t) throw std::runtime_error(fmt::format("no template for language '{}'", w.language));
  Scope scope = warning_scope(req, w.language, cfg);
  w.reference = *scope.find_string("reference");
  w.subject = t->subject.render(scope);
  while (!w.subject.empty() && (w.subject.back() == ' ' || w.subject.back() == '\t')) w.subject.pop_back();
  if (has_line_break(w.subject)) throw std::runtime_error(t->source + ": the rendered subject holds a line break");
  w.body = t->body.render(scope);
  if (!w.body.empty() && w.body.back() != '\n') w.body += '\n';
  return w;
}

}  // namespace omamori::notify
