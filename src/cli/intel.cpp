// `omamori intel`: import feeds into the indicator store, list, stats, export, match.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "core/ip.hpp"
#include "intel/export.hpp"
#include "intel/feeds/feeds.hpp"
#include "intel/match.hpp"
#include "intel/store_sqlite.hpp"

namespace omamori::cli {

using namespace omamori::intel;

namespace {

struct IntelOptions {
  std::string db = "omamori.db";
  // import
  std::string feed, format, columns = "value=1", category, family, tags, delimiter = ",";
  int confidence = 50;
  bool header = false, no_subdomains = false, allow = false;
  double ttl_days = 0;
  std::vector<std::string> files;
  // list / stats / export / match
  std::string kind, out_format = "table", output = "-", action_map, origin = "rpz.omamori.local";
  std::vector<std::string> feeds;
  size_t limit = 0;
  bool url_hosts = false;
  std::vector<std::string> queries;
};

std::unique_ptr<IntelDb> open_db(const std::string& path) {
  try {
    return std::make_unique<IntelDb>(path);
  } catch (const DbError& e) {
    throw CommandError(kFailure, e.what());
  }
}

std::FILE* open_out(const std::string& path) {
  if (path == "-") return stdout;
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw CommandError(kFailure, "cannot write " + path + ": " + std::strerror(errno));
  return f;
}

std::string time_or_dash(TimeMs t) {
  return t ? format_rfc3339(t) : "-";
}

nlohmann::json indicator_json(const Indicator& i) {
  nlohmann::json j = {{"feed", i.feed},
                      {"kind", kind_name(i.kind)},
                      {"value", i.value},
                      {"category", category_name(i.category)},
                      {"family", i.family},
                      {"tags", i.tags},
                      {"confidence", i.confidence},
                      {"first_seen", time_or_dash(i.first_seen)},
                      {"last_seen", time_or_dash(i.last_seen)}};
  if (i.expiry) j["expiry"] = format_rfc3339(i.expiry);
  if (!i.reference.empty()) j["reference"] = i.reference;
  return j;
}

void cmd_import(IntelOptions& o) {
  FeedConfig cfg;
  cfg.name = o.feed;
  cfg.format = o.format;
  if (!o.category.empty()) {
    auto c = parse_category(o.category);
    if (!c) throw CommandError(kUsage, "unknown category '" + o.category + "'");
    cfg.category = c;
  }
  if (o.confidence < 0 || o.confidence > 100) throw CommandError(kUsage, "--confidence must be 0-100");
  cfg.confidence = static_cast<uint8_t>(o.confidence);
  cfg.family = o.family;
  for (size_t p = 0; !o.tags.empty() && p != std::string::npos;) {
    size_t c = o.tags.find(',', p);
    std::string t = o.tags.substr(p, c == std::string::npos ? std::string::npos : c - p);
    if (!t.empty()) cfg.tags.push_back(t);
    p = c == std::string::npos ? c : c + 1;
  }
  cfg.subdomains = !o.no_subdomains;
  cfg.allow = o.allow;
  cfg.ttl = static_cast<TimeMs>(o.ttl_days * 86400000.0);
  cfg.columns = o.columns;
  if (o.delimiter == "\\t" || o.delimiter == "tab") o.delimiter = "\t";
  if (o.delimiter.size() != 1) throw CommandError(kUsage, "--delimiter must be one character");
  cfg.delimiter = o.delimiter[0];
  cfg.header = o.header;

  TimeMs now = now_ms();
  std::vector<Indicator> all;
  ReasonCounters skipped;
  std::string sources;
  for (const auto& path : o.files) {
    std::string text, err;
    if (!read_text_file(path, text, err)) throw CommandError(kFailure, err);
    ParseResult r;
    if (!parse_feed(text, cfg, path, now, r, err)) throw CommandError(kUsage, err);
    fmt::print(stderr, "{}: {} records, {} indicators, {} skipped\n", path, r.records, r.indicators.size(),
               r.skipped.total());
    report_errors(path + ": skipped", r.skipped, false);
    skipped.merge(r.skipped);
    for (auto& i : r.indicators) all.push_back(std::move(i));
    if (!sources.empty()) sources += ' ';
    sources += path;
  }
  auto db = open_db(o.db);
  ImportStats st;
  try {
    st = db->replace_feed(cfg, sources, all, skipped, now);
  } catch (const DbError& e) {
    throw CommandError(kFailure, e.what());
  }
  fmt::print("feed {}: {} read, {} added, {} updated, {} duplicates, {} removed, {} now stored, {} skipped\n", cfg.name,
             st.read, st.added, st.updated, st.duplicates, st.removed, st.total, skipped.total());
  if (skipped.total() > 0) exit_code() = kDataErrors;
}

void cmd_list(IntelOptions& o) {
  auto db = open_db(o.db);
  IndicatorQuery q;
  if (!o.feeds.empty()) q.feed = o.feeds.front();
  if (!o.kind.empty()) {
    q.kind = parse_kind(o.kind);
    if (!q.kind) throw CommandError(kUsage, "unknown kind '" + o.kind + "'");
  }
  q.limit = o.limit;
  std::FILE* out = open_out(o.output);
  TimeMs now = now_ms();
  if (o.out_format == "table")
    fmt::print(out, "{:<16} {:<9} {:<40} {:<16} {:<12} {:>4} {:<24} {}\n", "FEED", "KIND", "VALUE", "CATEGORY",
               "FAMILY", "CONF", "LAST SEEN", "EXPIRY");
  db->for_each(q, [&](const Indicator& i, bool allow) {
    if (o.out_format == "jsonl") {
      auto j = indicator_json(i);
      if (allow) j["allowlist"] = true;
      if (i.expired(now)) j["expired"] = true;
      fmt::print(out, "{}\n", j.dump());
    } else {
      fmt::print(out, "{:<16} {:<9} {:<40} {:<16} {:<12} {:>4} {:<24} {}\n", i.feed, kind_name(i.kind), i.value,
                 allow ? "allowlist" : category_name(i.category), i.family.empty() ? "-" : i.family, i.confidence,
                 time_or_dash(i.last_seen), i.expiry ? (i.expired(now) ? "expired" : format_rfc3339(i.expiry)) : "-");
    }
  });
  if (out != stdout) std::fclose(out);
}

void cmd_stats(IntelOptions& o) {
  auto db = open_db(o.db);
  SnapshotOptions so;
  so.url_hosts_match_dns = o.url_hosts;
  ReasonCounters rejected;
  auto snap = db->compile(so, &rejected);
  auto feeds = db->feeds();
  std::FILE* out = open_out(o.output);
  for (const auto& f : feeds) {
    const FeedStats* fs = nullptr;
    for (const auto& s : snap->feed_stats())
      if (s.name == f.name) fs = &s;
    if (o.out_format == "jsonl") {
      nlohmann::json j = {
          {"feed", f.name},       {"format", f.format},     {"source", f.source},
          {"allowlist", f.allow}, {"stored", f.indicators}, {"last_import", time_or_dash(f.last_import)},
          {"skipped", f.skipped}, {"added", f.added},       {"removed", f.removed}};
      nlohmann::json reasons = nlohmann::json::object();
      for (const auto& [r, c] : f.skip_reasons) reasons[r] = c;
      j["skip_reasons"] = reasons;
      if (fs) {
        nlohmann::json kinds = nlohmann::json::object(), cats = nlohmann::json::object();
        for (int k = 0; k < kKindCount; ++k)
          if (fs->by_kind[k]) kinds[kind_name(static_cast<Kind>(k))] = fs->by_kind[k];
        for (int c = 0; c < kCategoryCount; ++c)
          if (fs->by_category[c]) cats[category_name(static_cast<Category>(c))] = fs->by_category[c];
        j["active"] = fs->indicators;
        j["by_kind"] = kinds;
        j["by_category"] = cats;
        j["expired"] = fs->expired;
        j["allowlisted"] = fs->allowlisted;
        j["memory_bytes"] = fs->bytes;
      }
      fmt::print(out, "{}\n", j.dump());
      continue;
    }
    fmt::print(out, "feed {} ({}{}), source {}\n", f.name, f.format, f.allow ? ", allowlist" : "",
               f.source.empty() ? "-" : f.source);
    fmt::print(out, "  last import {}: {} stored, {} added, {} removed, {} skipped\n", time_or_dash(f.last_import),
               f.indicators, f.added, f.removed, f.skipped);
    for (const auto& [r, c] : f.skip_reasons) fmt::print(out, "    skipped: {}: {}\n", r, c);
    if (fs) {
      std::string kinds, cats;
      for (int k = 0; k < kKindCount; ++k)
        if (fs->by_kind[k]) kinds += fmt::format(" {}={}", kind_name(static_cast<Kind>(k)), fs->by_kind[k]);
      for (int c = 0; c < kCategoryCount; ++c)
        if (fs->by_category[c])
          cats += fmt::format(" {}={}", category_name(static_cast<Category>(c)), fs->by_category[c]);
      fmt::print(out, "  active {} (expired {}, allowlisted {}), memory {} bytes ({:.1f} bytes/indicator)\n",
                 fs->indicators, fs->expired, fs->allowlisted, fs->bytes,
                 fs->indicators ? double(fs->bytes) / double(fs->indicators) : 0.0);
      if (!kinds.empty()) fmt::print(out, "  by kind:{}\n", kinds);
      if (!cats.empty()) fmt::print(out, "  by category:{}\n", cats);
    }
  }
  if (o.out_format == "table")
    fmt::print(out, "snapshot: {} indicators, {} allowlist entries, {} bytes\n", snap->size(), snap->allow_size(),
               snap->memory_bytes());
  if (out != stdout) std::fclose(out);
  report_errors("intel stats: rejected", rejected, false);
}

std::vector<Indicator> active_indicators(IntelDb& db, const IntelOptions& o) {
  SnapshotOptions so;
  ReasonCounters rejected;
  auto snap = db.compile(so, &rejected);
  report_errors("intel: rejected", rejected, false);
  std::vector<Indicator> r;
  r.reserve(snap->size());
  for (uint32_t id = 0; id < snap->size(); ++id) {
    if (!o.feeds.empty() && std::find(o.feeds.begin(), o.feeds.end(), snap->feed(id)) == o.feeds.end()) continue;
    if (!o.kind.empty() && parse_kind(o.kind) != snap->kind(id)) continue;
    r.push_back(snap->indicator(id));
  }
  return r;
}

void cmd_export(IntelOptions& o) {
  auto db = open_db(o.db);
  if (!o.kind.empty() && !parse_kind(o.kind)) throw CommandError(kUsage, "unknown kind '" + o.kind + "'");
  RpzOptions rpz;
  rpz.origin = o.origin;
  if (!rpz.origin.empty() && rpz.origin.back() == '.') rpz.origin.pop_back();
  std::string err;
  if (!parse_action_map(o.action_map, rpz, err)) throw CommandError(kUsage, err);
  auto inds = active_indicators(*db, o);
  ReasonCounters skipped;
  TimeMs now = now_ms();
  std::string text;
  if (o.out_format == "rpz")
    text = export_rpz(inds, rpz, skipped, now);
  else if (o.out_format == "plain")
    text = export_plain(inds, now);
  else
    text = export_stix(inds, skipped, now);
  std::FILE* out = open_out(o.output);
  std::fwrite(text.data(), 1, text.size(), out);
  if (out != stdout) std::fclose(out);
  report_errors("intel export: not exported", skipped, false);
}

void cmd_match(IntelOptions& o) {
  auto db = open_db(o.db);
  SnapshotOptions so;
  so.url_hosts_match_dns = o.url_hosts;
  auto snap = db->compile(so);
  std::FILE* out = open_out(o.output);
  for (const auto& q : o.queries) {
    Match m;
    bool allowed = false;
    std::string_view qv = q;
    std::optional<IpAddr> addr = IpAddr::parse(qv);
    if (addr) {
      m = snap->match_addr(*addr);
      allowed = snap->allowed_addr(*addr);
    } else if (qv.find("://") != std::string_view::npos || qv.find('/') != std::string_view::npos) {
      m = snap->match_url(qv);
    } else {
      // address:port ("192.0.2.1:23", "[2001:db8::1]:443")?
      size_t colon = qv.rfind(':');
      std::optional<IpAddr> a = colon == std::string_view::npos ? std::nullopt : IpAddr::parse(qv.substr(0, colon));
      unsigned port = 0;
      bool port_ok = a && colon + 1 < qv.size() && qv.size() - colon - 1 <= 5;
      for (size_t i = colon + 1; port_ok && i < qv.size(); ++i) {
        port_ok = qv[i] >= '0' && qv[i] <= '9';
        port = port * 10 + static_cast<unsigned>(qv[i] - '0');
      }
      if (port_ok && port <= 65535) {
        m = snap->match_addr_port(*a, static_cast<uint16_t>(port), 0);
        allowed = snap->allowed_addr(*a);
      } else {
        m = snap->match_domain(qv);
        allowed = snap->allowed_domain(qv);
      }
    }
    if (o.out_format == "jsonl") {
      nlohmann::json j = {{"query", q}, {"listed", static_cast<bool>(m)}};
      if (allowed) j["allowlisted"] = true;
      if (m) {
        j["match"] = match_type_name(m.how);
        j["indicator"] = indicator_json(snap->indicator(m.id));
        nlohmann::json also = nlohmann::json::array();
        for (uint32_t id : snap->same_value(m.id)) also.push_back(indicator_json(snap->indicator(id)));
        if (!also.empty()) j["also"] = also;
      }
      fmt::print(out, "{}\n", j.dump());
      continue;
    }
    if (!m) {
      fmt::print(out, "{}: not listed{}\n", q, allowed ? " (allowlisted)" : "");
      continue;
    }
    auto print_one = [&](uint32_t id, const char* lead) {
      Indicator i = snap->indicator(id);
      fmt::print(out, "{}{} {} in feed {}: category {}, family {}, confidence {}, last seen {}{}\n", lead,
                 kind_name(i.kind), i.value, i.feed, category_name(i.category), i.family.empty() ? "-" : i.family,
                 i.confidence, time_or_dash(i.last_seen), i.reference.empty() ? "" : ", reference " + i.reference);
    };
    fmt::print(out, "{}: listed ({} match)\n", q, match_type_name(m.how));
    print_one(m.id, "  ");
    for (uint32_t id : snap->same_value(m.id)) print_one(id, "  also: ");
  }
  if (out != stdout) std::fclose(out);
}

void add_db(CLI::App* c, IntelOptions& o) {
  c->add_option("--db", o.db, "SQLite indicator store")->capture_default_str();
}

}  // namespace

void register_intel(CLI::App& app) {
  auto o = std::make_shared<IntelOptions>();
  auto* intel = app.add_subcommand("intel", "Threat intelligence: import feeds, list, stats, export, match");
  intel->require_subcommand(1);

  auto* imp = intel->add_subcommand("import", "Import feed files into the store (replaces the feed's indicators)");
  add_db(imp, *o);
  imp->add_option("--feed", o->feed, "Feed name")->required();
  imp->add_option("--format", o->format, "Feed format")
      ->required()
      ->check(CLI::IsMember({"plain", "csv", "maltrail", "stix"}));
  imp->add_option("--columns", o->columns,
                  "CSV column mapping, e.g. value=1,category=3,family=4 (fields: value, kind, category, family, tags, "
                  "confidence, first_seen, last_seen, expiry, reference)")
      ->capture_default_str();
  imp->add_option("--delimiter", o->delimiter, "CSV delimiter (one character, or 'tab')")->capture_default_str();
  imp->add_flag("--header", o->header, "CSV: the first row is a header");
  imp->add_option("--category", o->category,
                  "Default category (c2, malware_download, phishing, sinkhole, scanner, "
                  "spam, malware, suspicious)");
  imp->add_option("--confidence", o->confidence, "Default confidence 0-100")->capture_default_str();
  imp->add_option("--family", o->family, "Default malware family");
  imp->add_option("--tags", o->tags, "Tags added to every indicator, comma-separated");
  imp->add_flag("--no-subdomains", o->no_subdomains, "Domain indicators match only themselves, not names below");
  imp->add_flag("--allow", o->allow, "The feed is an allowlist: its entries suppress every other feed's matches");
  imp->add_option("--ttl-days", o->ttl_days, "Indicators expire this many days after import (unless the feed says)");
  imp->add_option("files", o->files, "Feed files ('-' for standard input)")->required();
  imp->callback([o] { cmd_import(*o); });

  auto* list = intel->add_subcommand("list", "List stored indicators");
  add_db(list, *o);
  list->add_option("--feed", o->feeds, "Only this feed")->expected(1);
  list->add_option("--kind", o->kind, "Only this kind (ipv4, ipv6, cidr, domain, url, addr_port)");
  list->add_option("--format", o->out_format, "table or jsonl")
      ->check(CLI::IsMember({"table", "jsonl"}))
      ->capture_default_str();
  list->add_option("--limit", o->limit, "At most this many");
  list->add_option("-o,--output", o->output, "Write to this file");
  list->callback([o] { cmd_list(*o); });

  auto* stats = intel->add_subcommand("stats", "Per feed: counts by kind and category, memory, last import");
  add_db(stats, *o);
  stats->add_option("--format", o->out_format, "table or jsonl")
      ->check(CLI::IsMember({"table", "jsonl"}))
      ->capture_default_str();
  stats->add_flag("--url-hosts-match-dns", o->url_hosts, "Compile URL hosts as DNS name indicators too");
  stats->add_option("-o,--output", o->output, "Write to this file");
  stats->callback([o] { cmd_stats(*o); });

  auto* exp = intel->add_subcommand("export", "Export active indicators as an RPZ zone, a plain list or STIX 2.1");
  add_db(exp, *o);
  exp->add_option("--format", o->out_format, "rpz, plain or stix")
      ->required()
      ->check(CLI::IsMember({"rpz", "plain", "stix"}));
  exp->add_option("--action-map", o->action_map,
                  "RPZ action per category, e.g. c2=nxdomain,phishing=walled-garden:garden.example,*=passthru "
                  "(default: passthru, log only)");
  exp->add_option("--origin", o->origin, "RPZ zone name")->capture_default_str();
  exp->add_option("--feed", o->feeds, "Only these feeds");
  exp->add_option("--kind", o->kind, "Only this kind");
  exp->add_option("-o,--output", o->output, "Write to this file");
  exp->callback([o] { cmd_export(*o); });

  auto* match = intel->add_subcommand("match", "Is this name, address, address:port or URL listed, and by which feed");
  add_db(match, *o);
  match->add_option("--format", o->out_format, "table or jsonl")
      ->check(CLI::IsMember({"table", "jsonl"}))
      ->capture_default_str();
  match->add_flag("--url-hosts-match-dns", o->url_hosts, "URL indicators' hosts match DNS names too");
  match->add_option("-o,--output", o->output, "Write to this file");
  match->add_option("queries", o->queries, "Names, addresses, address:port, URLs")->required();
  match->callback([o] { cmd_match(*o); });
}

}  // namespace omamori::cli
