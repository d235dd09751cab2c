#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "notify/channels.hpp"

using namespace omamori;
using namespace omamori::notify;
namespace fs = std::filesystem;

namespace {

// An RFC 4180 reader (quoted fields, doubled quotes, CRLF records, line
// breaks inside quotes), to read the export back.
std::vector<std::vector<std::string>> parse_csv(const std::string& s) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false, in_field = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
      continue;
    }
    if (c == '"' && !in_field) {
      quoted = in_field = true;
    } else if (c == ',') {
      rows.back().push_back(field);
      field.clear();
      in_field = false;
    } else if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
      rows.back().push_back(field);
      field.clear();
      in_field = false;
      rows.emplace_back();
      ++i;
    } else {
      field += c;
      in_field = true;
    }
  }
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("notify-csv-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST(Csv, ExportReadsBackWithHeaderAndQuoting) {
  fs::path d = temp_dir();
  NotifyConfig cfg;
  cfg.isp[""].name = "Example, \"ISP\"";  // comma and quotes in a rendered field
  cfg.csv.path = (d / "warnings.csv").string();
  CsvSender s(cfg, TemplateSet::bundled());
  WarningRequest a = sample_request();
  WarningRequest b = sample_request();
  b.case_id = 43;
  b.subscriber_id = "C-0002";
  b.email = "hanako@example.jp";
  b.language = "en";
  DeliveryResult r1 = s.send(a), r2 = s.send(b);
  ASSERT_TRUE(r1.ok) << r1.error;
  ASSERT_TRUE(r2.ok) << r2.error;
  EXPECT_EQ(r1.channel, "csv");

  std::string text = slurp(d / "warnings.csv");
  EXPECT_FALSE(text.starts_with("\xef\xbb\xbf"));
  auto rows = parse_csv(text);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], CsvSender::columns());
  for (const auto& row : rows) ASSERT_EQ(row.size(), CsvSender::columns().size());
  RenderedWarning wa = render_warning(a, TemplateSet::bundled(), cfg);
  EXPECT_EQ(rows[1][0], "42");
  EXPECT_EQ(rows[1][1], "OM-42");
  EXPECT_EQ(rows[1][2], "C-0001");
  EXPECT_EQ(rows[1][3], "subscriber@example.jp");
  EXPECT_EQ(rows[1][4], "ja");
  EXPECT_EQ(rows[1][5], "high");
  EXPECT_EQ(rows[1][6], "2024-05-01T12:00:00.000Z");
  EXPECT_EQ(rows[1][8], "reputation-dns;reputation-flow;dga;nxdomain;scan;darknet;ddos-source;new-detector");
  EXPECT_EQ(rows[1][9], wa.subject);
  EXPECT_EQ(rows[1][10], wa.body);  // multi-line body survives quoting
  EXPECT_NE(rows[1][10].find("Example, \"ISP\""), std::string::npos);
  EXPECT_EQ(rows[2][0], "43");
  EXPECT_EQ(rows[2][3], "hanako@example.jp");
  EXPECT_EQ(rows[2][4], "en");
  fs::remove_all(d);
}

TEST(Csv, BomAndFormulaGuardForExcel) {
  fs::path d = temp_dir();
  NotifyConfig cfg;
  cfg.csv.path = (d / "w.csv").string();
  cfg.csv.bom = true;
  cfg.csv.excel_guard = true;
  CsvSender s(cfg, TemplateSet::bundled());
  WarningRequest r = sample_request();
  r.subscriber_id = "=HYPERLINK(\"http://x\")";
  ASSERT_TRUE(s.send(r).ok);
  ASSERT_TRUE(s.send(r).ok);
  std::string text = slurp(d / "w.csv");
  ASSERT_TRUE(text.starts_with("\xef\xbb\xbf"));
  EXPECT_EQ(text.find("\xef\xbb\xbf", 3), std::string::npos) << "one BOM at the start only";
  auto rows = parse_csv(text.substr(3));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1][2], "'=HYPERLINK(\"http://x\")");
  EXPECT_EQ(CsvSender::field("-1", false), "-1");
  EXPECT_EQ(CsvSender::field("-1", true), "'-1");
  EXPECT_EQ(CsvSender::field("a\"b", false), "\"a\"\"b\"");
  fs::remove_all(d);
}

TEST(Csv, UnwritablePathIsAFailureNotAThrow) {
  NotifyConfig cfg;
  cfg.csv.path = "/nonexistent-dir-omamori/w.csv";
  CsvSender s(cfg, TemplateSet::bundled());
  DeliveryResult r = s.send(sample_request());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("/nonexistent-dir-omamori/w.csv"), std::string::npos) << r.error;
  cfg.csv.path.clear();
  EXPECT_THROW(CsvSender(cfg, TemplateSet::bundled()), std::invalid_argument);
}
