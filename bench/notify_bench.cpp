// Subscriber-warning figures (src/notify): warnings rendered per second,
// e-mails built per second, and e-mails per second delivered over SMTP to a
// local aiosmtpd server (one connection per message, as SmtpSender sends).
//
//   notify_bench SMTP_SINK_PY [COUNT]     (bench/run.sh notify)
// Not a test: nothing is asserted.
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <filesystem>

#include "notify/channels.hpp"
#include "notify/test_peer.hpp"

using namespace omamori;
using namespace omamori::notify;
using Clock = std::chrono::steady_clock;

namespace {

// Operations per second of process CPU time (the machine may be shared:
// wall-clock rates would measure the other load).
template <typename F>
double per_second(F&& f, double seconds) {
  size_t n = 0;
  std::clock_t c0 = std::clock();
  double el = 0;
  do {
    for (int i = 0; i < 100; ++i) f();
    n += 100;
    el = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  } while (el < seconds);
  return n / el;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: notify_bench SMTP_SINK_PY [COUNT]\n");
    return 2;
  }
  size_t count = argc > 2 ? std::stoul(argv[2]) : 500;
  NotifyConfig cfg;
  cfg.isp[""] = IspContact{"おまもりネット", "0120-000-000", "https://isp.example/security", "", "平日 9:00〜18:00"};
  cfg.smtp.from = "おまもりネット <abuse@isp.example>";
  TemplateSet set = TemplateSet::bundled();
  WarningRequest req = sample_request();  // 9 findings
  req.email = "taro@example.jp";
  size_t bytes = render_warning(req, set, cfg).body.size();

  double renders = per_second([&] { (void)render_warning(req, set, cfg); }, 2.0);
  fmt::print("render (ja, 9 findings, {} bytes body): {:.0f} warnings per CPU-second ({:.1f} us each)\n", bytes, renders,
             1e6 / renders);
  req.language = "en";
  double renders_en = per_second([&] { (void)render_warning(req, set, cfg); }, 2.0);
  fmt::print("render (en, 9 findings): {:.0f} warnings per CPU-second\n", renders_en);
  req.language = "ja";

  auto dir = test::unique_dir("notify-bench");
  test::Peer sink({"/usr/bin/python3", argv[1], dir.string()});
  cfg.smtp.host = "127.0.0.1";
  cfg.smtp.port = static_cast<uint16_t>(sink.port());
  cfg.smtp.starttls = "off";
  SmtpSender s(cfg, set);
  double builds = per_second([&] { (void)s.build(req, now_ms()); }, 2.0);
  fmt::print("e-mail build (render + MIME, base64): {:.0f} messages per CPU-second\n", builds);

  size_t ok = 0;
  auto t0 = Clock::now();
  for (size_t i = 0; i < count; ++i) {
    req.case_id = static_cast<int64_t>(i);
    ok += s.send(req).ok;
  }
  double el = std::chrono::duration<double>(Clock::now() - t0).count();
  fmt::print("smtp to local aiosmtpd: {} of {} delivered in {:.2f} s wall = {:.0f} e-mails/s (one connection each)\n", ok,
             count, el, count / el);
  sink.stop();
  std::filesystem::remove_all(dir);
  return ok == count ? 0 : 1;
}
