// Template state of the NetFlow v9 / IPFIX decoder.
//
// Templates are scoped by (exporter address, source id / observation domain,
// protocol version) and compiled once, when they arrive, into a flat field
// program: a list of (length, target) ops that the data-record loop runs
// without any lookup or allocation. Per scope the decoder also keeps what
// options data taught it: sampling rates by sampler/selector id and the
// exporter's system init time (IPFIX flowStart/EndSysUpTime base).
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "core/ip.hpp"
#include "core/time.hpp"
#include "ingest/netflow/fields.hpp"

namespace omamori::netflow {

// A field as announced in the template record.
struct FieldSpec {
  uint16_t id = 0;      // element id without the enterprise bit
  uint16_t length = 0;  // kVarLen for IPFIX variable length
  uint32_t pen = 0;     // enterprise number, 0 = IANA / NetFlow v9
  bool operator==(const FieldSpec&) const = default;
};

struct Op {
  uint16_t length;  // kVarLen: read the IPFIX length prefix
  uint8_t target;   // Target
};

struct Template {
  // As received, for refresh comparison and persistence.
  std::vector<FieldSpec> fields;
  uint16_t scope_count = 0;  // options templates: leading scope fields
  bool options = false;

  // Compiled program.
  std::vector<Op> ops;
  uint64_t mask = 0;        // bit(target) for every target present
  uint32_t min_length = 0;  // smallest possible record (varlen fields count 1)
  bool varlen = false;      // any variable-length field
  bool is_flow = false;     // data template with addresses or a packet section
  bool has_lists = false;   // IPFIX basicList / subTemplateList / subTemplateMultiList fields

  // Lifetime (not part of the definition).
  TimeMs last_refresh = kNeverRefreshed;  // received-clock time of the last definition or refresh
  uint64_t shared_seq = 0;  // TemplateExchange sequence number of this definition (0: not shared)
  static constexpr TimeMs kNeverRefreshed = INT64_MIN;  // loaded from a file: stamped at the first check
};

struct ScopeKey {
  IpAddr exporter;
  uint32_t domain = 0;
  uint8_t version = 0;  // 9 or 10
  bool operator==(const ScopeKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const ScopeKey& k) {
    return H::combine(std::move(h), k.exporter, k.domain, k.version);
  }
};

struct TemplateKey {
  ScopeKey scope;
  uint16_t id = 0;
  bool operator==(const TemplateKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const TemplateKey& k) {
    return H::combine(std::move(h), k.scope, k.id);
  }
};

// What options data taught about one scope.
struct ScopeState {
  absl::flat_hash_map<uint64_t, uint32_t> rates;  // sampler/selector id (0 = exporter-wide) -> 1-in-N
  int64_t system_init_ms = -1;                    // IE 160, -1 = unknown
};

// Result of compiling a template: nullptr reason = fine.
struct CompileResult {
  const char* error = nullptr;    // the template is unusable
  const char* warning = nullptr;  // usable, but a field was ignored (counted once per template)
};

// Builds t.ops and the derived fields from t.fields / t.scope_count / t.options.
// version 9: scope fields of options templates are NetFlow v9 scope types, not elements.
CompileResult compile_template(Template& t, uint8_t version);

class TemplateStore {
 public:
  // Exporters send one template's data set after another: a one-entry cache
  // in front of the hash map saves the hashing for most data sets.
  const Template* find(const TemplateKey& k) const {
    if (last_ && last_key_ == k) return last_;
    auto it = map_.find(k);
    if (it == map_.end()) return nullptr;
    last_key_ = k;
    last_ = it->second.get();
    return last_;
  }
  Template* find_mut(const TemplateKey& k) {
    auto it = map_.find(k);
    return it == map_.end() ? nullptr : it->second.get();
  }
  size_t size() const { return map_.size(); }
  size_t count_for(const IpAddr& exporter) const {
    auto it = per_exporter_.find(exporter);
    return it == per_exporter_.end() ? 0 : it->second;
  }

  enum class Put { kNew, kRefresh, kReplaced };
  // Inserts or replaces; the caller has checked the limits for new keys.
  Put put(const TemplateKey& k, std::unique_ptr<Template> t);
  // Returns whether a template was removed.
  bool withdraw(const TemplateKey& k);
  // IPFIX withdraw-all: removes every data (options=false) or options template of a scope.
  std::vector<TemplateKey> withdraw_all(const ScopeKey& s, bool options);

  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [k, t] : map_) f(k, *t);
  }
  template <typename F>
  void for_each_mut(F&& f) {
    for (auto& [k, t] : map_) f(k, *t);
  }

 private:
  absl::flat_hash_map<TemplateKey, std::unique_ptr<Template>> map_;
  absl::flat_hash_map<IpAddr, size_t> per_exporter_;
  mutable TemplateKey last_key_;
  mutable const Template* last_ = nullptr;  // reset by every change of map_
};

}  // namespace omamori::netflow
