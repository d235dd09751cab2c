// NetflowDecoder: version dispatch, hold-store expiry, statistics.
#include "ingest/netflow/netflow.hpp"

#include <absl/container/flat_hash_set.h>

#include <algorithm>

#include "core/bytes.hpp"
#include "ingest/netflow/exchange.hpp"
#include "ingest/netflow/impl.hpp"
#include "ingest/netflow/reasons.hpp"

namespace omamori {

NetflowDecoder::NetflowDecoder(NetflowConfig cfg) : impl_(std::make_unique<Impl>()) {
  impl_->cfg = cfg;
}
NetflowDecoder::~NetflowDecoder() {
  if (impl_->exchange) impl_->exchange->leave(impl_->origin);
}

void NetflowDecoder::share(std::shared_ptr<netflow::TemplateExchange> ex) {
  Impl& m = *impl_;
  if (m.exchange) m.exchange->leave(m.origin);
  m.exchange = std::move(ex);
  m.origin = m.exchange ? m.exchange->join() : 0;
  m.pulled = 0;
  if (!m.exchange) return;
  // What this decoder already knows (e.g. loaded from a file) goes to the others.
  std::vector<std::pair<netflow::TemplateKey, TimeMs>> known;
  m.templates.for_each_mut(
      [&](const netflow::TemplateKey& k, netflow::Template& t) { known.emplace_back(k, t.last_refresh); });
  for (const auto& [k, at] : known) m.publish_template(k, at);
  for (const auto& [k, st] : m.scopes) {
    for (const auto& [id, rate] : st.rates) m.exchange->set_rate(m.origin, k, id, rate);
    if (st.system_init_ms >= 0) m.exchange->set_init(m.origin, k, st.system_init_ms);
  }
}

void NetflowDecoder::sync(TimeMs now, FlowSink& sink) {
  impl_->maintain(now, sink);
}

void NetflowDecoder::Impl::maintain(TimeMs now, FlowSink& sink) {
  if (exchange && exchange->version() != pulled) apply_shared(now, sink);
  if (cfg.template_timeout_ms > 0 && (now >= next_expiry_check || now < last_expiry_check)) expire_templates(now);
}

void NetflowDecoder::Impl::expire_templates(TimeMs now) {
  // Checked every 1/32 of the timeout (at least every second, at most every
  // minute), so a template goes at most that much later than its timeout.
  TimeMs every = std::clamp<TimeMs>(cfg.template_timeout_ms / 32, 1000, 60000);
  last_expiry_check = now;
  next_expiry_check = now + every;
  std::vector<netflow::TemplateKey> stale;
  templates.for_each_mut([&](const netflow::TemplateKey& k, netflow::Template& t) {
    if (t.last_refresh == netflow::Template::kNeverRefreshed) t.last_refresh = now;
    if (now - t.last_refresh > cfg.template_timeout_ms) stale.push_back(k);
  });
  for (const auto& k : stale) {
    netflow::Template* t = templates.find_mut(k);
    TimeMs fresh = 0;
    // Another worker may have seen it refreshed.
    if (exchange && t->shared_seq && !exchange->expire(origin, k, now, cfg.template_timeout_ms, fresh)) {
      t->last_refresh = fresh;
      continue;
    }
    templates.withdraw(k);
    ++stats.templates_expired;
  }
}

void NetflowDecoder::Impl::apply_shared(TimeMs now, FlowSink& sink) {
  netflow::TemplateExchange::Pull pull;
  exchange->pull(origin, pulled, pull);
  pulled = pull.upto;
  absl::flat_hash_set<netflow::TemplateKey> in_full;
  for (const auto& c : pull.changes) {
    switch (c.kind) {
      case netflow::Change::kPut: {
        if (pull.full) in_full.insert(c.key);
        netflow::Template* cur = templates.find_mut(c.key);
        if (cur && cur->shared_seq >= c.seq) break;  // ours is as new or newer
        if (!cur && (templates.size() >= cfg.max_templates ||
                     templates.count_for(c.key.scope.exporter) >= cfg.max_templates_per_exporter)) {
          errors.add(c.key.scope.exporter, templates.size() >= cfg.max_templates
                                               ? netflow::reason::kTooManyTemplates
                                               : netflow::reason::kTooManyTemplatesExporter);
          break;
        }
        auto t = std::make_unique<netflow::Template>(*c.tmpl);
        t->shared_seq = c.seq;
        t->last_refresh = now;
        templates.put(c.key, std::move(t));
        ++stats.templates_shared;
        release_pending(c.key, sink);
        break;
      }
      case netflow::Change::kWithdraw: {
        netflow::Template* cur = templates.find_mut(c.key);
        if (cur && cur->shared_seq < c.seq) templates.withdraw(c.key);
        break;
      }
      case netflow::Change::kRate: {
        netflow::ScopeState* st = scope_state(c.key.scope, c.key.scope.exporter, true);
        if (st && (st->rates.size() < 4096 || st->rates.contains(c.sampler))) st->rates[c.sampler] = c.rate;
        break;
      }
      case netflow::Change::kInit: {
        netflow::ScopeState* st = scope_state(c.key.scope, c.key.scope.exporter, true);
        if (st) st->system_init_ms = c.init_ms;
        break;
      }
    }
  }
  if (pull.full) {
    // Shared templates the exchange no longer has were withdrawn or expired meanwhile.
    std::vector<netflow::TemplateKey> gone;
    templates.for_each_mut([&](const netflow::TemplateKey& k, netflow::Template& t) {
      if (t.shared_seq && !in_full.contains(k)) gone.push_back(k);
    });
    for (const auto& k : gone) templates.withdraw(k);
  }
}

void NetflowDecoder::decode(const IpAddr& exporter, TimeMs received, std::span<const uint8_t> d, FlowSink& sink) {
  Impl& m = *impl_;
  ++m.stats.datagrams;
  m.maintain(received, sink);
  m.pending.expire(received, m.cfg.pending_hold_ms, [&](const netflow::HeldSet& h) {
    ++m.stats.pending_expired;
    m.errors.add(h.ctx.exporter, netflow::reason::kHeldExpired);
  });
  if (d.size() < 4) {
    m.errors.add(exporter, netflow::reason::kTooShort);
    return;
  }
  switch (load_be16(d.data())) {
    case 5:
      m.decode_v5(exporter, d, sink);
      break;
    case 9:
      m.decode_v9(exporter, received, d, sink);
      break;
    case 10:
      m.decode_ipfix(exporter, received, d, sink);
      break;
    default:
      m.errors.add(exporter, netflow::reason::kUnsupportedVersion);
      break;
  }
}

void NetflowDecoder::finish() {
  Impl& m = *impl_;
  m.pending.drain([&](const netflow::HeldSet& h) {
    ++m.stats.pending_expired;
    m.errors.add(h.ctx.exporter, netflow::reason::kHeldAtFinish);
  });
}

const ReasonCounters& NetflowDecoder::errors() const {
  return impl_->errors;
}
const NetflowStats& NetflowDecoder::stats() const {
  return impl_->stats;
}
size_t NetflowDecoder::template_count() const {
  return impl_->templates.size();
}

}  // namespace omamori
