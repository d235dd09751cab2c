// Readers on the testdata files: FreeRADIUS detail, radacct CSV, CGNAT logs
// (generic CSV and Juniper-style syslog); bad records are counted with line
// numbers and the rest is read.
#include "attribution/readers.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace omamori {
namespace {

std::string slurp(const std::string& name) {
  std::ifstream in(std::string(OMAMORI_TESTDATA) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

bool has_message(const ReadErrors& e, const std::string& needle) {
  for (const auto& m : e.messages)
    if (m.find(needle) != std::string::npos) return true;
  return false;
}

TEST(DetailReader, ReadsFreeradiusDetail) {
  std::vector<AcctEvent> ev;
  ReadErrors err;
  uint64_t n = read_detail(slurp("detail-sample"), {}, [&](const AcctEvent& e) { ev.push_back(e); }, err);
  ASSERT_EQ(n, 5u);
  ASSERT_EQ(ev.size(), 5u);
  // Start: Event-Timestamp as a date wins over Timestamp.
  EXPECT_EQ(ev[0].kind, AcctKind::kStart);
  EXPECT_EQ(ev[0].time, 1700000000000);
  EXPECT_EQ(ev[0].subscriber, "alice@isp.example");
  EXPECT_EQ(ev[0].session_id, "5A0F0001");
  EXPECT_EQ(ev[0].nas, ip("192.0.2.1"));
  EXPECT_EQ(ev[0].framed_ip, ip("100.64.0.7"));
  ASSERT_TRUE(ev[0].delegated);
  EXPECT_EQ(ev[0].delegated->str(), "2001:db8:1100::/56");
  EXPECT_EQ(ev[0].class_attr, "contract-42");  // 0x-hex octets decoded
  EXPECT_EQ(ev[0].calling_station, "00-11-22-33-44-55");
  EXPECT_EQ(ev[0].interim_ms, 300000);
  // Interim: no Event-Timestamp: Timestamp minus Acct-Delay-Time.
  EXPECT_EQ(ev[1].kind, AcctKind::kInterim);
  EXPECT_EQ(ev[1].time, 1700000300000);
  EXPECT_EQ(ev[2].kind, AcctKind::kStop);
  EXPECT_EQ(ev[2].time, 1700003600000);
  EXPECT_EQ(ev[2].session_time_s, 3600);
  // No NAS-IP-Address: Packet-Src-IP-Address.
  EXPECT_EQ(ev[3].nas, ip("192.0.2.2"));
  EXPECT_EQ(ev[4].kind, AcctKind::kNasOn);
  EXPECT_EQ(ev[4].nas, ip("192.0.2.9"));
  EXPECT_EQ(ev[4].time, 1700006400000);
  // Three bad records, each counted with its line.
  EXPECT_EQ(err.total(), 3u);
  EXPECT_EQ(err.counts.count("detail: no Acct-Session-Id"), 1u);
  EXPECT_EQ(err.counts.count("detail: bad address"), 1u);
  EXPECT_EQ(err.counts.count("detail: unsupported Acct-Status-Type"), 1u);
  EXPECT_TRUE(has_message(err, "line 43: detail: no Acct-Session-Id")) << err.messages[0];
  EXPECT_TRUE(has_message(err, "line 54: detail: bad address"));
}

TEST(DetailReader, SubscriberFromClass) {
  std::vector<AcctEvent> ev;
  ReadErrors err;
  ReaderOptions o;
  o.subscriber = SubscriberAttr::kClass;
  read_detail(slurp("detail-sample"), o, [&](const AcctEvent& e) { ev.push_back(e); }, err);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev[0].subscriber, "contract-42");
}

TEST(DetailReader, GarbageIsCountedNotFatal) {
  ReadErrors err;
  uint64_t n = read_detail("\tUser-Name = x\nnot a header\n\tAcct-Status-Type = Start\n\nTue Nov 14 22:13:20 2023\n"
                           "\tno equals sign\n",
                           {}, [](const AcctEvent&) {}, err);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(err.counts.count("detail: attribute outside a record"), 1u);
  EXPECT_EQ(err.counts.count("detail: bad record header"), 1u);
  EXPECT_EQ(err.counts.count("detail: line is not 'Attribute = value'"), 1u);
}

TEST(RadacctReader, ReadsExport) {
  std::vector<SessionRow> rows;
  ReadErrors err;
  uint64_t n = read_radacct(slurp("radacct-sample.csv"), {}, [&](const SessionRow& r) { rows.push_back(r); }, err);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(rows[0].subscriber, "alice");
  EXPECT_EQ(rows[0].session_id, "0001A");
  EXPECT_EQ(rows[0].start, 1700000000000);
  EXPECT_EQ(rows[0].end, 1700003600000);
  EXPECT_EQ(rows[0].last_seen, 1700003300000);
  EXPECT_EQ(rows[0].interim_ms, 300000);
  EXPECT_EQ(rows[0].framed_ip, ip("100.64.0.7"));
  EXPECT_EQ(rows[0].framed_v6->str(), "2001:db8:0:100::/64");
  EXPECT_EQ(rows[0].delegated->str(), "2001:db8:1100::/56");
  // "+09" zone, open session, "/32" host address.
  EXPECT_EQ(rows[1].start, 1700000000000);
  EXPECT_EQ(rows[1].end, 0);
  EXPECT_EQ(rows[1].framed_ip, ip("100.64.0.7"));
  // Quoted field with a comma, \N as NULL.
  EXPECT_EQ(rows[2].subscriber, "carol, jr");
  EXPECT_EQ(rows[2].end, 0);
  EXPECT_EQ(rows[2].calling_station, "aa-bb");
  EXPECT_FALSE(rows[2].framed_v6);
  EXPECT_EQ(err.total(), 3u);
  EXPECT_EQ(err.counts.count("radacct: bad nasipaddress"), 1u);
  EXPECT_EQ(err.counts.count("radacct: acctstoptime before acctstarttime"), 1u);
  EXPECT_EQ(err.counts.count("radacct: bad acctstarttime"), 1u);
  EXPECT_TRUE(has_message(err, "line 5: radacct: bad nasipaddress (not-an-ip)"));
}

TEST(RadacctReader, HeaderMustNameKeyColumns) {
  ReadErrors err;
  EXPECT_EQ(read_radacct("a,b,c\n1,2,3\n", {}, [](const SessionRow&) {}, err), 0u);
  EXPECT_EQ(err.total(), 1u);
}

TEST(CgnatReader, GenericCsv) {
  std::vector<PortBlockEvent> ev;
  ReadErrors err;
  ReaderOptions o;
  o.cgnat_box = ip("192.0.2.50");
  uint64_t n = read_cgnat(slurp("cgnat-generic.csv"), o, [&](const PortBlockEvent& e) { ev.push_back(e); }, err);
  ASSERT_EQ(n, 4u);
  EXPECT_TRUE(ev[0].alloc);
  EXPECT_EQ(ev[0].time, 1699999200000);
  EXPECT_EQ(ev[0].inside, ip("100.64.0.7"));
  EXPECT_EQ(ev[0].outside, ip("203.0.113.5"));
  EXPECT_EQ(ev[0].port_lo, 1024);
  EXPECT_EQ(ev[0].port_hi, 2047);
  EXPECT_EQ(ev[0].box, ip("192.0.2.50"));
  EXPECT_FALSE(ev[1].alloc);
  EXPECT_EQ(ev[3].time, 1700000000000);  // epoch seconds
  EXPECT_EQ(err.counts.count("cgnat: event is not alloc, active or release"), 1u);
  EXPECT_EQ(err.counts.count("cgnat: bad port range"), 1u);
  EXPECT_TRUE(has_message(err, "line 6:"));
}

TEST(CgnatReader, JuniperSyslog) {
  std::vector<PortBlockEvent> ev;
  ReadErrors err;
  uint64_t n = read_cgnat(slurp("cgnat-juniper.log"), {}, [&](const PortBlockEvent& e) { ev.push_back(e); }, err);
  ASSERT_EQ(n, 3u);
  EXPECT_TRUE(ev[0].alloc);
  EXPECT_EQ(ev[0].time, 1699999200000);  // from 0x6553ede0
  EXPECT_EQ(ev[0].outside, ip("203.0.113.6"));
  EXPECT_EQ(ev[0].port_lo, 1024);
  EXPECT_EQ(ev[0].port_hi, 1151);
  EXPECT_FALSE(ev[1].alloc);
  EXPECT_EQ(ev[1].time, 1700002800000);
  EXPECT_EQ(ev[2].time, 1700003100000);  // ISO syslog timestamp
  EXPECT_EQ(ev[2].inside, ip("100.64.0.8"));
  EXPECT_EQ(err.counts.count("cgnat: no time (no 0xEPOCH, no ISO syslog timestamp)"), 1u);
  EXPECT_EQ(err.counts.count("cgnat: bad address"), 1u);
}

TEST(ReaderHelpers, DbTimes) {
  TimeMs t;
  ASSERT_TRUE(reader_detail::parse_db_time("2023-11-14 22:13:20", t));
  EXPECT_EQ(t, 1700000000000);
  ASSERT_TRUE(reader_detail::parse_db_time("2023-11-15 07:13:20+0900", t));
  EXPECT_EQ(t, 1700000000000);
  ASSERT_TRUE(reader_detail::parse_db_time("2023-11-14 17:13:20-05", t));
  EXPECT_EQ(t, 1700000000000);
  ASSERT_TRUE(reader_detail::parse_db_time("\\N", t));
  EXPECT_EQ(t, 0);
  EXPECT_FALSE(reader_detail::parse_db_time("2023-13-01 00:00:00", t));
}

}  // namespace
}  // namespace omamori
