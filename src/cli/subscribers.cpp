// `omamori subscribers`: import the subscriber directory (CSV), show its counts.
#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/common.hpp"
#include "cli/store_options.hpp"

namespace omamori::cli {

namespace {

struct SubscriberOptions {
  StoreOptions store;
  std::string file;
  bool dry_run = false;
  bool json = false;
};

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw CommandError(kFailure, "cannot read " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void cmd_import(SubscriberOptions& o) {
  // The directory is identity data: importing it is configuration (admin).
  auto access = o.store.authorize(o.dry_run ? privacy::Permission::kViewPseudonymous : privacy::Permission::kConfigure,
                                  "subscribers.import", o.file);
  auto r = subscribers::parse_csv(read_file(o.file));
  if (!r.error.empty()) throw CommandError(kFailure, o.file + ": " + r.error);
  for (const auto& rej : r.rejected) fmt::print(stderr, "{}:{}: {}\n", o.file, rej.line, rej.reason);
  subscribers::ImportStats st;
  if (!o.dry_run) {
    Stores s = open_stores(o.store, false);
    try {
      st = s.directory->upsert(r.rows, now_ms(), o.file, r.rejected.size());
    } catch (const store::DbError& e) {
      throw CommandError(kFailure, e.what());
    }
    o.store.audit(access, "subscribers.import", o.file, "",
                  {{"inserted", st.inserted}, {"updated", st.updated}, {"unchanged", st.unchanged},
                   {"rejected", r.rejected.size()}});
  }
  if (o.json) {
    nlohmann::json j = {{"file", o.file},         {"lines", r.lines},         {"accepted", r.rows.size()},
                        {"inserted", st.inserted}, {"updated", st.updated},    {"unchanged", st.unchanged},
                        {"rejected", r.rejected.size()}, {"dry_run", o.dry_run}};
    nlohmann::json reasons = nlohmann::json::object();
    for (const auto& row : r.rejects.snapshot(false)) reasons[row.reason] = row.count;
    j["reject_reasons"] = reasons;
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("{}: {} lines, {} accepted{}, {} rejected\n", o.file, r.lines, r.rows.size(),
               o.dry_run ? " (dry run: nothing stored)"
                         : fmt::format(" ({} new, {} updated, {} unchanged)", st.inserted, st.updated, st.unchanged),
               r.rejected.size());
    for (const auto& row : r.rejects.snapshot(false)) fmt::print("  rejected: {}: {}\n", row.reason, row.count);
  }
  if (!r.rejected.empty()) exit_code() = kDataErrors;
}

void cmd_stats(SubscriberOptions& o) {
  o.store.authorize(privacy::Permission::kViewPseudonymous, "subscribers.stats");
  Stores s = open_stores(o.store, false);
  uint64_t n = s.directory->count(), allowed = s.directory->count_warnings_allowed();
  if (o.json)
    fmt::print("{}\n", nlohmann::json{{"subscribers", n}, {"warnings_allowed", allowed}}.dump());
  else
    fmt::print("subscribers: {}\nwarnings allowed by their terms: {}\n", n, allowed);
}

}  // namespace

void register_subscribers(CLI::App& app) {
  auto o = std::make_shared<SubscriberOptions>();
  auto* grp = app.add_subcommand("subscribers", "The subscriber directory (contact, language, consent to warnings)");
  grp->require_subcommand(1);
  grp->fallthrough();
  o->store.add_to(grp, false);

  auto* imp = grp->add_subcommand(
      "import", "Import (upsert) subscribers from CSV: subscriber_id,email,language,warnings_allowed,terms_version,service");
  imp->add_option("file", o->file, "CSV file with the header line")->required();
  imp->add_flag("--dry-run", o->dry_run, "Validate only; store nothing");
  imp->add_flag("--json", o->json, "Print the summary as JSON");
  imp->callback([o] { cmd_import(*o); });

  auto* st = grp->add_subcommand("stats", "Count subscribers and how many allow warnings");
  st->add_flag("--json", o->json, "Print as JSON");
  st->callback([o] { cmd_stats(*o); });
}

}  // namespace omamori::cli
