// `omamori flows read FILE...`: decode NetFlow v5/v9, IPFIX and sFlow
// exports found in pcap/pcapng captures of exporter traffic.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "cli/common.hpp"
#include "cli/flows_commands.hpp"
#include "ingest/flow_decoder.hpp"
#include "ingest/pcap/pcap_file.hpp"
#include "ingest/pcap/udp_stream.hpp"

namespace omamori::cli {

namespace {
struct ReadOptions {
  std::vector<std::string> files;
  FlowOutputOptions out;
  bool stats = false;
  std::string templates;
  std::vector<uint16_t> ports;
  double template_timeout = 1800;  // seconds of capture time
};

void run_read(ReadOptions& o) {
  FlowSink& sink = o.out.open();
  NetflowConfig nf;
  nf.template_timeout_ms = static_cast<TimeMs>(o.template_timeout * 1000);
  FlowDatagramDecoder dec(nf);
  std::string err;
  if (!o.templates.empty() && !dec.netflow().load_templates(o.templates, err)) {
    // A missing file is the first run; anything else (a corrupt file) deserves attention.
    if (std::filesystem::exists(o.templates))
      spdlog::warn("templates: {} (starting without saved templates)", err);
    else
      spdlog::info("templates: {} (starting without saved templates)", err);
  }
  ExportPcapCounts counts;
  bool read_failed = false;
  UdpExtractor udp;
  for (const auto& path : o.files) {
    if (!read_export_pcap(path, dec, udp, o.ports, sink, counts, err)) {
      fmt::print(stderr, "omamori: {}\n", err);
      read_failed = true;
    }
  }
  dec.finish();
  o.out.finish();
  if (!o.templates.empty() && !dec.netflow().save_templates(o.templates, err))
    fmt::print(stderr, "omamori: saving templates: {}\n", err);
  auto errors = dec.all_errors();
  if (o.stats) {
    const auto& nfs = dec.netflow().stats();
    const auto& sf = dec.sflow().stats();
    fmt::print(stderr,
               "packets {} datagrams {} records {} | netflow/ipfix: datagrams {} records {} templates {} "
               "options-templates {} options-records {} held {} held-decoded {} held-expired {} templates-expired {} "
               "lists {} sub-template-lists {} list-values-used {} | sflow: datagrams {} "
               "flow-samples {} counter-samples {} records {}\n",
               counts.packets, counts.datagrams, dec.records(), nfs.datagrams, nfs.records, nfs.templates,
               nfs.options_templates, nfs.options_records, nfs.pending_held, nfs.pending_decoded, nfs.pending_expired,
               nfs.templates_expired, nfs.basic_lists, nfs.sub_template_lists + nfs.sub_template_multi_lists,
               nfs.list_values_used, sf.datagrams,
               sf.flow_samples, sf.counter_samples, sf.records);
  }
  report_errors("pcap", udp.errors(), false);
  report_errors("decode", errors, true);
  if (read_failed)
    exit_code() = kFailure;
  else if (errors.total() > 0)
    exit_code() = kDataErrors;
}
}  // namespace

void register_flows_read(CLI::App& flows) {
  auto o = std::make_shared<ReadOptions>();
  auto* cmd = flows.add_subcommand("read", "Decode NetFlow v5/v9, IPFIX and sFlow v5 exports captured in pcap files");
  cmd->add_option("files", o->files, "pcap or pcapng files of exporter traffic ('-' for stdin)")->required();
  cmd->add_option("--port", o->ports, "Only UDP datagrams to these destination ports (default: all)");
  cmd->add_option("--templates", o->templates,
                  "Template state file: loaded before decoding if present, saved afterwards");
  cmd->add_option("--template-timeout", o->template_timeout,
                  "Forget a NetFlow v9/IPFIX template not refreshed for this many seconds of capture time (0 = never)")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  cmd->add_flag("--stats", o->stats, "Print decoder statistics to stderr");
  o->out.add_to(cmd);
  cmd->callback([o] { run_read(*o); });
}

}  // namespace omamori::cli
