// `omamori demo`: the whole pipeline on the bundled small ISP (data/demo,
// made by `omamori simulate`): subscribers and RADIUS sessions are imported,
// the border traffic is analysed against the feed, findings are attributed
// to subscribers and become cases, and the due warnings are rendered into
// files (no e-mail is sent). Every step runs the real subcommand, so the demo
// shows exactly what an operator would type; the commands are printed.
#include <fcntl.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/common.hpp"

namespace omamori::cli {
namespace {

namespace fs = std::filesystem;

struct DemoOptions {
  std::string data, out;
};

std::string self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("omamori") : p.string();
}

// The bundled data: --data, $OMAMORI_DEMO_DATA, next to the source tree the
// binary was built in, the installed copy, ./data/demo.
std::string find_data(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* e = std::getenv("OMAMORI_DEMO_DATA"); e && *e) return e;
  fs::path exe = self_exe();
  for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
    if (fs::exists(p / "data/demo/subscribers.csv")) return (p / "data/demo").string();
  for (const char* c : {"/usr/local/share/omamori/demo", "/usr/share/omamori/demo", "data/demo"})
    if (fs::exists(fs::path(c) / "subscribers.csv")) return c;
  throw CommandError(kUsage, "demo: bundled data not found (give --data DIR; it is data/demo in the source tree)");
}

struct Step {
  std::vector<std::string> args;
  std::string cwd;
  std::string stdout_file;  // "" = inherit
};

// Runs this binary with args; returns its exit status.
int run_step(const Step& s, const std::string& state_dir) {
  std::string shown = "omamori";
  for (const auto& a : s.args) shown += " " + (a.find(' ') != std::string::npos ? "'" + a + "'" : a);
  if (!s.stdout_file.empty()) shown += " > " + fs::path(s.stdout_file).filename().string();
  fmt::print("$ {}\n", shown);
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) throw CommandError(kFailure, "demo: fork failed");
  if (pid == 0) {
    if (!s.cwd.empty() && chdir(s.cwd.c_str()) != 0) _exit(127);
    if (!s.stdout_file.empty()) {
      int fd = open(s.stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd < 0) _exit(127);
      dup2(fd, 1);
      close(fd);
    }
    setenv("OMAMORI_STATE_DIR", state_dir.c_str(), 1);
    std::string exe = self_exe();
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>("omamori"));
    for (const auto& a : s.args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

void must(const Step& s, const std::string& state_dir) {
  int rc = run_step(s, state_dir);
  // Exit code 3 (kDataErrors) means "done, some input records were rejected": shown, not fatal.
  if (rc != 0 && rc != kDataErrors) throw CommandError(kFailure, fmt::format("demo: step failed (exit {})", rc));
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string current_user() {
  if (auto* pw = getpwuid(geteuid())) return pw->pw_name;
  return "root";
}

void run_demo(const DemoOptions& o) {
  std::string data = fs::absolute(find_data(o.data)).string();
  std::string out = o.out;
  if (out.empty()) {
    char tmpl[] = "/tmp/omamori-demo-XXXXXX";
    if (!mkdtemp(tmpl)) throw CommandError(kFailure, "demo: cannot create a temporary directory");
    out = tmpl;
  }
  out = fs::absolute(out).string();
  std::string state = out + "/state";
  fs::create_directories(state);
  fs::permissions(state, fs::perms::owner_all, fs::perm_options::replace);
  // This toy installation belongs to whoever runs the demo.
  {
    std::ofstream roles(state + "/roles.toml");
    roles << "# written by omamori demo: the demo user administers this demo installation\n[roles]\n"
          << '"' << current_user() << "\" = \"admin\"\n";
  }
  fmt::print("omamori demo: a small simulated ISP ({}), one day of traffic\nwork directory: {}\n\n", data, out);

  fmt::print("== 1. the subscriber directory (contract data, kept apart from the telemetry)\n");
  must({{"subscribers", "import", data + "/subscribers.csv"}, "", ""}, state);

  fmt::print("\n== 2. RADIUS accounting -> session index (who had which address when)\n");
  std::vector<std::string> details;
  for (auto& e : fs::recursive_directory_iterator(data + "/radacct"))
    if (e.is_regular_file() && e.path().filename().string().rfind("detail", 0) == 0) details.push_back(e.path().string());
  std::sort(details.begin(), details.end());
  Step radius{{"radius", "import", "--format", "detail"}, "", ""};
  radius.args.insert(radius.args.end(), details.begin(), details.end());
  must(radius, state);

  fmt::print("\n== 3. traffic and DNS at the border + threat feed -> findings\n");
  must({{"-c", "omamori.toml", "analyze"}, data, out + "/analysis.txt"}, state);
  must({{"-c", "omamori.toml", "analyze", "--format", "jsonl"}, data, out + "/findings.jsonl"}, state);
  {
    std::string a = slurp(out + "/analysis.txt");
    fmt::print("{}", a.size() > 6000 ? a.substr(0, 6000) + "...\n(whole analysis: analysis.txt)\n" : a);
  }

  fmt::print("\n== 4. findings -> subscribers (attribution) -> cases\n");
  must({{"cases", "ingest", "--findings", out + "/findings.jsonl"}, "", ""}, state);

  fmt::print("\n== 5. warnings: rendered into files, nothing is sent\n");
  must({{"cases", "notify", "--channel", "file", "--to-dir", out + "/warnings", "--reason",
         "demo: warn the infected subscribers of the simulated ISP"},
        "",
        ""},
       state);

  fmt::print("\n== 6. cases (pseudonymous subscriber ids) and the manual queue\n");
  must({{"cases", "list"}, "", ""}, state);
  fmt::print("\nmanual queue (terms do not allow warnings: the ISP decides by hand):\n");
  must({{"cases", "list", "--queue", "manual"}, "", ""}, state);

  fmt::print("\n== 7. the audit trail of everything above\n");
  must({{"audit", "verify"}, "", ""}, state);

  std::vector<fs::path> ja;
  if (fs::exists(out + "/warnings"))
    for (auto& e : fs::directory_iterator(out + "/warnings"))
      if (e.path().string().ends_with(".ja.txt")) ja.push_back(e.path());
  std::sort(ja.begin(), ja.end());
  if (!ja.empty()) {
    fmt::print("\n== a warning as the subscriber would read it ({})\n\n{}\n", ja.front().filename().string(),
               slurp(ja.front()));
  }
  fmt::print("\nEverything is in {}: analysis.txt, findings.jsonl, warnings/ (.txt and .eml), state/ (databases, "
             "audit log).\n",
             out);
}

}  // namespace

void register_demo(CLI::App& app) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand(
      "demo", "The whole pipeline on the bundled small ISP: sessions, traffic, DNS, feeds -> findings -> cases -> "
              "rendered warnings (nothing is sent)");
  cmd->add_option("--data", o->data, "The bundle (default: data/demo of the source tree, or $OMAMORI_DEMO_DATA)");
  cmd->add_option("--out", o->out, "Work directory for the results and the demo's state (default: a new /tmp dir)");
  cmd->callback([o] { run_demo(*o); });
}

}  // namespace omamori::cli
