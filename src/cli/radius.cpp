// `omamori radius serve|import|status`: the RADIUS accounting server, log
// imports into the session store, and what the store holds. See
// docs/attribution.md.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>

#include "attribution/accounting_server.hpp"
#include "attribution/readers.hpp"
#include "attribution/store.hpp"
#include "cli/common.hpp"

namespace omamori::cli {

namespace {

struct RadiusOptions {
  std::string state_dir;
  std::string subscriber_attr = "user-name";
  // serve
  std::vector<std::string> listen{"127.0.0.1:1813"};
  std::vector<std::string> nas;
  std::string nas_file;
  double dedup_window = 30;
  bool stats = false;
  double duration = 0;
  // import
  std::string format;
  std::string cgnat_box;
  std::vector<std::string> files;
};

AccountingServer* g_server = nullptr;

void on_radius_stop_signal(int) {
  if (g_server) g_server->stop();
}
void on_radius_stats_signal(int) {
  if (g_server) g_server->request_stats();
}

SubscriberAttr subscriber_attr(const std::string& s) {
  return s == "class" ? SubscriberAttr::kClass : SubscriberAttr::kUserName;
}

}  // namespace

std::string attribution_state_dir(const std::string& opt) { return opt.empty() ? default_state_dir() : opt; }

std::unique_ptr<SessionStore> open_session_store(const std::string& state_dir, bool read_only) {
  std::string dir = attribution_state_dir(state_dir);
  if (!read_only && ::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw CommandError(kFailure, fmt::format("cannot create state directory {}: {}", dir, std::strerror(errno)));
  try {
    return std::make_unique<SessionStore>(dir + "/sessions.db", read_only);
  } catch (const std::exception& e) {
    throw CommandError(kFailure, e.what());
  }
}

namespace {

void run_serve(RadiusOptions& o) {
  RadiusServerConfig cfg;
  cfg.listen = o.listen;
  cfg.dedup_window_ms = static_cast<int64_t>(o.dedup_window * 1000);
  cfg.subscriber = subscriber_attr(o.subscriber_attr);
  for (const auto& n : o.nas) {
    std::string err;
    auto c = parse_nas_client(n, '=', err);
    if (!c) throw CommandError(kUsage, "radius serve: --nas " + err);
    cfg.clients.push_back(*c);
  }
  if (!o.nas_file.empty()) {
    try {
      for (auto& c : read_nas_file(o.nas_file)) cfg.clients.push_back(std::move(c));
    } catch (const std::exception& e) {
      throw CommandError(kUsage, std::string("radius serve: ") + e.what());
    }
  }
  if (cfg.clients.empty()) throw CommandError(kUsage, "radius serve: no NAS configured (--nas ADDRESS=SECRET or --nas-file)");
  auto store = open_session_store(o.state_dir, false);
  AccountingServer server(cfg, *store);
  std::string err;
  if (!server.open(err)) throw CommandError(kUsage, "radius serve: " + err);

  g_server = &server;
  struct sigaction sa {}, su {};
  sa.sa_handler = on_radius_stop_signal;
  su.sa_handler = on_radius_stats_signal;
  sigemptyset(&sa.sa_mask);
  sigemptyset(&su.sa_mask);
  struct sigaction old_int {}, old_term {}, old_usr1 {}, old_alrm {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGALRM, &sa, &old_alrm);
  sigaction(SIGUSR1, &su, &old_usr1);
  if (o.duration > 0) alarm(static_cast<unsigned>(o.duration + 0.999));

  std::string ports;
  auto p = server.ports();
  for (size_t i = 0; i < p.size(); ++i) ports += fmt::format("{}{}->{}", i ? " " : "", o.listen[i], p[i]);
  // Tests and scripts that listen on port 0 read the port from this line.
  fmt::print(stderr, "radius: listening {} state {} nas {}\n", ports, store->path(), cfg.clients.size());
  std::fflush(stderr);
  server.run(stderr);

  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGALRM, &old_alrm, nullptr);
  sigaction(SIGUSR1, &old_usr1, nullptr);
  g_server = nullptr;
  if (server.errors().total() > 0 || server.counts().store_failures > 0) exit_code() = kDataErrors;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CommandError(kFailure, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void run_import(RadiusOptions& o) {
  ReaderOptions ro;
  ro.subscriber = subscriber_attr(o.subscriber_attr);
  if (!o.cgnat_box.empty()) {
    auto a = IpAddr::parse(o.cgnat_box);
    if (!a) throw CommandError(kUsage, "radius import: bad --cgnat-box address");
    ro.cgnat_box = *a;
  }
  auto store = open_session_store(o.state_dir, false);
  ReasonCounters results;
  uint64_t total_errors = 0;
  for (const auto& file : o.files) {
    std::string text = read_file(file);
    ReadErrors errors;
    uint64_t n = 0, pending = 0;
    store->begin();
    auto tick = [&] {
      if (++pending >= 50000) {  // bounded transactions: commit as the file goes
        store->commit();
        store->begin();
        pending = 0;
      }
    };
    try {
      if (o.format == "detail")
        n = read_detail(text, ro, [&](const AcctEvent& e) { results.add(store->apply(e)), tick(); }, errors);
      else if (o.format == "radacct")
        n = read_radacct(text, ro, [&](const SessionRow& r) { results.add(store->put(r)), tick(); }, errors);
      else
        n = read_cgnat(text, ro, [&](const PortBlockEvent& e) { results.add(store->apply(e)), tick(); }, errors);
      store->commit();
    } catch (const std::exception& e) {
      store->rollback();
      throw CommandError(kFailure, fmt::format("radius import {}: {}", file, e.what()));
    }
    fmt::print(stderr, "{}: {} {} record(s) imported, {} rejected\n", file, n, o.format, errors.total());
    for (const auto& m : errors.messages) fmt::print(stderr, "{}:{}\n", file, m.substr(5));
    report_errors(file, errors.counts, false);
    total_errors += errors.total();
  }
  report_errors("import", results, false);
  auto c = store->counts();
  fmt::print("sessions {} (open {}), port blocks {} in {}\n", c.sessions, c.open_sessions, c.port_blocks,
             store->path());
  if (total_errors > 0) exit_code() = kDataErrors;
}

void run_status(RadiusOptions& o) {
  auto store = open_session_store(o.state_dir, true);
  auto c = store->counts();
  fmt::print("sessions {} (open {}), port blocks {} in {}\n", c.sessions, c.open_sessions, c.port_blocks,
             store->path());
}

void add_state_options(CLI::App* cmd, RadiusOptions& o) {
  cmd->add_option("--state-dir", o.state_dir,
                  "State directory holding sessions.db (default $OMAMORI_STATE_DIR, else /var/lib/omamori)");
  cmd->add_option("--subscriber-attribute", o.subscriber_attr, "Attribute naming the subscriber: user-name or class")
      ->check(CLI::IsMember({"user-name", "class"}))
      ->capture_default_str();
}

}  // namespace

void register_radius(CLI::App& app) {
  auto o = std::make_shared<RadiusOptions>();
  auto* radius = app.add_subcommand("radius", "RADIUS accounting: the accounting server and log imports (attribution)");
  radius->require_subcommand(1);

  auto* serve = radius->add_subcommand(
      "serve", "Run the RADIUS accounting server (RFC 2866) and keep sessions in STATE_DIR/sessions.db");
  serve->add_option("-l,--listen", o->listen,
                    "ADDR:PORT to listen on, repeatable: 127.0.0.1:1813, [::1]:1813, :1813 (all, IPv4 and IPv6); "
                    "port 0 lets the kernel choose")
      ->capture_default_str();
  serve->add_option("--nas", o->nas, "A NAS and its shared secret, ADDRESS[/LEN]=SECRET, repeatable");
  serve->add_option("--nas-file", o->nas_file,
                    "File of 'ADDRESS[/LEN] SECRET' lines (must not be readable by group or others)");
  serve->add_option("--dedup-window", o->dedup_window,
                    "Seconds a request is remembered: a retransmission within it is answered, not applied again")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  serve->add_flag("--stats", o->stats, "(Counters are always printed at exit and on SIGUSR1.)");
  serve->add_option("--duration", o->duration, "Stop after this many seconds (0: until SIGINT/SIGTERM)")
      ->check(CLI::Range(0.0, 1e9));
  add_state_options(serve, *o);
  serve->callback([o] { run_serve(*o); });

  auto* import = radius->add_subcommand("import", "Import FreeRADIUS detail files, radacct CSV exports or CGNAT logs");
  import->add_option("--format", o->format, "detail, radacct or cgnat")
      ->required()
      ->check(CLI::IsMember({"detail", "radacct", "cgnat"}));
  import->add_option("--cgnat-box", o->cgnat_box, "Address of the CGNAT device the log comes from (cgnat)");
  import->add_option("files", o->files, "Files to import")->required()->check(CLI::ExistingFile);
  add_state_options(import, *o);
  import->callback([o] { run_import(*o); });

  auto* status = radius->add_subcommand("status", "How many sessions and port blocks the state holds");
  add_state_options(status, *o);
  status->callback([o] { run_status(*o); });
}

}  // namespace omamori::cli
