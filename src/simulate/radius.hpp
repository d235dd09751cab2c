// Writing what the ISP's systems hold about the simulated subscribers:
// the contract data (subscribers.csv), RADIUS accounting as FreeRADIUS
// writes it (detail files, one per NAS and UTC day) and as the SQL module
// stores it (a radacct table export, radacct.csv).
#pragma once

#include <string>
#include <vector>

#include "simulate/isp.hpp"

namespace omamori::sim {

// A file of the bundle: path relative to the output directory, and content.
struct OutFile {
  std::string path;
  std::string content;
};

OutFile subscribers_csv(const Isp& isp);
// radacct/<nas-ip>/detail-YYYYMMDD files.
std::vector<OutFile> detail_files(const Isp& isp);
OutFile radacct_csv(const Isp& isp);

// "Sun Nov 22 01:00:00 2026" (the detail record header, UTC).
std::string ctime_utc(int64_t us);
// "2026-11-22T01:00:00Z" (whole seconds) and "...:00.123456Z" when needed.
std::string rfc3339_us(int64_t us);

}  // namespace omamori::sim
