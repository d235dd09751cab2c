#include "detect/dga/zeek_queries.hpp"

#include <zlib.h>

#include <charconv>
#include <vector>

namespace omamori::dga {

namespace {
void split_tabs(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
}
}  // namespace

bool read_zeek_dns(const std::string& path, const std::function<void(const ZeekDnsRow&)>& fn, ReasonCounters& errors,
                   std::string& err) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) {
    err = "cannot open " + path;
    return false;
  }
  gzbuffer(f, 1 << 17);
  int c_ts = -1, c_orig = -1, c_query = -1, c_rcode = -1;
  size_t ncols = 0;
  std::string line;
  std::vector<std::string_view> cols;
  char buf[8192];
  bool ok = true;
  while (true) {
    line.clear();
    bool got = false;
    while (gzgets(f, buf, sizeof buf)) {
      got = true;
      line.append(buf);
      if (!line.empty() && line.back() == '\n') break;
    }
    if (!got) break;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (line.rfind("#fields\t", 0) == 0) {
        split_tabs(std::string_view(line).substr(8), cols);
        ncols = cols.size();
        for (size_t i = 0; i < cols.size(); ++i) {
          if (cols[i] == "ts") c_ts = static_cast<int>(i);
          if (cols[i] == "id.orig_h") c_orig = static_cast<int>(i);
          if (cols[i] == "query") c_query = static_cast<int>(i);
          if (cols[i] == "rcode") c_rcode = static_cast<int>(i);
        }
      }
      continue;
    }
    if (c_ts < 0 || c_orig < 0 || c_query < 0) {
      errors.add("zeek dns row before a #fields header with ts, id.orig_h, query");
      continue;
    }
    split_tabs(line, cols);
    if (cols.size() < ncols) {
      errors.add("zeek dns row with too few columns");
      continue;
    }
    ZeekDnsRow r;
    auto t = parse_time(cols[static_cast<size_t>(c_ts)]);
    auto a = IpAddr::parse(cols[static_cast<size_t>(c_orig)]);
    if (!t || !a) {
      errors.add("zeek dns row with a bad ts or id.orig_h");
      continue;
    }
    r.ts = *t;
    r.client = *a;
    r.query = cols[static_cast<size_t>(c_query)];
    if (r.query == "-" || r.query == "(empty)") r.query = {};
    if (c_rcode >= 0) {
      std::string_view rc = cols[static_cast<size_t>(c_rcode)];
      int v = -1;
      if (rc != "-" && (std::from_chars(rc.data(), rc.data() + rc.size(), v).ec != std::errc() || v < 0 || v > 65535)) {
        errors.add("zeek dns row with a bad rcode");
        v = -1;
      }
      r.rcode = v;
    }
    fn(r);
  }
  int zerr = 0;
  const char* msg = gzerror(f, &zerr);
  if (zerr != Z_OK && zerr != Z_STREAM_END) {
    err = path + ": " + (msg ? msg : "read error");
    ok = false;
  }
  gzclose(f);
  return ok;
}

}  // namespace omamori::dga
