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
};

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

  const ReasonCounters& errors() const;
  const NetflowStats& stats() const;
  // Number of templates (data and options) currently known.
  size_t template_count() const;

  // Template state survives restarts: a small binary file, written atomically.
  // It holds the templates, the sampling rates learnt from options data and
  // the exporters' system init times. Loading merges into the current state;
  // a corrupt or truncated file changes nothing and returns false.
  bool save_templates(const std::string& path, std::string& err) const;
  bool load_templates(const std::string& path, std::string& err);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace omamori
