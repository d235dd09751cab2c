// Flow filter expressions, in the style of tcpdump/nfdump:
//
//   [src|dst] host ADDR      [src|dst] net PREFIX     [src|dst] port N
//   [src|dst] as N           proto tcp|udp|icmp|icmp6|gre|esp|sctp|N
//   exporter ADDR            packets|bytes|sampling OP N   (OP: = != < <= > >=)
//   flags [FSRPAUEC]+        (all the given TCP flags set)
//   in_if N | out_if N       ipv4 | ipv6
// combined with `and`, `or`, `not` and parentheses. Without src/dst a term
// matches either side. An empty expression matches everything.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "flow/record.hpp"

namespace omamori {

class FlowFilter {
 public:
  // Parses expr; on error returns nullptr and sets err to what and where.
  static std::unique_ptr<FlowFilter> compile(std::string_view expr, std::string& err);
  ~FlowFilter();
  bool matches(const FlowRecord& r) const;

  struct Node;

 private:
  FlowFilter() = default;
  std::unique_ptr<Node> root_;
};

// A sink that forwards only matching records.
class FilteringSink final : public FlowSink {
 public:
  FilteringSink(const FlowFilter* f, FlowSink& next) : f_(f), next_(next) {}
  void on_flow(const FlowRecord& r) override {
    if (!f_ || f_->matches(r)) next_.on_flow(r);
  }

 private:
  const FlowFilter* f_;
  FlowSink& next_;
};

}  // namespace omamori
