// The Prometheus exporter over real HTTP on loopback: counters and gauges from
// a source, per-reason counters, and a refused address.
#include "metrics/exporter.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>

using namespace omamori;

TEST(MetricsExporter, ServesSamplesInPrometheusTextFormat) {
  metrics::Exporter ex("127.0.0.1:0");
  ASSERT_GT(ex.port(), 0);
  std::atomic<uint64_t> records{0};
  ReasonCounters errors;
  errors.add("truncated header", 3);
  errors.add(*IpAddr::parse("192.0.2.9"), "unknown template", 2);
  ex.add_source([&](std::vector<metrics::Sample>& out) {
    out.push_back({"omamori_test_records_total",
                   "Records seen",
                   true,
                   {{"listen", "127.0.0.1:2055"}},
                   static_cast<double>(records.load())});
    out.push_back({"omamori_test_active", "Things active now", false, {}, 2});
    metrics::add_reasons(out, "omamori_test_errors_total", "Errors by reason", errors, {},
                         "omamori_test_errors_by_source_total");
  });
  records = 12345;
  httplib::Client cli("127.0.0.1", ex.port());
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  const std::string& body = res->body;
  EXPECT_NE(body.find("# TYPE omamori_test_records_total counter"), std::string::npos) << body;
  EXPECT_NE(body.find("omamori_test_records_total{listen=\"127.0.0.1:2055\"} 12345"), std::string::npos) << body;
  EXPECT_NE(body.find("# TYPE omamori_test_active gauge"), std::string::npos) << body;
  EXPECT_NE(body.find("omamori_test_active 2"), std::string::npos) << body;
  EXPECT_NE(body.find("omamori_test_errors_total{reason=\"truncated header\"} 3"), std::string::npos) << body;
  EXPECT_NE(body.find("omamori_test_errors_total{reason=\"unknown template\"} 2"), std::string::npos) << body;
  EXPECT_NE(body.find("omamori_test_errors_by_source_total{source=\"192.0.2.9\",reason=\"unknown template\"} 2"),
            std::string::npos)
      << body;
  // A later scrape sees the counters as they are then.
  records = 20000;
  res = cli.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("omamori_test_records_total{listen=\"127.0.0.1:2055\"} 20000"), std::string::npos);
}

TEST(MetricsExporter, AnAddressInUseIsAnError) {
  metrics::Exporter first("127.0.0.1:0");
  std::string taken = "127.0.0.1:" + std::to_string(first.port());
  EXPECT_THROW(metrics::Exporter second(taken), std::runtime_error);
}
