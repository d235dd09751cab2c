// `omamori analyze`: batch analysis of flow exports, raw traffic and DNS
// data against threat intelligence and behavioural detectors; prints the
// findings and a per-host summary.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

#include "analyze/pipeline.hpp"
#include "cli/common.hpp"
#include "cli/ddos_options.hpp"
#include "detect/c2/store.hpp"
#include "privacy/roles.hpp"
#include "ingest/dns/reader.hpp"
#include "ingest/flow_decoder.hpp"
#include "ingest/pcap/pcap_file.hpp"
#include "ingest/pcap/udp_stream.hpp"
#include "intel/feeds/feeds.hpp"
#include "intel/store_sqlite.hpp"

namespace omamori::cli {

namespace {

struct AnalyzeOptions {
  std::vector<std::string> pcaps, flow_files, dns_files, feeds, allow_files;
  std::string db, c2_db;
  std::vector<std::string> subscribers, darknet, infrastructure;
  DdosOptions ddos;
  double meter_timeout = 1;
  uint32_t scan_min_destinations = 64;
  size_t c2_max_destinations = c2::Config{}.max_destinations;
  size_t c2_max_contacts = c2::Config{}.max_contacts;
  std::string format = "table";
  bool no_summary = false;
  bool no_c2 = false;
  std::string attack_report;
  int min_confidence = 0;
};

// "[name=]format:path" -> feed config and path.
intel::FeedConfig feed_spec(const std::string& spec, std::string& path) {
  intel::FeedConfig cfg;
  std::string s = spec;
  auto eq = s.find('=');
  auto colon = s.find(':');
  if (eq != std::string::npos && eq < colon) {
    cfg.name = s.substr(0, eq);
    s = s.substr(eq + 1);
    colon = s.find(':');
  }
  if (colon == std::string::npos) throw CommandError(kUsage, "--feed wants [NAME=]FORMAT:PATH, got '" + spec + "'");
  cfg.format = s.substr(0, colon);
  path = s.substr(colon + 1);
  if (cfg.format != "plain" && cfg.format != "csv" && cfg.format != "maltrail" && cfg.format != "stix")
    throw CommandError(kUsage, "--feed format must be plain, csv, maltrail or stix: '" + spec + "'");
  if (cfg.name.empty()) cfg.name = std::filesystem::path(path).stem().string();
  return cfg;
}

std::shared_ptr<const intel::IntelSnapshot> load_intel(const AnalyzeOptions& o, uint64_t& skipped) {
  if (o.feeds.empty() && o.db.empty()) return nullptr;
  TimeMs now = now_ms();
  intel::SnapshotBuilder b;
  if (!o.db.empty()) {
    intel::IntelDb db(o.db);
    db.for_each({}, [&](const intel::Indicator& ind, bool allow) {
      if (allow)
        b.add_allow(ind.value, ind.feed);
      else
        b.add(ind);
    });
  }
  for (const auto& spec : o.feeds) {
    std::string path, text, err;
    auto cfg = feed_spec(spec, path);
    if (!intel::read_text_file(path, text, err)) throw CommandError(kFailure, err);
    intel::ParseResult res;
    if (!intel::parse_feed(text, cfg, std::filesystem::path(path).filename().string(), now, res, err))
      throw CommandError(kFailure, path + ": " + err);
    skipped += res.skipped.total();
    report_errors("feed " + cfg.name, res.skipped, false);
    for (const auto& ind : res.indicators) b.add(ind);
  }
  for (const auto& path : o.allow_files) {
    std::string text, err;
    if (!intel::read_text_file(path, text, err)) throw CommandError(kFailure, err);
    size_t i = 0;
    while (i < text.size()) {
      size_t j = text.find('\n', i);
      if (j == std::string::npos) j = text.size();
      std::string_view line(text.data() + i, j - i);
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
      if (!line.empty() && line[0] != '#') b.add_allow(line, "allowlist");
      i = j + 1;
    }
  }
  auto snap = b.build();
  report_errors("intel", b.rejected(), false);
  return snap;
}

void print_findings(const std::vector<Finding>& findings, const std::vector<HostVerdict>& verdicts,
                    const AnalyzeOptions& o) {
  fmt::memory_buffer b;
  auto it = std::back_inserter(b);
  bool json = o.format == "jsonl";
  if (!json) {
    fmt::format_to(it, "{:<17} {:<39} {:<24} {:<24} {:>6} {:>4}  {}\n", "type", "host", "first", "last", "events",
                   "conf", "explanation");
  }
  for (const auto& f : findings) {
    if (f.confidence < o.min_confidence) continue;
    if (json) {
      b.append(finding_to_json(f));
      b.push_back('\n');
    } else {
      fmt::format_to(it, "{:<17} {:<39} {:<24} {:<24} {:>6} {:>4}  {}\n", f.type, f.host.empty() ? "-" : f.host.str(),
                     format_rfc3339(f.first), format_rfc3339(f.last), f.events, f.confidence, f.explanation);
    }
  }
  if (!o.no_summary && !json) {
    fmt::format_to(it, "\nper-host summary ({} hosts with findings)\n", verdicts.size());
    for (const auto& v : verdicts)
      fmt::format_to(it, "  {:<39} {:<10} score {:>3.0f}  since {}  {}\n", v.host.str(), v.level, v.score,
                     format_rfc3339(v.first), fmt::join(v.evidence, "; "));
  } else if (!o.no_summary && json) {
    for (const auto& v : verdicts) {
      nlohmann::ordered_json j;
      j["summary"] = v.host.str();
      j["level"] = v.level;
      j["score"] = static_cast<int>(v.score + 0.5);
      j["first"] = format_rfc3339(v.first);
      j["last"] = format_rfc3339(v.last);
      j["findings"] = v.findings;
      j["evidence"] = v.evidence;
      j["explanation"] = v.explanation;
      b.append(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      b.push_back('\n');
    }
  }
  std::fwrite(b.data(), 1, b.size(), stdout);
  std::fflush(stdout);
}

// Records the run's C&C candidates in the candidate store; returns the
// findings to show: all but the candidates an analyst rejected (unless their
// evidence grew enough to reopen them).
std::vector<Finding> record_candidates(const Pipeline& p, const AnalyzeOptions& o) {
  std::vector<Finding> shown;
  try {
    c2::CandidateStore store(o.c2_db);
    c2::RunInfo run;
    run.at = now_ms();
    run.actor = privacy::current_actor();
    std::vector<std::string> inputs;
    for (const auto* v : {&o.pcaps, &o.flow_files, &o.dns_files})
      for (const auto& f : *v) inputs.push_back(std::filesystem::path(f).filename().string());
    run.source = fmt::format("{}", fmt::join(inputs, " "));
    run.population = static_cast<uint32_t>(p.discovery().hosts());
    run.suspected = static_cast<uint32_t>(p.discovery().suspected());
    auto st = store.record(p.candidates(), run);
    for (const auto& f : p.findings()) {
      if (f.type == finding_type::kC2Candidate) {
        auto c = store.get(f.indicator);
        if (c && c->status == c2::Status::Rejected) continue;
      }
      shown.push_back(f);
    }
    fmt::print(stderr,
               "omamori: C&C candidates recorded in {}: {} new, {} updated, {} reopened, {} rejected before (not "
               "shown); review with `omamori c2 candidates --db {}`\n",
               o.c2_db, st.added, st.updated, st.reopened, st.suppressed, o.c2_db);
  } catch (const intel::DbError& e) {
    throw CommandError(kFailure, e.what());
  }
  return shown;
}

void run_analyze(AnalyzeOptions& o) {
  if (o.pcaps.empty() && o.flow_files.empty() && o.dns_files.empty())
    throw CommandError(kUsage, "nothing to analyse: give --pcap, --flows or --dns inputs");
  PipelineConfig cfg;
  cfg.subscribers = parse_prefixes(o.subscribers, "--subscribers");
  cfg.c2.infrastructure = parse_prefixes(o.infrastructure, "--infrastructure");
  cfg.scan.darknet = parse_prefixes(o.darknet, "--darknet");
  cfg.scan.min_destinations = o.scan_min_destinations;
  cfg.discover_c2 = !o.no_c2;
  cfg.c2.max_destinations = o.c2_max_destinations;
  cfg.c2.max_contacts = o.c2_max_contacts;
  o.ddos.apply(cfg.ddos);
  cfg.meter.active_timeout_ms = cfg.meter.inactive_timeout_ms = static_cast<TimeMs>(o.meter_timeout * 1000);

  uint64_t feed_skipped = 0;
  auto snap = load_intel(o, feed_skipped);
  Pipeline p(cfg, snap);
  bool read_failed = false;
  std::string err;
  for (const auto& path : o.pcaps) {
    auto f = PcapFile::open(path, err);
    if (!f) {
      fmt::print(stderr, "omamori: {}\n", err);
      read_failed = true;
      continue;
    }
    CapturedPacket pkt;
    while (f->next(pkt)) p.packet(f->linktype(), pkt);
    if (!f->error().empty()) {
      fmt::print(stderr, "omamori: {}\n", f->error());
      read_failed = true;
    }
  }
  FlowDatagramDecoder dec;
  UdpExtractor udp;
  ExportPcapCounts counts;
  for (const auto& path : o.flow_files) {
    if (!read_export_pcap(path, dec, udp, {}, p, counts, err)) {
      fmt::print(stderr, "omamori: {}\n", err);
      read_failed = true;
    }
  }
  dec.finish();
  DnsFileReader dns;
  for (const auto& path : o.dns_files) {
    if (!dns.read(path, DnsInputFormat::Auto, p, err)) {
      fmt::print(stderr, "omamori: {}\n", err);
      read_failed = true;
    }
  }
  dns.finish();
  p.finish();
  if (o.c2_db.empty()) {
    print_findings(p.findings(), p.verdicts(), o);
  } else {
    auto shown = record_candidates(p, o);
    print_findings(shown, host_verdicts(shown), o);
  }
  if (!o.attack_report.empty()) {
    std::FILE* out = std::fopen(o.attack_report.c_str(), "w");
    if (!out) throw CommandError(kFailure, "cannot write " + o.attack_report);
    for (const auto& a : p.ddos().attacks()) fmt::print(out, "{}\n", p.ddos().report_json(a, 0));
    std::fclose(out);
  }
  uint64_t data_errors = dec.all_errors().total() + dns.error_total() + p.meter().errors().total() + feed_skipped;
  report_errors("flows", dec.all_errors(), true);
  report_errors("meter", p.meter().errors(), false);
  report_errors("dns", dns.pcap_errors(), false);
  report_errors("dns", dns.dnstap_errors(), false);
  report_errors("dns", dns.log_errors(), false);
  // The detectors' own counters (evictions at their memory bounds, untracked hosts): not data errors.
  report_errors("ddos", p.ddos().errors(), false);
  report_errors("scan", p.scan().errors(), false);
  if (p.nxdomain()) report_errors("nxdomain", p.nxdomain()->counters(), false);
  if (!o.no_c2) report_errors("c2", p.c2().counters(), false);
  if (read_failed)
    exit_code() = kFailure;
  else if (data_errors > 0)
    exit_code() = kDataErrors;
}

}  // namespace

void register_analyze(CLI::App& app) {
  auto o = std::make_shared<AnalyzeOptions>();
  auto* cmd = app.add_subcommand(
      "analyze", "Analyse flows, raw traffic and DNS data: reputation matches, DDoS, scanning, C&C discovery");
  cmd->add_option("--pcap", o->pcaps, "Raw traffic captures (pcap/pcapng): metered into flows and parsed for DNS");
  cmd->add_option("--flows", o->flow_files, "Captures of NetFlow/IPFIX/sFlow exporter traffic");
  cmd->add_option("--dns", o->dns_files, "DNS data: pcap, dnstap file, BIND/Unbound query logs, Zeek dns.log");
  cmd->add_option("--feed", o->feeds, "Threat feed file as [NAME=]FORMAT:PATH (FORMAT: plain, csv, maltrail, stix)");
  cmd->add_option("--db", o->db, "Also use the indicators stored in this intel database");
  cmd->add_option("--c2-db", o->c2_db,
                  "Record the C&C candidates in this store (accumulates across runs; review with `omamori c2`); "
                  "candidates an analyst rejected are not shown again");
  cmd->add_option("--allow", o->allow_files, "Allowlist files (domains, addresses, prefixes; one a line)");
  cmd->add_option("--subscribers", o->subscribers, "The subscriber address space (prefixes); default: every host");
  o->ddos.add_to(cmd);
  cmd->add_option("--darknet", o->darknet, "Unused (darknet) prefixes: traffic to them is suspicious");
  cmd->add_option("--infrastructure", o->infrastructure,
                  "Resolvers, NTP servers, CDNs: never C&C candidates (prefixes)");
  cmd->add_option("--scan-min-destinations", o->scan_min_destinations,
                  "Distinct IoT-port destinations per 5 minutes that make a scanner")
      ->capture_default_str();
  cmd->add_option("--meter-timeout", o->meter_timeout,
                  "Flow meter active/inactive timeout for --pcap input, seconds (short, so detectors see traffic fast)")
      ->capture_default_str();
  cmd->add_option("--attack-report", o->attack_report, "Write one JSON attack report per DDoS attack to this file");
  cmd->add_option("--min-confidence", o->min_confidence, "Only print findings at least this confident (0-100)");
  cmd->add_flag("--no-summary", o->no_summary, "Do not print the per-host summary");
  cmd->add_flag("--no-c2-discovery", o->no_c2, "Do not rank unknown C&C candidates");
  cmd->add_option("--c2-max-destinations", o->c2_max_destinations,
                  "C&C discovery memory bound: destinations kept (~50-60 bytes each); beyond, single-host idle ones "
                  "are evicted first (counted)")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 32))
      ->capture_default_str();
  cmd->add_option("--c2-max-contacts", o->c2_max_contacts,
                  "C&C discovery memory bound: distinct (destination, host) contacts kept (~3-4 bytes each); beyond, "
                  "the most popular destinations' contacts are evicted first (counted)")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("-f,--format", o->format, "Output format: table or jsonl")
      ->check(CLI::IsMember({"table", "jsonl"}))
      ->capture_default_str();
  cmd->callback([o] { run_analyze(*o); });
}

}  // namespace omamori::cli
