#include "ingest/netflow/exchange.hpp"

#include <algorithm>
#include <limits>

namespace omamori::netflow {

namespace {
constexpr size_t kMaxScopes = 65536;
constexpr size_t kMaxRatesPerScope = 4096;  // as in the decoder
}  // namespace

uint32_t TemplateExchange::join() {
  std::lock_guard lk(mu_);
  uint32_t id = next_origin_++;
  cursors_[id] = 0;
  return id;
}

void TemplateExchange::leave(uint32_t origin) {
  std::lock_guard lk(mu_);
  cursors_.erase(origin);
  trim();
}

void TemplateExchange::append(Change c) {
  c.seq = ++seq_;
  log_.push_back(std::move(c));
  trim();
  version_.store(seq_, std::memory_order_release);
}

void TemplateExchange::trim() {
  // Changes every decoder has pulled are no longer needed; past max_log_ the
  // oldest go anyway (a decoder that has not pulled them copies the state).
  uint64_t min_cursor = seq_;
  for (const auto& [o, c] : cursors_) min_cursor = std::min(min_cursor, c);
  while (!log_.empty() && (log_.front().seq <= min_cursor || log_.size() > max_log_)) {
    trimmed_upto_ = log_.front().seq;
    log_.pop_front();
  }
}

uint64_t TemplateExchange::put(uint32_t origin, const TemplateKey& k, std::shared_ptr<const Template> t, TimeMs now) {
  std::lock_guard lk(mu_);
  auto it = templates_.find(k);
  if (it == templates_.end()) {
    if (templates_.size() >= max_templates_) return 0;
    it = templates_.try_emplace(k).first;
  }
  Change c;
  c.kind = Change::kPut;
  c.origin = origin;
  c.key = k;
  c.tmpl = t;
  append(std::move(c));
  it->second = Entry{std::move(t), seq_, now};
  return seq_;
}

void TemplateExchange::withdraw(uint32_t origin, const TemplateKey& k) {
  std::lock_guard lk(mu_);
  if (!templates_.erase(k)) return;
  Change c;
  c.kind = Change::kWithdraw;
  c.origin = origin;
  c.key = k;
  append(std::move(c));
}

void TemplateExchange::set_rate(uint32_t origin, const ScopeKey& s, uint64_t sampler, uint32_t rate) {
  std::lock_guard lk(mu_);
  auto it = scopes_.find(s);
  if (it == scopes_.end()) {
    if (scopes_.size() >= kMaxScopes) return;
    it = scopes_.try_emplace(s).first;
  }
  auto& rates = it->second.rates;
  auto r = rates.find(sampler);
  if (r != rates.end() && r->second == rate) return;
  if (r == rates.end() && rates.size() >= kMaxRatesPerScope) return;
  rates[sampler] = rate;
  Change c;
  c.kind = Change::kRate;
  c.origin = origin;
  c.key.scope = s;
  c.sampler = sampler;
  c.rate = rate;
  append(std::move(c));
}

void TemplateExchange::set_init(uint32_t origin, const ScopeKey& s, int64_t init_ms) {
  std::lock_guard lk(mu_);
  auto it = scopes_.find(s);
  if (it == scopes_.end()) {
    if (scopes_.size() >= kMaxScopes) return;
    it = scopes_.try_emplace(s).first;
  }
  if (it->second.system_init_ms == init_ms) return;
  it->second.system_init_ms = init_ms;
  Change c;
  c.kind = Change::kInit;
  c.origin = origin;
  c.key.scope = s;
  c.init_ms = init_ms;
  append(std::move(c));
}

bool TemplateExchange::refresh(const TemplateKey& k, uint64_t seq, TimeMs now) {
  std::lock_guard lk(mu_);
  auto it = templates_.find(k);
  if (it == templates_.end() || it->second.seq != seq) return false;
  it->second.last_refresh = std::max(it->second.last_refresh, now);
  return true;
}

bool TemplateExchange::expire(uint32_t origin, const TemplateKey& k, TimeMs now, TimeMs timeout,
                              TimeMs& last_refresh) {
  std::lock_guard lk(mu_);
  auto it = templates_.find(k);
  if (it == templates_.end()) return true;
  // Loaded from a file and not seen since: its time starts now.
  if (it->second.last_refresh == Template::kNeverRefreshed) it->second.last_refresh = now;
  if (now - it->second.last_refresh <= timeout) {
    last_refresh = it->second.last_refresh;
    return false;
  }
  templates_.erase(it);
  Change c;
  c.kind = Change::kWithdraw;
  c.origin = origin;
  c.key = k;
  append(std::move(c));
  return true;
}

void TemplateExchange::pull(uint32_t origin, uint64_t since, Pull& out) {
  out.changes.clear();
  std::lock_guard lk(mu_);
  out.upto = seq_;
  out.full = since == 0 || since < trimmed_upto_;
  if (out.full) {
    out.changes.reserve(templates_.size() + scopes_.size());
    for (const auto& [k, e] : templates_) {
      Change c;
      c.kind = Change::kPut;
      c.seq = e.seq;
      c.key = k;
      c.tmpl = e.tmpl;
      out.changes.push_back(std::move(c));
    }
    for (const auto& [s, st] : scopes_) {
      for (const auto& [id, rate] : st.rates) {
        Change c;
        c.kind = Change::kRate;
        c.key.scope = s;
        c.sampler = id;
        c.rate = rate;
        out.changes.push_back(std::move(c));
      }
      if (st.system_init_ms >= 0) {
        Change c;
        c.kind = Change::kInit;
        c.key.scope = s;
        c.init_ms = st.system_init_ms;
        out.changes.push_back(std::move(c));
      }
    }
  } else {
    for (const auto& c : log_)
      if (c.seq > since && c.origin != origin) out.changes.push_back(c);
  }
  auto cur = cursors_.find(origin);
  if (cur != cursors_.end()) cur->second = seq_;
  trim();
}

size_t TemplateExchange::template_count() const {
  std::lock_guard lk(mu_);
  return templates_.size();
}

size_t TemplateExchange::log_size() const {
  std::lock_guard lk(mu_);
  return log_.size();
}

}  // namespace omamori::netflow
