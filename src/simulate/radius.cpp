#include "simulate/radius.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <map>

namespace omamori::sim {

namespace {

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::tm utc(int64_t us) {
  std::time_t t = static_cast<std::time_t>(us / kSecond);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

// Event-Timestamp as FreeRADIUS 3 prints dates: "Nov 22 2026 01:00:00 UTC".
std::string radius_date(int64_t us) {
  std::tm tm = utc(us);
  return fmt::format("{} {:2d} {} {:02d}:{:02d}:{:02d} UTC", kMonths[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string day_stamp(int64_t us) {
  std::tm tm = utc(us);
  return fmt::format("{:04d}{:02d}{:02d}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

enum class Kind { Start, Interim, Stop, AccountingOn };

struct Record {
  int64_t at;      // when the server received it (header, Timestamp)
  int64_t event;   // Event-Timestamp
  uint64_t order;  // tie-break: generation order
  int nas;
  Kind kind;
  const Session* s = nullptr;
};

void octets(std::string& out, const char* dir, uint64_t v) {
  out += fmt::format("\tAcct-{}-Octets = {}\n", dir, v & 0xffffffffULL);
  if (v >> 32) out += fmt::format("\tAcct-{}-Gigawords = {}\n", dir, v >> 32);
}

std::string record_text(const Isp& isp, const Record& r) {
  std::string o = ctime_utc(r.at) + "\n";
  const Nas& nas = isp.nas[r.nas];
  if (r.kind == Kind::AccountingOn) {
    o += "\tAcct-Status-Type = Accounting-On\n";
    o += fmt::format("\tNAS-IP-Address = {}\n", nas.ip.str());
    o += fmt::format("\tNAS-Identifier = \"{}\"\n", nas.name);
    o += "\tAcct-Session-Id = \"0000000000000000\"\n";
    o += fmt::format("\tEvent-Timestamp = \"{}\"\n", radius_date(r.event));
    o += "\tAcct-Delay-Time = 0\n";
    o += fmt::format("\tTimestamp = {}\n\n", r.at / kSecond);
    return o;
  }
  const Session& s = *r.s;
  const Subscriber& sub = isp.subs[s.sub];
  const char* type = r.kind == Kind::Start ? "Start" : r.kind == Kind::Interim ? "Interim-Update" : "Stop";
  o += fmt::format("\tAcct-Status-Type = {}\n", type);
  o += fmt::format("\tUser-Name = \"{}\"\n", sub.id);
  o += fmt::format("\tAcct-Session-Id = \"{}\"\n", s.session_id);
  o += fmt::format("\tNAS-IP-Address = {}\n", nas.ip.str());
  o += fmt::format("\tNAS-Identifier = \"{}\"\n", nas.name);
  o += "\tNAS-Port-Type = Ethernet\n";
  o += "\tService-Type = Framed-User\n";
  o += "\tFramed-Protocol = PPP\n";
  o += fmt::format("\tFramed-IP-Address = {}\n", s.v4.str());
  if (s.v6.len()) o += fmt::format("\tDelegated-IPv6-Prefix = {}\n", s.v6.str());
  o += fmt::format("\tCalling-Station-Id = \"{}\"\n", sub.mac);
  o += fmt::format("\tAcct-Interim-Interval = {}\n", s.interim_s);
  if (r.kind != Kind::Start) {
    uint64_t secs = static_cast<uint64_t>((r.event - s.start) / kSecond);
    o += fmt::format("\tAcct-Session-Time = {}\n", secs);
    octets(o, "Input", s.in_rate * secs);
    octets(o, "Output", s.out_rate * secs);
    o += fmt::format("\tAcct-Input-Packets = {}\n", s.in_rate * secs / 420);
    o += fmt::format("\tAcct-Output-Packets = {}\n", s.out_rate * secs / 1100);
  }
  if (r.kind == Kind::Stop) o += fmt::format("\tAcct-Terminate-Cause = {}\n", s.terminate_cause);
  o += fmt::format("\tEvent-Timestamp = \"{}\"\n", radius_date(r.event));
  o += fmt::format("\tAcct-Delay-Time = {}\n", (r.at - r.event) / kSecond);
  o += fmt::format("\tAcct-Unique-Session-Id = \"{}\"\n", s.unique_id);
  o += fmt::format("\tTimestamp = {}\n\n", r.at / kSecond);
  return o;
}

std::vector<Record> records(const Isp& isp) {
  std::vector<Record> out;
  uint64_t order = 0;
  const int64_t w0 = isp.cfg.start, w1 = isp.cfg.end;
  for (const auto& s : isp.sessions) {
    // A session's packets reach the server a moment later; now and then
    // after a retransmission (Acct-Delay-Time counts it).
    uint64_t h = fnv1a(s.unique_id);
    auto delay = [&](int64_t t) { return (h + static_cast<uint64_t>(t / kSecond)) % 17 == 0 ? 2 * kSecond : 0; };
    if (s.start >= w0) out.push_back({s.start + delay(s.start), s.start, order++, s.nas, Kind::Start, &s});
    int64_t step = static_cast<int64_t>(s.interim_s) * kSecond;
    for (int64_t t = s.start + step; t < s.end && t < w1; t += step)
      if (t >= w0) out.push_back({t + delay(t), t, order++, s.nas, Kind::Interim, &s});
    if (s.end_kind == SessionEnd::Stop && s.end < w1)
      out.push_back({s.end + delay(s.end), s.end, order++, s.nas, Kind::Stop, &s});
  }
  for (const auto& rb : isp.reboots)
    out.push_back({rb.at + 30 * kSecond, rb.at + 30 * kSecond, order++, rb.nas, Kind::AccountingOn, nullptr});
  // Records arriving after the window are not in this day's files.
  std::erase_if(out, [&](const Record& r) { return r.at >= w1; });
  std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) {
    return a.at != b.at ? a.at < b.at : a.order < b.order;
  });
  return out;
}

std::string csv_time(int64_t us) { return us ? rfc3339_us(us / kSecond * kSecond) : ""; }

}  // namespace

std::string ctime_utc(int64_t us) {
  std::tm tm = utc(us);
  return fmt::format("{} {} {:2d} {:02d}:{:02d}:{:02d} {}", kDays[tm.tm_wday], kMonths[tm.tm_mon], tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
}

std::string rfc3339_us(int64_t us) {
  std::tm tm = utc(us);
  std::string s = fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}", tm.tm_year + 1900, tm.tm_mon + 1,
                              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  int64_t frac = ((us % kSecond) + kSecond) % kSecond;
  if (frac) s += fmt::format(".{:06d}", frac);
  return s + "Z";
}

OutFile subscribers_csv(const Isp& isp) {
  OutFile f{"subscribers.csv", "subscriber_id,email,language,warnings_allowed,terms_version,service\n"};
  for (const auto& s : isp.subs)
    f.content += fmt::format("{},{},{},{},{},{}\n", s.id, s.email, s.language, s.warnings_allowed ? "true" : "false",
                             s.terms_version, s.service);
  return f;
}

std::vector<OutFile> detail_files(const Isp& isp) {
  std::map<std::string, std::string> files;  // path -> content, in path order
  for (const auto& r : records(isp))
    files["radacct/" + isp.nas[r.nas].ip.str() + "/detail-" + day_stamp(r.at)] += record_text(isp, r);
  std::vector<OutFile> out;
  for (auto& [p, c] : files) out.push_back({p, std::move(c)});
  return out;
}

OutFile radacct_csv(const Isp& isp) {
  OutFile f{"radacct.csv",
            "radacctid,acctsessionid,acctuniqueid,username,nasipaddress,acctstarttime,acctupdatetime,acctstoptime,"
            "acctinterval,acctsessiontime,acctinputoctets,acctoutputoctets,callingstationid,acctterminatecause,"
            "framedipaddress,delegatedipv6prefix\n"};
  const int64_t w1 = isp.cfg.end;
  // Accounting-On closes the NAS's open sessions (FreeRADIUS's accounting_onoff query).
  auto reboot_close = [&](const Session& s) -> int64_t {
    for (const auto& rb : isp.reboots)
      if (rb.nas == s.nas && s.start < rb.at + 30 * kSecond && rb.at + 30 * kSecond < w1 &&
          (s.end_kind == SessionEnd::NasReboot || (s.end_kind == SessionEnd::LostStop && s.end <= rb.at)))
        return rb.at + 30 * kSecond;
    return 0;
  };
  uint64_t id = 1;
  for (const auto& s : isp.sessions) {
    int64_t step = static_cast<int64_t>(s.interim_s) * kSecond;
    int64_t known_end = 0;  // what the table says
    std::string cause;
    if (s.end_kind == SessionEnd::Stop && s.end < w1) {
      known_end = s.end;
      cause = s.terminate_cause;
    } else if (int64_t c = reboot_close(s)) {
      known_end = c;
      cause = "NAS-Reboot";
    }
    // The last update the server received: the latest interim, or the stop.
    int64_t last_seen = s.start;
    for (int64_t t = s.start + step; t < s.end && t < w1; t += step) last_seen = t;
    if (s.end_kind == SessionEnd::Stop && known_end) last_seen = known_end;
    int64_t until = known_end ? known_end : last_seen;
    uint64_t secs = static_cast<uint64_t>((until - s.start) / kSecond);
    f.content += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", id++, s.session_id, s.unique_id,
                             isp.subs[s.sub].id, isp.nas[s.nas].ip.str(), csv_time(s.start), csv_time(last_seen),
                             csv_time(known_end), s.interim_s, secs, s.in_rate * secs, s.out_rate * secs,
                             isp.subs[s.sub].mac, cause, s.v4.str(), s.v6.len() ? s.v6.str() : "");
  }
  return f;
}

}  // namespace omamori::sim
