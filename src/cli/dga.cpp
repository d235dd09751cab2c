// `omamori dga`: score domain names, train and evaluate the DGA model, run the
// NXDOMAIN/DGA host detector over a Zeek dns.log.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/common.hpp"
#include "core/psl.hpp"
#include "detect/dga/model.hpp"
#include "detect/dga/nxdomain.hpp"
#include "detect/dga/train.hpp"
#include "detect/dga/zeek_queries.hpp"

namespace omamori::cli {

namespace {
using namespace omamori::dga;

struct ModelOption {
  std::string path;
  std::unique_ptr<Model> owned;
  void add_to(CLI::App* app) {
    app->add_option("--model", path, "DGA model file (default: the model built into omamori)");
  }
  const Model& get() {
    std::string err;
    if (!path.empty()) {
      owned = Model::load(path, err);
      if (!owned) throw CommandError(kFailure, err);
      return *owned;
    }
    const Model* m = Model::builtin(err);
    if (!m) throw CommandError(kFailure, err);
    return *m;
  }
};

// JSON string for a name: a fast path for printable ASCII, nlohmann (invalid UTF-8 replaced) otherwise.
void append_json_string(std::string& out, std::string_view s) {
  bool plain = std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (!plain) {
    out += nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

// ---------------------------------------------------------------- score

struct ScoreOptions {
  std::string file = "-";
  std::string format = "table";
  bool features = false;
  ModelOption model;
};

void run_score(ScoreOptions& o) {
  const Model& m = o.model.get();
  Scorer sc(m);
  std::FILE* in = stdin;
  if (o.file != "-") {
    in = std::fopen(o.file.c_str(), "rb");
    if (!in) throw CommandError(kFailure, "cannot open " + o.file);
  }
  bool json = o.format == "jsonl";
  char* line = nullptr;
  size_t cap = 0;
  ssize_t n;
  std::string out;
  if (!json) out = fmt::format("{:<7} {:<7} {}\n", "SCORE", "VERDICT", "NAME");
  while ((n = getline(&line, &cap, in)) >= 0) {
    std::string_view s(line, static_cast<size_t>(n));
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
      s.remove_suffix(1);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    if (s.empty()) continue;
    Features f{};
    NameSplitter::Parts parts;
    auto r = sc.score(s, &f, &parts);
    const char* verdict = r.dga ? "dga" : "benign";
    if (json) {
      out += "{\"name\":";
      append_json_string(out, s);
      fmt::format_to(std::back_inserter(out), ",\"score\":{:.4f},\"verdict\":\"{}\"}}\n", r.score, verdict);
    } else {
      fmt::format_to(std::back_inserter(out), "{:<7.4f} {:<7} {}", r.score, verdict, s);
      if (o.features) {
        if (r.skip != Skip::kNone)
          fmt::format_to(std::back_inserter(out), "  (not scored: {})", skip_name(r.skip));
        else {
          fmt::format_to(std::back_inserter(out), "  label={} suffix={}", parts.label, parts.suffix);
          double z = sc.model().decision(f);
          fmt::format_to(std::back_inserter(out), " z={:.2f}", z);
          int off = length_bucket(parts.label.size()) * kBaseFeatures;
          for (int i = 0; i < kBaseFeatures; ++i)
            fmt::format_to(std::back_inserter(out), " {}={:.3g}({:+.2f})", kFeatureNames[i], f[off + i],
                           sc.model().weights_[off + i] * f[off + i]);
        }
      }
      out += '\n';
    }
    if (out.size() > (1 << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::free(line);
  bool failed = std::ferror(in) != 0;
  if (in != stdin) std::fclose(in);
  std::fflush(stdout);
  if (failed) throw CommandError(kFailure, "error reading " + o.file);
}

// ---------------------------------------------------------------- train / eval

struct TrainOptions {
  std::string dga, benign, out;
  TrainParams p;
};

Dataset load(const std::string& dga, const std::string& benign) {
  Dataset d;
  std::string err;
  if (!load_dataset(dga, benign, d, err)) throw CommandError(kFailure, err);
  return d;
}

void print_eval(const char* what, const Evaluation& e) {
  fmt::print("{}: precision {:.4f} recall {:.4f} F1 {:.4f} FPR {:.4f} (tp {} fp {} tn {} fn {}, not scored {})\n", what,
             e.precision(), e.recall(), e.f1(), e.fpr(), e.tp, e.fp, e.tn, e.fn, e.skipped);
}

void run_train(TrainOptions& o) {
  Dataset d = load(o.dga, o.benign);
  auto m = train(d.train, o.p);
  auto bytes = m->serialize();
  std::FILE* f = std::fopen(o.out.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0)
    throw CommandError(kFailure, "cannot write " + o.out);
  fmt::print(
      "trained on {} names ({} benign, {} dga scored; {} duplicates and {} invalid lines dropped); "
      "held out {} names\n",
      d.train.size(), m->info().train_benign, m->info().train_dga, d.duplicates, d.invalid, d.test.size());
  fmt::print("out-of-fold on the training part: FPR {:.4f} recall {:.4f} (target FPR {:.4f})\n", m->info().train_fpr,
             m->info().train_recall, m->info().target_fpr);
  print_eval("held-out test part", evaluate(*m, d.test));
  fmt::print("model: {} ({} bytes)\n", o.out, bytes.size());
}

struct EvalOptions {
  std::string dga, benign, zeek;
  ModelOption model;
  size_t show_errors = 0;
  size_t top = 20;
  bool speed = false;
};

void eval_zeek(const Model& m, const std::string& path, size_t top) {
  struct Rd {
    uint64_t queries = 0, nx = 0;
    std::set<IpAddr> clients;
  };
  std::map<std::string, Rd> rds;
  uint64_t rows = 0, no_rd = 0, reverse = 0;
  ReasonCounters errors;
  std::string err;
  NameSplitter split;
  bool ok = read_zeek_dns(
      path,
      [&](const ZeekDnsRow& r) {
        ++rows;
        if (r.query.empty()) return;
        auto p = split.split(r.query);
        if (p.skip == Skip::kReverse) {
          ++reverse;
          return;
        }
        std::string_view rd = registered_domain(p.name);
        if (rd.empty()) {
          ++no_rd;
          return;
        }
        auto& x = rds[std::string(rd)];
        ++x.queries;
        x.nx += r.rcode == 3;
        x.clients.insert(r.client);
      },
      errors, err);
  if (!ok) throw CommandError(kFailure, err);
  report_errors("zeek", errors, false);
  Scorer sc(m);
  std::vector<std::pair<std::string, const Rd*>> flagged;
  uint64_t nx_rds = 0, nx_flagged = 0, platform = 0;
  for (const auto& [rd, x] : rds) {
    auto r = sc.score(rd);
    platform += r.skip == Skip::kPlatform;
    bool dga = r.dga;
    nx_rds += x.nx > 0;
    if (dga) {
      flagged.emplace_back(rd, &x);
      nx_flagged += x.nx > 0;
    }
  }
  std::sort(flagged.begin(), flagged.end(),
            [](const auto& a, const auto& b) { return a.second->queries > b.second->queries; });
  fmt::print(
      "zeek dns.log {}: {} rows, {} distinct registered domains ({} reverse-lookup and {} names without a "
      "registered domain not scored)\n",
      path, rows, rds.size(), reverse, no_rd);
  fmt::print(
      "flagged as DGA: {} of {} registered domains, FPR {:.4f}; among those with NXDOMAIN answers: {} of {}; "
      "{} under cloud/CDN platform suffixes not scored\n",
      flagged.size(), rds.size(), rds.empty() ? 0.0 : double(flagged.size()) / double(rds.size()), nx_flagged, nx_rds,
      platform);
  Scorer sc2(m);
  for (size_t i = 0; i < flagged.size() && i < top; ++i)
    fmt::print("  {:<40} score {:.3f} queries {} nxdomain {} clients {}\n", flagged[i].first,
               sc2.score(flagged[i].first).score, flagged[i].second->queries, flagged[i].second->nx,
               flagged[i].second->clients.size());
}

void run_eval(EvalOptions& o) {
  const Model& m = o.model.get();
  if (!o.dga.empty() || !o.benign.empty()) {
    if (o.dga.empty() || o.benign.empty()) throw CommandError(kUsage, "--dga and --benign go together");
    Dataset d = load(o.dga, o.benign);
    std::vector<const Sample*> errors;
    auto e = evaluate(m, d.test, &errors);
    fmt::print("held-out test part: {} names ({} dga, {} benign)\n", d.test.size(), e.tp + e.fn, e.fp + e.tn);
    print_eval("held-out test part", e);
    Scorer sc(m);
    if (o.speed) {
      // Single-thread scoring throughput over every name of both files, repeated for >= 2 s.
      std::vector<std::string_view> names;
      for (const auto* part : {&d.train, &d.test})
        for (const auto& s : *part) names.push_back(s.name);
      // CPU time of this thread, so that a busy machine does not understate the per-core rate.
      auto cpu = [] {
        timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
      };
      uint64_t scored = 0, flagged = 0;
      double t0 = cpu(), secs = 0;
      while (secs < 2.0) {
        for (auto n : names) flagged += sc.score(n).dga;
        scored += names.size();
        secs = cpu() - t0;
      }
      fmt::print("speed: {} names in {:.2f} s of CPU time: {:.0f} names/s per core ({} flagged)\n", scored, secs,
                 double(scored) / secs, flagged);
    }
    for (size_t i = 0; i < errors.size() && i < o.show_errors; ++i)
      fmt::print("  {} {:<40} score {:.3f}\n", errors[i]->dga ? "missed dga " : "false alarm", errors[i]->name,
                 sc.score(errors[i]->name).score);
  }
  if (!o.zeek.empty()) eval_zeek(m, o.zeek, o.top);
  if (o.dga.empty() && o.zeek.empty()) throw CommandError(kUsage, "give --dga and --benign, or --zeek-dns");
}

// ---------------------------------------------------------------- nxdomain

struct NxOptions {
  std::vector<std::string> files;
  ModelOption model;
  NxConfig cfg;
  double window_s = 300;
};

void run_nxdomain(NxOptions& o) {
  const Model& m = o.model.get();
  o.cfg.window_ms = static_cast<TimeMs>(o.window_s * 1000);
  NxDetector det(m, o.cfg);
  ReasonCounters errors;
  bool failed = false;
  for (const auto& path : o.files) {
    std::string err;
    bool ok = read_zeek_dns(
        path,
        [&](const ZeekDnsRow& r) {
          DnsObservation ob;
          ob.time = r.ts;
          ob.client = r.client;
          ob.qname = r.query;
          ob.is_response = r.rcode >= 0;
          ob.rcode = static_cast<uint8_t>(r.rcode >= 0 && r.rcode < 256 ? r.rcode : 0);
          det.on_dns(ob);
        },
        errors, err);
    if (!ok) {
      fmt::print(stderr, "omamori: {}\n", err);
      failed = true;
    }
  }
  FindingCollector fc;
  det.findings(fc);
  for (const auto& f : fc.findings) fmt::print("{}\n", finding_to_json(f));
  fmt::print(stderr, "nxdomain: {} NXDOMAIN answers, {} DGA-scored, {} hosts tracked, {} findings\n",
             det.nx_responses(), det.dga_scored(), det.hosts(), fc.findings.size());
  report_errors("zeek", errors, false);
  report_errors("nxdomain", det.counters(), false);
  if (failed)
    exit_code() = kFailure;
  else if (errors.total() > 0)
    exit_code() = kDataErrors;
}
}  // namespace

void register_dga(CLI::App& app) {
  auto* dga = app.add_subcommand("dga",
                                 "Domain generation algorithms: score names, train/evaluate the model, "
                                 "NXDOMAIN/DGA host detection");
  dga->require_subcommand(1);

  auto so = std::make_shared<ScoreOptions>();
  auto* score = dga->add_subcommand("score", "Score domain names (one a line, from FILE or standard input)");
  score->add_option("file", so->file, "File of names ('-' or none: standard input)");
  score->add_option("-f,--format", so->format, "table or jsonl (keys: name, score, verdict)")
      ->check(CLI::IsMember({"table", "jsonl"}))
      ->capture_default_str();
  score->add_flag("--features", so->features, "table: also print the label, suffix and each feature (x weight)");
  so->model.add_to(score);
  score->callback([so] { run_score(*so); });

  auto to = std::make_shared<TrainOptions>();
  auto* tr = dga->add_subcommand("train", "Train the DGA model on the training part of a labelled set");
  tr->add_option("--dga", to->dga, "File of DGA names (one a line or CSV, first column)")->required();
  tr->add_option("--benign", to->benign, "File of benign names")->required();
  tr->add_option("-o,--out", to->out, "Model file to write")->required();
  tr->add_option("--order", to->p.order, "n-gram order (3-6)")->check(CLI::Range(3, kMaxOrder))->capture_default_str();
  tr->add_option("--min-count", to->p.min_count, "prune n-grams of order >= 4 seen fewer times")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  tr->add_option("--target-fpr", to->p.target_fpr, "false-positive rate the threshold is chosen for")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  tr->add_option("--l2", to->p.l2, "L2 penalty of the logistic regression")->capture_default_str();
  tr->add_option("--hashed-bits", to->p.hashed_bits, "hashed n-gram model: 2^bits weights")
      ->check(CLI::Range(10, 24))
      ->capture_default_str();
  tr->add_option("--hashed-epochs", to->p.hashed_epochs, "hashed n-gram model: training passes")->capture_default_str();
  tr->add_option("--hashed-rate", to->p.hashed_rate, "hashed n-gram model: AdaGrad rate")->capture_default_str();
  tr->add_option("--hashed-l2", to->p.hashed_l2, "hashed n-gram model: L2 penalty")->capture_default_str();
  tr->callback([to] { run_train(*to); });

  auto eo = std::make_shared<EvalOptions>();
  auto* ev = dga->add_subcommand("eval", "Evaluate on the held-out part of a labelled set and/or on a Zeek dns.log");
  ev->add_option("--dga", eo->dga, "File of DGA names");
  ev->add_option("--benign", eo->benign, "File of benign names");
  ev->add_option("--zeek-dns", eo->zeek, "Zeek dns.log (.gz or plain): false positives among its registered domains");
  ev->add_option("--show-errors", eo->show_errors, "List this many misclassified held-out names");
  ev->add_flag("--speed", eo->speed, "Also measure the scoring speed (names/s on one core)");
  ev->add_option("--top", eo->top, "Zeek: list this many flagged registered domains")->capture_default_str();
  eo->model.add_to(ev);
  ev->callback([eo] { run_eval(*eo); });

  auto no = std::make_shared<NxOptions>();
  auto* nx = dga->add_subcommand("nxdomain",
                                 "Per-host NXDOMAIN/DGA detection over Zeek dns.log files; findings as JSON lines");
  nx->add_option("files", no->files, "Zeek dns.log files (.gz or plain)")->required();
  nx->add_option("--window", no->window_s, "Window in seconds")->capture_default_str();
  nx->add_option("--min-distinct", no->cfg.min_distinct, "nxdomain: distinct NX names in a window, at least")
      ->capture_default_str();
  nx->add_option("--factor", no->cfg.factor, "nxdomain: times the host's and the population's baseline")
      ->capture_default_str();
  nx->add_option("--dga-min-distinct", no->cfg.dga_min_distinct, "dga: distinct DGA-scored NX names in a window")
      ->capture_default_str();
  nx->add_option("--memory-limit", no->cfg.memory_limit, "bytes of per-host state")->capture_default_str();
  no->model.add_to(nx);
  nx->callback([no] { run_nxdomain(*no); });
}

}  // namespace omamori::cli
