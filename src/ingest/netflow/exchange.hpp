// Template state shared by several NetflowDecoders: the UDP collector's
// workers, each with its own decoder and SO_REUSEPORT socket.
//
// The kernel spreads an exporter's datagrams by their 4-tuple, so templates
// and the data that needs them can reach different workers (an exporter that
// sends from several source ports, a restart with a new port). Every decoder
// keeps its own copy of the templates (its data path takes no lock) and
// publishes what it learns here: new and redefined templates, withdrawals and
// expiries, sampling rates and system init times from options data. Each
// change gets a sequence number; decoders pull the changes of the others in
// that order (one atomic load per datagram tells them whether there is any).
// A change applies only over an older one (by sequence number), so every
// decoder ends with the same, latest definition of every template: no stale
// copy survives a redefinition learnt elsewhere.
//
// Template refreshes update the last-refresh time held here, so a template
// that one worker sees refreshed does not age out of another's copy.
//
// The exchange also holds the current state as a whole: a decoder that joins
// late, or falls further behind than the bounded change log, copies it, and
// the collector saves the template file from it.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "core/time.hpp"
#include "ingest/netflow/templates.hpp"

namespace omamori::netflow {

struct Change {
  enum Kind : uint8_t { kPut, kWithdraw, kRate, kInit };
  Kind kind = kPut;
  uint32_t origin = 0;  // decoder that made it
  uint64_t seq = 0;
  TemplateKey key;                       // kPut, kWithdraw; key.scope for kRate, kInit
  std::shared_ptr<const Template> tmpl;  // kPut
  uint64_t sampler = 0;                  // kRate
  uint32_t rate = 0;                     // kRate
  int64_t init_ms = -1;                  // kInit
};

class TemplateExchange {
 public:
  // max_templates: templates held at once (puts beyond it are refused and
  // stay local to their decoder); max_log: changes kept for decoders that have
  // not pulled them yet (beyond it, a lagging decoder copies the whole state).
  explicit TemplateExchange(size_t max_templates = 65536, size_t max_log = 65536)
      : max_templates_(max_templates), max_log_(max_log) {}

  // A decoder joins (gets its origin id) and leaves (its cursor no longer
  // holds back the trimming of the log).
  uint32_t join();
  void leave(uint32_t origin);

  // Sequence number of the last change; pull when it differs from yours.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  // Publishing. put returns the change's sequence number (0: refused, the
  // exchange is full).
  uint64_t put(uint32_t origin, const TemplateKey& k, std::shared_ptr<const Template> t, TimeMs now);
  void withdraw(uint32_t origin, const TemplateKey& k);
  void set_rate(uint32_t origin, const ScopeKey& s, uint64_t sampler, uint32_t rate);
  void set_init(uint32_t origin, const ScopeKey& s, int64_t init_ms);

  // A decoder saw template k refreshed (identical definition), its copy being
  // the one of change `seq`. Records the time; false when the exchange holds
  // another definition (or none), in which case the caller publishes its own.
  bool refresh(const TemplateKey& k, uint64_t seq, TimeMs now);

  // A decoder's copy of k was last refreshed more than `timeout` before now.
  // True when the template expires everywhere: nobody refreshed it within the
  // timeout either (it is removed and the withdrawal published), or the
  // exchange does not hold it. Otherwise false, and last_refresh is set to the
  // exchange's time.
  bool expire(uint32_t origin, const TemplateKey& k, TimeMs now, TimeMs timeout, TimeMs& last_refresh);

  struct Pull {
    bool full = false;            // changes hold the whole state (puts, rates, inits), own ones included
    std::vector<Change> changes;  // else: the other decoders' changes after `since`, in order
    uint64_t upto = 0;            // pass as `since` next time
  };
  // since = 0 asks for the whole state.
  void pull(uint32_t origin, uint64_t since, Pull& out);

  size_t template_count() const;
  size_t log_size() const;

 private:
  struct Entry {
    std::shared_ptr<const Template> tmpl;
    uint64_t seq = 0;
    TimeMs last_refresh = 0;
  };
  void append(Change c);  // mu_ held
  void trim();            // mu_ held

  const size_t max_templates_, max_log_;
  mutable std::mutex mu_;
  std::atomic<uint64_t> version_{0};
  uint64_t seq_ = 0;
  uint64_t trimmed_upto_ = 0;  // highest seq no longer in log_
  std::deque<Change> log_;
  absl::flat_hash_map<TemplateKey, Entry> templates_;
  absl::flat_hash_map<ScopeKey, ScopeState> scopes_;
  absl::flat_hash_map<uint32_t, uint64_t> cursors_;  // origin -> last pulled seq
  uint32_t next_origin_ = 1;
};

}  // namespace omamori::netflow
