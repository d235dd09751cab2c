// Internal state of NetflowDecoder, shared by the decoder's source files.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <span>

#include "core/counters.hpp"
#include "flow/record.hpp"
#include "ingest/netflow/netflow.hpp"
#include "ingest/netflow/pending.hpp"
#include "ingest/netflow/templates.hpp"

namespace omamori {

struct NetflowDecoder::Impl {
  NetflowConfig cfg;
  ReasonCounters errors;
  NetflowStats stats;
  netflow::TemplateStore templates;
  absl::flat_hash_map<netflow::ScopeKey, netflow::ScopeState> scopes;
  netflow::PendingStore pending;

  // Template lifetime.
  TimeMs next_expiry_check = INT64_MIN;
  TimeMs last_expiry_check = INT64_MIN;
  // Shared state (collector workers); nullptr alone.
  std::shared_ptr<netflow::TemplateExchange> exchange;
  uint32_t origin = 0;
  uint64_t pulled = 0;  // exchange sequence number applied so far

  // decode_v5.cpp
  void decode_v5(const IpAddr& exporter, std::span<const uint8_t> d, FlowSink& sink);
  // decode_v9_ipfix.cpp: message headers, sets, template records.
  void decode_v9(const IpAddr& exporter, TimeMs received, std::span<const uint8_t> d, FlowSink& sink);
  void decode_ipfix(const IpAddr& exporter, TimeMs received, std::span<const uint8_t> d, FlowSink& sink);
  void decode_sets(const netflow::MsgContext& ctx, const uint8_t* p, size_t n, FlowSink& sink);
  void template_set(const netflow::MsgContext& ctx, const uint8_t* p, size_t n, FlowSink& sink);
  void options_template_set_v9(const netflow::MsgContext& ctx, const uint8_t* p, size_t n, FlowSink& sink);
  void options_template_set_ipfix(const netflow::MsgContext& ctx, const uint8_t* p, size_t n, FlowSink& sink);
  // Learns (or refreshes) template `id` from t, a record read into `scratch`.
  void install_template(const netflow::MsgContext& ctx, uint16_t id, netflow::Template& t, FlowSink& sink);
  netflow::Template& fresh_scratch();
  netflow::Template scratch;
  // Data set whose template may be unknown (then it is held).
  void data_set(const netflow::MsgContext& ctx, uint16_t set_id, const uint8_t* p, size_t n, FlowSink& sink);
  // data_records.cpp: runs the template's program over every record of a set.
  void data_records(const netflow::MsgContext& ctx, const netflow::Template& t, const uint8_t* p, size_t n,
                    FlowSink& sink);
  // Scope state (sampling rates, system init time); nullptr if absent and
  // create is false, or if the scope limit is reached.
  netflow::ScopeState* scope_state(const netflow::MsgContext& ctx, bool create);
  netflow::ScopeState* scope_state(const netflow::ScopeKey& key, const IpAddr& exporter, bool create);
  // Lookup for the data path, with a one-entry cache (exporters send set
  // after set of one scope); scopes_gen changes with every insertion, which
  // may move the map's entries.
  const netflow::ScopeState* find_scope(const netflow::ScopeKey& key) {
    if (scope_cache_gen == scopes_gen && scope_cache_key == key) return scope_cache;
    auto it = scopes.find(key);
    scope_cache = it == scopes.end() ? nullptr : &it->second;
    scope_cache_key = key;
    scope_cache_gen = scopes_gen;
    return scope_cache;
  }
  uint64_t scopes_gen = 1, scope_cache_gen = 0;
  netflow::ScopeKey scope_cache_key;
  const netflow::ScopeState* scope_cache = nullptr;
  // Decodes the data sets held for k (its template just arrived).
  void release_pending(const netflow::TemplateKey& k, FlowSink& sink);
  // Removes template k here and tells the exchange.
  void withdraw_template(const netflow::TemplateKey& k);
  // Tells the exchange about a new or redefined template k (in `templates`).
  void publish_template(const netflow::TemplateKey& k, TimeMs now);
  // netflow.cpp: the other decoders' changes; templates not refreshed in time.
  void apply_shared(TimeMs now, FlowSink& sink);
  void expire_templates(TimeMs now);
  void maintain(TimeMs now, FlowSink& sink);

  // data_records.cpp: IPFIX structured data.
  struct ListContext;
  size_t run_with_lists(const netflow::Template& t, const uint8_t* p, size_t n, void* values, ListContext& lc);
  void check_sub_records(ListContext& lc, uint16_t tmpl_id, const uint8_t* p, size_t n);
};

}  // namespace omamori
