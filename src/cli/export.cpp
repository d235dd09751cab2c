// `omamori export findings`: findings leave the system (to a partner, the
// hub, a report) with the ISP's own addresses pseudonymised (keyed,
// prefix-preserving Crypto-PAn) and the export audited. docs/privacy.md
// "Exports", docs/cli.md.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "cli/store_options.hpp"
#include "core/counters.hpp"
#include "privacy/audit.hpp"
#include "privacy/fileutil.hpp"
#include "privacy/pseudonym.hpp"
#include "privacy/roles.hpp"
#include "privacy/scrub.hpp"
#include "privacy/settings.hpp"

namespace omamori::cli {

namespace {

struct ExportOptions {
  privacy::Settings privacy;
  std::string input = "-", output = "-", reason;
  std::vector<std::string> internal;
};

void run_findings(ExportOptions& o) {
  std::vector<Prefix> internal = parse_prefixes(o.internal, "--internal");
  try {
    privacy::require_reason(o.reason, "export");
  } catch (const std::invalid_argument& e) {
    throw CommandError(kUsage, e.what());
  }
  privacy::Access access =
      authorize_command(o.privacy, privacy::Permission::kExport, privacy::kActionExport, "findings");
  std::ifstream in_file;
  std::istream* in = &std::cin;
  if (o.input != "-") {
    in_file.open(o.input, std::ios::binary);
    if (!in_file) throw CommandError(kFailure, "export: cannot open " + o.input);
    in = &in_file;
  }
  std::unique_ptr<privacy::Pseudonymiser> ps;
  try {
    ps = std::make_unique<privacy::Pseudonymiser>(privacy::Pseudonymiser::from_key_file(o.privacy.key_file));
  } catch (const std::exception& e) {
    throw CommandError(kFailure, e.what());
  }
  privacy::AddressScrubber scrub(*ps, internal);

  // Built in memory, then written whole: a failed export leaves no partial file.
  std::string out;
  ReasonCounters bad;
  uint64_t lines = 0, exported = 0;
  std::string line;
  while (std::getline(*in, line)) {
    ++lines;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Finding f;
    const char* reason = nullptr;
    if (!finding_from_json(line, f, &reason)) {
      bad.add(reason);
      fmt::print(stderr, "export: line {}: {}, not exported\n", lines, reason);
      continue;
    }
    out += finding_to_json(scrub.finding(f));
    out += '\n';
    ++exported;
  }
  if (o.output == "-") {
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  } else {
    try {
      privacy::replace_file(o.output, out, 0600);  // whole or not at all; it holds pseudonymised data only
    } catch (const std::exception& e) {
      throw CommandError(kFailure, std::string("export: ") + e.what());
    }
  }
  nlohmann::json malformed = nlohmann::json::object();
  for (const auto& r : bad.snapshot(false)) malformed[r.reason] = r.count;
  audit_command(o.privacy, access, privacy::kActionExport, "findings", o.reason,
                {{"input", o.input},
                 {"output", o.output},
                 {"findings", exported},
                 {"malformed", malformed},
                 {"addresses_pseudonymised", scrub.replaced()},
                 {"internal", o.internal.empty() ? nlohmann::json("every address") : nlohmann::json(o.internal)},
                 {"sha256", privacy::sha256_hex(out)}});
  fmt::print(stderr, "export: {} finding(s), {} address(es) pseudonymised{}{}\n", exported, scrub.replaced(),
             o.internal.empty() ? " (every address: no --internal prefixes)" : "",
             bad.total() ? fmt::format(", {} malformed line(s) not exported", bad.total()) : "");
  if (bad.total()) exit_code() = kFailure;
}

}  // namespace

void register_export(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  auto* exp = app.add_subcommand("export",
                                 "Data leaving the system, with the ISP's addresses pseudonymised; audited "
                                 "(needs the export permission)");
  exp->require_subcommand(1);
  auto* f = exp->add_subcommand(
      "findings",
      "Findings (JSON lines of `omamori analyze --format jsonl`) with internal addresses replaced by "
      "keyed prefix-preserving pseudonyms (Crypto-PAn), everywhere they appear");
  f->add_option("input", o->input, "Findings file, - for standard input")->capture_default_str();
  f->add_option("-o,--out", o->output, "Output file, - for standard output")->capture_default_str();
  f->add_option("--internal", o->internal,
                "The ISP's own space (subscribers, protected hosts), repeatable: only these addresses are "
                "pseudonymised; others (C&C servers, attack sources) stay. Default: every address")
      ->expected(1);
  f->add_option("--reason", o->reason, "Why, and for whom (kept in the audit log)")->required();
  o->privacy.add_to(f);
  f->callback([o] { run_findings(*o); });
}

}  // namespace omamori::cli
