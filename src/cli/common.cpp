#include "cli/common.hpp"

#include <fmt/format.h>

namespace omamori::cli {

int& exit_code() {
  static int code = kOk;
  return code;
}

void FlowOutputOptions::add_to(CLI::App* app) {
  app->add_option("-f,--format", format, "Output format: table, csv or jsonl")
      ->check(CLI::IsMember({"table", "csv", "jsonl"}))
      ->capture_default_str();
  app->add_option("--filter", filter,
                  "Filter expression, e.g. 'proto tcp and dst port 23', 'src net 10.0.0.0/8', 'bytes > 1000'");
  app->add_option("-a,--aggregate", aggregate,
                  "Aggregate by keys (top talkers): src, dst, src/N, dst/N, sport, dport, proto, exporter, "
                  "src_as, dst_as, in_if, out_if; comma-separated");
  app->add_option("--order", order, "Sort aggregates by bytes, packets or flows")
      ->check(CLI::IsMember({"bytes", "packets", "flows"}))
      ->capture_default_str();
  app->add_option("--top", top, "Keep the N largest aggregates (per time bin)");
  app->add_option("--bin", bin_seconds, "Aggregate into time bins of this many seconds");
  app->add_flag("--renormalise,--renormalize", renormalise,
                "Multiply packets and bytes by the sampling rate (estimated totals)");
  app->add_option("-o,--output", output, "Write records to this file instead of standard output");
}

namespace {
class RenormalisingSink final : public FlowSink {
 public:
  explicit RenormalisingSink(FlowSink& next) : next_(next) {}
  void on_flow(const FlowRecord& r) override {
    if (r.sampling_rate <= 1) return next_.on_flow(r);
    FlowRecord c = r;
    c.renormalise();
    next_.on_flow(c);
  }

 private:
  FlowSink& next_;
};
}  // namespace

FlowSink& FlowOutputOptions::open() {
  fmt_ = *parse_output_format(format);
  std::string err;
  if (!filter.empty()) {
    filter_ = FlowFilter::compile(filter, err);
    if (!filter_) throw CommandError(kUsage, err);
  }
  out_ = stdout;
  if (output != "-") {
    out_ = std::fopen(output.c_str(), "w");
    if (!out_) throw CommandError(kFailure, "cannot write " + output + ": " + std::strerror(errno));
  }
  FlowSink* sink;
  if (!aggregate.empty() || bin_seconds > 0) {
    AggregateSpec spec;
    if (aggregate.empty()) aggregate = "proto";
    if (!spec.parse_keys(aggregate, err)) throw CommandError(kUsage, err);
    AggregateSpec::parse_order(order, spec.order);
    spec.top = top;
    spec.bin_ms = static_cast<TimeMs>(bin_seconds * 1000);
    spec.renormalise = renormalise;
    agg_ = std::make_unique<FlowAggregator>(spec);
    sink = agg_.get();
  } else {
    writer_ = std::make_unique<FlowWriter>(out_, fmt_);
    sink = writer_.get();
    if (renormalise) {
      renorm_ = std::make_unique<RenormalisingSink>(*sink);
      sink = renorm_.get();
    }
  }
  filtering_ = std::make_unique<FilteringSink>(filter_.get(), *sink);
  return *filtering_;
}

void FlowOutputOptions::flush() {
  if (writer_) writer_->flush();
}

uint64_t FlowOutputOptions::finish() {
  uint64_t n = 0;
  if (writer_) {
    writer_->flush();
    n = writer_->written();
  }
  if (agg_) {
    n = agg_->print(out_, fmt_);
  }
  if (out_ && out_ != stdout) std::fclose(out_);
  out_ = nullptr;
  return n;
}

std::vector<Prefix> parse_prefixes(const std::vector<std::string>& v, const char* what) {
  std::vector<Prefix> out;
  for (const auto& s : v) {
    auto p = Prefix::parse(s);
    if (!p) throw CommandError(kUsage, fmt::format("{}: not an address prefix: '{}'", what, s));
    out.push_back(*p);
  }
  return out;
}

void report_errors(const std::string& context, const ReasonCounters& c, bool per_source) {
  for (const auto& row : c.snapshot(per_source)) {
    if (row.source.empty())
      fmt::print(stderr, "{}: {}: {}\n", context, row.reason, row.count);
    else
      fmt::print(stderr, "{}: {} (from {}): {}\n", context, row.reason, row.source, row.count);
  }
}

}  // namespace omamori::cli
