#include "simulate/sources.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/counters.hpp"
#include "core/psl.hpp"
#include "detect/dga/zeek_queries.hpp"

namespace omamori::sim {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.pop_back();
    out.push_back(l);
  }
  return out;
}

bool plain_name(const std::string& n) {
  if (n.empty() || n.find('.') == std::string::npos || n.size() > 120) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  if (n.ends_with(".arpa") || n.front() == '.' || n.back() == '.') return false;
  return !registered_domain(n).empty();
}

// Is `name` or one of its parents in `listed`?
bool listed_under(const std::string& name, const std::set<std::string>& listed) {
  std::string_view n = name;
  for (;;) {
    if (listed.count(std::string(n))) return true;
    size_t dot = n.find('.');
    if (dot == std::string_view::npos) return false;
    n.remove_prefix(dot + 1);
  }
}

bool is_ip_port(const std::string& l, IpAddr& a, uint16_t& port) {
  size_t c = l.rfind(':');
  if (c == std::string::npos || l.find(':') != c) return false;
  auto ip = IpAddr::parse(l.substr(0, c));
  if (!ip || !ip->is_v4()) return false;
  int p = 0;
  for (char ch : l.substr(c + 1)) {
    if (ch < '0' || ch > '9') return false;
    p = p * 10 + (ch - '0');
    if (p > 65535) return false;
  }
  a = *ip;
  port = static_cast<uint16_t>(p);
  return port != 0;
}

}  // namespace

std::string trail_cut(const std::string& trail, size_t tail_lines) {
  auto ls = lines_of(trail);
  std::string out;
  size_t head = 0;
  while (head < ls.size() && (ls[head].starts_with("#") || ls[head].empty()) && head < 6) {
    if (ls[head].find("Reference") != std::string::npos) break;
    out += ls[head++] + "\n";
  }
  out += "# (the newest entries of the trail, cut for omamori's demo bundle)\n\n";
  size_t from = std::max(head, ls.size() > tail_lines ? ls.size() - tail_lines : head);
  // Start at a section boundary (a blank line).
  while (from < ls.size() && !ls[from].empty()) ++from;
  for (size_t i = from + 1; i < ls.size(); ++i) out += ls[i] + "\n";
  return out;
}

TrailInfo scan_trail(const std::string& text) {
  TrailInfo t;
  std::set<std::string> names;
  std::vector<std::string> sec_names;
  std::vector<std::pair<IpAddr, uint16_t>> sec_addrs;
  auto close_section = [&] {
    if (!sec_names.empty() && !sec_addrs.empty()) {
      t.c2_domain = sec_names.back();
      t.c2_addr = sec_addrs.front().first;
      t.c2_port = sec_addrs.front().second;
    }
    sec_names.clear();
    sec_addrs.clear();
  };
  for (const auto& l : lines_of(text)) {
    if (l.starts_with("# Reference")) close_section();
    if (l.empty() || l[0] == '#' || l[0] == '/' || l.starts_with("http")) continue;
    IpAddr a;
    uint16_t port;
    if (is_ip_port(l, a, port)) {
      sec_addrs.emplace_back(a, port);
    } else if (plain_name(l)) {
      names.insert(l);
      sec_names.push_back(l);
    }
  }
  close_section();
  t.names.assign(names.begin(), names.end());
  return t;
}

RealData load_real_data(const std::string& shared) {
  RealData d;
  d.shared = shared;
  d.feed_text = trail_cut(slurp(shared + "/intel/maltrail/elf_mirai.txt"), 800);

  TrailInfo trail = scan_trail(d.feed_text);
  if (trail.c2_domain.empty()) throw std::runtime_error("no C&C section (name and address:port) in the Mirai trail");
  d.c2_domain = trail.c2_domain;
  d.c2_addr = trail.c2_addr;
  d.c2_port = trail.c2_port;
  std::set<std::string> listed(trail.names.begin(), trail.names.end());

  // Real names from the Zeek log: resolved ones by popularity, and NXDOMAIN noise.
  std::map<std::string, uint64_t> ok, nx;
  ReasonCounters errs;
  std::string err;
  if (!dga::read_zeek_dns(
          shared + "/dns/zeek-dns.log.gz",
          [&](const dga::ZeekDnsRow& r) {
            std::string q(r.query);
            std::transform(q.begin(), q.end(), q.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; });
            if (!plain_name(q) || listed_under(q, listed)) return;
            if (r.rcode == 0) ++ok[q];
            if (r.rcode == 3) ++nx[q];
          },
          errs, err))
    throw std::runtime_error(err);
  std::vector<std::pair<uint64_t, std::string>> byfreq;
  for (auto& [n, c] : ok) byfreq.emplace_back(c, n);
  std::stable_sort(byfreq.begin(), byfreq.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = 0; i < byfreq.size() && i < 300; ++i) d.popular.push_back(byfreq[i].second);
  for (auto& [n, c] : nx)
    if (!ok.count(n)) d.nx_noise.push_back(n);

  for (const auto& l : lines_of(slurp(shared + "/dga/benign_domains.csv")))
    if (plain_name(l) && !listed_under(l, listed)) d.benign.push_back(l);
  for (const auto& l : lines_of(slurp(shared + "/dga/dga_domains.csv")))
    if (plain_name(l) && !listed_under(l, listed)) d.dga.push_back(l);
  if (d.popular.size() < 50 || d.benign.size() < 1000 || d.dga.size() < 1000 || d.nx_noise.empty())
    throw std::runtime_error("too few names in the real data under " + shared);
  return d;
}

}  // namespace omamori::sim
