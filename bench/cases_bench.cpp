// Case ingest rate on SQLite and on PostgreSQL (a real server started for the
// run, like the tests: fsync off in its cluster; SQLite in WAL with
// synchronous=NORMAL, which does not sync at commit either). Not a test.
//
//   cases_bench [FINDINGS] [SUBSCRIBERS]     (default 20000, 2000)
#include <fmt/format.h>

#include <chrono>
#include <filesystem>

#include "cases/case_store.hpp"
#include "store/pg_test_server.hpp"

using namespace omamori;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void run(const std::string& name, const std::string& url, int findings, int subs) {
  auto db = store::open(url);
  subscribers::Directory dir(*db);
  std::vector<subscribers::Subscriber> rows;
  for (int s = 0; s < subs; ++s)
    rows.push_back({"sub" + std::to_string(s), "s" + std::to_string(s) + "@example.jp", s % 2 ? "en" : "ja",
                    s % 10 != 0, "2024-01", "ftth", 0});
  auto t = std::chrono::steady_clock::now();
  dir.upsert(rows, 1);
  double imp = seconds_since(t);
  cases::CaseStore cs(*db, dir);
  Finding f;
  f.type = "reputation-dns";
  f.category = "c2";
  f.confidence = 90;
  f.events = 1;
  f.host = *IpAddr::parse("198.51.100.1");
  Attribution a;
  a.session_id = "s";
  const TimeMs t0 = 1'700'000'000'000;
  t = std::chrono::steady_clock::now();
  for (int i = 0; i < findings; ++i) {
    f.indicator = "c" + std::to_string(i % 50) + ".example";  // many repeats: the dedup path, as in real traffic
    f.first = f.last = t0 + i;
    a.subscriber = "sub" + std::to_string((i * 7919) % subs);
    cs.ingest(f, a, t0 + i);
  }
  double ing = seconds_since(t);
  struct Null final : WarningSender {
    DeliveryResult send(const WarningRequest&) override { return {true, "null", "", ""}; }
  } sink;
  t = std::chrono::steady_clock::now();
  auto rep = cs.notify(sink, t0 + findings + 1, "bench", nullptr);
  double nt = seconds_since(t);
  fmt::print("{:<10} directory import {:>8.0f} subscribers/s | ingest {:>8.0f} findings/s ({} findings, {} cases) | "
             "notify {:>7.0f} warnings/s ({} sent)\n",
             name, subs / imp, findings / ing, findings, cs.list({}).size(), rep.sent / nt, rep.sent);
}

}  // namespace

int main(int argc, char** argv) {
  int findings = argc > 1 ? std::atoi(argv[1]) : 20000;
  int subs = argc > 2 ? std::atoi(argv[2]) : 2000;
  auto dir = std::filesystem::temp_directory_path() / ("omamori-cases-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  run("sqlite", "sqlite:" + (dir / "b.db").string(), findings, subs);
  std::filesystem::remove_all(dir);
  run("postgresql", test::PgTestServer::shared().create_database("bench"), findings, subs);
  return 0;
}
