// NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) decoding.
//
// One decoder instance keeps the template state of every exporter it has
// seen, scoped by (exporter address, source id / observation domain).
// Datagrams whose templates have not arrived yet are held (bounded) and
// decoded when the template comes. Every malformed input is counted by
// reason and exporter in errors(). See docs/netflow.md.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/counters.hpp"
#include "core/ip.hpp"
#include "core/time.hpp"
#include "flow/record.hpp"

namespace omamori {

struct NetflowConfig {
  // How long a data set waits for its template, measured on the `received`
  // clock passed to decode() (capture time for pcaps, wall time live).
  TimeMs pending_hold_ms = 60000;
  size_t max_pending_bytes = 16 << 20;       // total bytes of held data sets, all exporters
  size_t max_pending_sets = 65536;           // total held data sets, all exporters
  size_t max_templates = 65536;              // across all exporters
  size_t max_templates_per_exporter = 4096;  // one exporter cannot take all the space
  size_t max_scopes = 65536;                 // (exporter, domain) sampling/clock states
  // A template (data or options) not refreshed for this long, on the same
  // `received` clock, is forgotten; 0 = never. Templates loaded from a state
  // file count from the first datagram after loading.
  TimeMs template_timeout_ms = 30 * 60 * 1000;
};

struct NetflowStats {
  uint64_t datagrams = 0;
  uint64_t records = 0;    // flow records emitted
  uint64_t templates = 0;  // template records learnt (incl. refreshes)
  uint64_t options_templates = 0;
  uint64_t options_records = 0;        // options data records consumed (sampling etc.)
  uint64_t pending_held = 0;           // data sets held for a missing template
  uint64_t pending_decoded = 0;        // ... later decoded
  uint64_t pending_expired = 0;        // ... given up on (also counted in errors)
  uint64_t template_withdrawals = 0;   // IPFIX template withdrawals applied (incl. withdraw-all)
  uint64_t template_replacements = 0;  // a template id redefined with different fields
  uint64_t non_flow_records = 0;       // data records of templates without addresses (not flows)
  uint64_t reverse_records = 0;        // RFC 5103 reverse-direction records emitted (part of records)
  uint64_t templates_expired = 0;      // templates forgotten after template_timeout_ms without a refresh
  uint64_t templates_shared = 0;       // template definitions learnt from another decoder (TemplateExchange)
  // IPFIX structured data (RFC 6313).
  uint64_t basic_lists = 0;               // basicList fields decoded
  uint64_t sub_template_lists = 0;        // subTemplateList fields decoded
  uint64_t sub_template_multi_lists = 0;  // subTemplateMultiList fields decoded
  uint64_t list_records = 0;              // records inside (multi) subTemplateLists, checked, not turned into flows
  uint64_t list_values_used = 0;          // basicList first elements used for a record field
};

namespace netflow {
class TemplateExchange;
}

class NetflowDecoder {
 public:
  explicit NetflowDecoder(NetflowConfig cfg = {});
  ~NetflowDecoder();
  NetflowDecoder(const NetflowDecoder&) = delete;
  NetflowDecoder& operator=(const NetflowDecoder&) = delete;

  // Decodes one UDP payload (v5, v9 or IPFIX) received from `exporter` at
  // `received`; each flow record is passed to sink.
  void decode(const IpAddr& exporter, TimeMs received, std::span<const uint8_t> datagram, FlowSink& sink);
  // End of input: data still waiting for a template is counted as expired.
  void finish();

  // Shares template state with the other decoders of `ex` (see
  // exchange.hpp): publishes what this decoder learns and, at every decode()
  // and sync(), applies what the others learnt (held data whose template
  // arrives that way is decoded into `sink`). Call before the first decode().
  void share(std::shared_ptr<netflow::TemplateExchange> ex);
  // Applies the other decoders' changes now (an idle collector worker), and
  // ages out templates if due; `now` on the received clock.
  void sync(TimeMs now, FlowSink& sink);

  const ReasonCounters& errors() const;
  const NetflowStats& stats() const;
  // Number of templates (data and options) currently known.
  size_t template_count() const;

  // Template state survives restarts: a small binary file, written atomically.
  // It holds the templates, the sampling rates learnt from options data and
  // the exporters' system init times. Loading merges into the current state
  // (and publishes it to the exchange, if shared); a corrupt or truncated
  // file changes nothing and returns false.
  bool save_templates(const std::string& path, std::string& err) const;
  bool load_templates(const std::string& path, std::string& err);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace omamori
