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
};

void run_read(ReadOptions& o) {
  FlowSink& sink = o.out.open();
  FlowDatagramDecoder dec;
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
    const auto& nf = dec.netflow().stats();
    const auto& sf = dec.sflow().stats();
    fmt::print(stderr,
               "packets {} datagrams {} records {} | netflow/ipfix: datagrams {} records {} templates {} "
               "options-templates {} options-records {} held {} held-decoded {} held-expired {} | sflow: datagrams {} "
               "flow-samples {} counter-samples {} records {}\n",
               counts.packets, counts.datagrams, dec.records(), nf.datagrams, nf.records, nf.templates, nf.options_templates,
               nf.options_records, nf.pending_held, nf.pending_decoded, nf.pending_expired, sf.datagrams,
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
  cmd->add_flag("--stats", o->stats, "Print decoder statistics to stderr");
  o->out.add_to(cmd);
  cmd->callback([o] { run_read(*o); });
}

}  // namespace omamori::cli
