#include "simulate/simulate.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/time.hpp"
#include "simulate/background.hpp"
#include "simulate/infect.hpp"
#include "simulate/isp.hpp"
#include "simulate/radius.hpp"
#include "simulate/sources.hpp"
#include "simulate/weave.hpp"

namespace omamori::sim {

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

void write_file(const fs::path& dir, const std::string& rel, const std::string& content, Summary& sum) {
  fs::path p = dir / rel;
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + p.string());
  sum.files.push_back(rel);
}

ojson network_json(const Isp& isp) {
  ojson n;
  ojson nas = ojson::array();
  for (const auto& x : isp.nas)
    nas.push_back({{"name", x.name}, {"address", x.ip.str()}, {"pool4", x.pool4.str()}, {"pool6", x.pool6.str()}});
  n["nas"] = nas;
  n["subscribers"] = {plan::kNasPool4[0], plan::kNasPool4[1], plan::kBusiness, plan::kSubscribers6};
  n["business_static"] = plan::kBusiness;
  n["infrastructure"] = {plan::kInfrastructure4, plan::kInfrastructure6};
  n["resolvers"] = {plan::kResolver4, plan::kResolver6};
  n["ntp"] = plan::kNtp4;
  n["internet"] = {plan::kInternet4, plan::kInternet6};
  n["darknet"] = plan::kDarknet;
  return n;
}

std::string toml(const Isp&) {
  return fmt::format(
      "# Settings of `omamori analyze` for this bundle (written by `omamori simulate`).\n"
      "# Run from this directory:  omamori -c omamori.toml analyze\n"
      "[analyze]\n"
      "pcap = [\"border.pcap\"]\n"
      "feed = [\"maltrail:feeds/elf_mirai.txt\"]\n"
      "subscribers = [\"{}\", \"{}\", \"{}\", \"{}\"]\n"
      "protect = [\"{}\"]\n"
      "ddos-pps = 1000\n"
      "darknet = [\"{}\"]\n"
      "infrastructure = [\"{}\", \"{}\"]\n",
      plan::kNasPool4[0], plan::kNasPool4[1], plan::kBusiness, plan::kSubscribers6, plan::kBusiness, plan::kDarknet,
      plan::kInfrastructure4, plan::kInfrastructure6);
}

std::string truth_json(const Options& o, const Isp& isp, const RealData& data, const Truth& truth,
                       const std::vector<WovenCapture>& woven) {
  ojson j;
  j["generator"] = {{"command", command_line(o)},
                    {"seed", o.seed},
                    {"subscribers", o.subscribers},
                    {"start", rfc3339_us(isp.cfg.start)},
                    {"end", rfc3339_us(isp.cfg.end)},
                    {"format", 1}};
  j["network"] = network_json(isp);
  ojson ev = ojson::array();
  for (const auto& rb : isp.reboots)
    ev.push_back({{"kind", "nas-reboot"},
                  {"nas", isp.nas[rb.nas].ip.str()},
                  {"time", rfc3339_us(rb.at)},
                  {"accounting_on", rfc3339_us(rb.at + 30 * kSecond)},
                  {"note", "every session on this NAS ended without a Stop; subscribers reconnected with new "
                           "addresses"}});
  j["events"] = ev;
  ojson inf = ojson::array();
  for (const auto& i : truth.infections) {
    const Subscriber& s = isp.subs[i.sub];
    ojson x;
    x["id"] = i.id;
    x["kind"] = i.kind;
    x["subscriber"] = s.id;
    x["warnings_allowed"] = s.warnings_allowed;
    x["language"] = s.language;
    x["host"] = i.host.str();
    x["session_id"] = i.session->session_id;
    x["session_start"] = rfc3339_us(i.session->start);
    x["first"] = rfc3339_us(i.first);
    x["last"] = rfc3339_us(i.last);
    x["expected_findings"] = i.expected;
    x["description"] = i.description;
    for (const Session* h : i.previous_holders)
      x["previous_holders"].push_back({{"subscriber", isp.subs[h->sub].id},
                                       {"session_id", h->session_id},
                                       {"from", rfc3339_us(h->start)},
                                       {"to", rfc3339_us(h->end)}});
    inf.push_back(std::move(x));
  }
  j["infections"] = inf;
  ojson c2 = ojson::array();
  for (const auto& c : truth.c2) c2.push_back({{"dest", c.dest}, {"listed", c.listed}, {"description", c.description}});
  j["c2"] = c2;
  j["feeds"] = ojson::array({ojson{{"file", "feeds/" + data.feed_file},
                                   {"format", "maltrail"},
                                   {"source", "Maltrail (MIT), trails/static/malware/" + data.feed_file +
                                                  ", snapshot of 2026-08: its newest entries"}}});
  ojson wv = ojson::array();
  for (const auto& w : woven) {
    ojson rw = ojson::object();
    for (const auto& [a, b] : w.rewrites) rw[a] = b;
    wv.push_back({{"file", w.file},
                  {"source", w.source},
                  {"role", w.role},
                  {"packets", w.packets},
                  {"original_first", rfc3339_us(w.original_first)},
                  {"first", rfc3339_us(w.first)},
                  {"last", rfc3339_us(w.last)},
                  {"rewrites", rw},
                  {"subscriber", w.subscriber}});
  }
  j["real_captures"] = wv;
  return j.dump(2) + "\n";
}

}  // namespace

std::string command_line(const Options& o) {
  return fmt::format("omamori simulate --out DIR --seed {} --subscribers {} --hours {} --start {}", o.seed,
                     o.subscribers, o.hours, o.start);
}

Summary simulate(const Options& o) {
  if (o.out.empty()) throw std::invalid_argument("no output directory");
  if (o.hours < 6 || o.hours > 24 * 7) throw std::invalid_argument("--hours must be between 6 and 168");
  auto start_ms = parse_time(o.start);
  if (!start_ms) throw std::invalid_argument("--start: not a time: " + o.start);
  IspConfig ic;
  ic.seed = o.seed;
  ic.subscribers = o.subscribers;
  ic.start = *start_ms / 1000 * kSecond;
  ic.end = ic.start + o.hours * kHour;

  RealData data = load_real_data(o.shared_data);
  Isp isp = build_isp(ic);
  Internet net = make_internet(data, o.seed);
  Capture cap;
  background(isp, net, data, cap, o.seed);
  Truth truth = infect(isp, net, data, cap, o.seed);
  auto woven = weave(isp, net, data, truth, cap, o.seed);

  Summary sum;
  fs::path dir(o.out);
  fs::create_directories(dir);
  write_file(dir, "subscribers.csv", subscribers_csv(isp).content, sum);
  for (const auto& f : detail_files(isp)) write_file(dir, f.path, f.content, sum);
  write_file(dir, "radacct.csv", radacct_csv(isp).content, sum);
  write_file(dir, "feeds/" + data.feed_file, data.feed_text, sum);
  write_file(dir, "truth.json", truth_json(o, isp, data, truth, woven), sum);
  write_file(dir, "omamori.toml", toml(isp), sum);
  std::string err;
  sum.frames = cap.size();
  if (!cap.write((dir / "border.pcap").string(), err)) throw std::runtime_error(err);
  sum.files.push_back("border.pcap");
  sum.subscribers = isp.subs.size();
  sum.sessions = isp.sessions.size();
  sum.infections = truth.infections.size();
  return sum;
}

}  // namespace omamori::sim
