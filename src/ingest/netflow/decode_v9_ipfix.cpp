// NetFlow v9 (RFC 3954) and IPFIX (RFC 7011): message headers, sets,
// template and options template records, template withdrawal, and the
// hand-off of data sets to their template (or to the hold store).
#include "core/bytes.hpp"
#include "ingest/netflow/exchange.hpp"
#include "ingest/netflow/impl.hpp"
#include "ingest/netflow/reasons.hpp"

namespace omamori {

using netflow::FieldSpec;
using netflow::MsgContext;
using netflow::Template;
using netflow::TemplateKey;
namespace reason = netflow::reason;

namespace {

// Reads `count` field specifiers (type, length and, for IPFIX enterprise
// elements, the PEN) into t. Failure shows in b.failed().
void read_field_specs(ByteReader& b, bool ipfix, Template& t, size_t count) {
  t.fields.resize(count);
  for (auto& f : t.fields) {
    uint16_t type = b.u16();
    f.length = b.u16();
    if (ipfix && (type & 0x8000)) {
      f.pen = b.u32();
      type &= 0x7FFF;
    }
    f.id = type;
  }
}
constexpr size_t kV9Header = 20, kIpfixHeader = 16;

bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return false;
  return true;
}
}  // namespace

void NetflowDecoder::Impl::decode_v9(const IpAddr& exporter, TimeMs received, std::span<const uint8_t> d,
                                     FlowSink& sink) {
  if (d.size() < kV9Header) {
    errors.add(exporter, reason::kV9Truncated);
    return;
  }
  const uint8_t* h = d.data();
  MsgContext ctx;
  ctx.exporter = exporter;
  ctx.received = received;
  ctx.sys_uptime = load_be32(h + 4);
  ctx.export_ms = TimeMs(load_be32(h + 8)) * 1000;
  ctx.domain = load_be32(h + 16);
  ctx.version = 9;
  decode_sets(ctx, h + kV9Header, d.size() - kV9Header, sink);
}

void NetflowDecoder::Impl::decode_ipfix(const IpAddr& exporter, TimeMs received, std::span<const uint8_t> d,
                                        FlowSink& sink) {
  if (d.size() < kIpfixHeader) {
    errors.add(exporter, reason::kIpfixTruncated);
    return;
  }
  const uint8_t* h = d.data();
  size_t len = load_be16(h + 2);
  if (len < kIpfixHeader) {
    errors.add(exporter, reason::kIpfixLengthShort);
    return;
  }
  if (len > d.size()) {
    // Truncated in transit or by the capture: decode the sets that are whole.
    errors.add(exporter, reason::kIpfixLengthExceeds);
    len = d.size();
  } else if (len < d.size()) {
    errors.add(exporter, reason::kIpfixTrailing);
  }
  MsgContext ctx;
  ctx.exporter = exporter;
  ctx.received = received;
  ctx.export_ms = TimeMs(load_be32(h + 4)) * 1000;
  ctx.domain = load_be32(h + 12);
  ctx.version = 10;
  decode_sets(ctx, h + kIpfixHeader, len - kIpfixHeader, sink);
}

void NetflowDecoder::Impl::decode_sets(const MsgContext& ctx, const uint8_t* p, size_t n, FlowSink& sink) {
  const bool ipfix = ctx.version == 10;
  size_t off = 0;
  while (n - off >= 4) {
    uint16_t id = load_be16(p + off);
    size_t len = load_be16(p + off + 2);
    if (len < 4) {
      // NetFlow v9 exporters may pad the datagram after the last set with zeros.
      if (!ipfix && all_zero(p + off, n - off)) return;
      errors.add(ctx.exporter, reason::kBadSetLength);
      return;
    }
    if (len > n - off) {
      errors.add(ctx.exporter, reason::kSetExceeds);
      return;
    }
    const uint8_t* body = p + off + 4;
    size_t blen = len - 4;
    off += len;
    if (id >= 256) {
      data_set(ctx, id, body, blen, sink);
    } else if (id == (ipfix ? 2 : 0)) {
      template_set(ctx, body, blen, sink);
    } else if (id == (ipfix ? 3 : 1)) {
      if (ipfix)
        options_template_set_ipfix(ctx, body, blen, sink);
      else
        options_template_set_v9(ctx, body, blen, sink);
    } else {
      errors.add(ctx.exporter, reason::kReservedSetId);
    }
  }
  if (off < n && !all_zero(p + off, n - off)) errors.add(ctx.exporter, reason::kTrailingBytes);
}

// Template set: v9 set id 0, IPFIX set id 2.
void NetflowDecoder::Impl::template_set(const MsgContext& ctx, const uint8_t* p, size_t n, FlowSink& sink) {
  const bool ipfix = ctx.version == 10;
  ByteReader b(p, n);
  while (b.remaining() >= 4) {
    uint16_t id = b.u16();
    uint16_t count = b.u16();
    if (count == 0) {
      if (ipfix) {
        // Withdrawal (RFC 7011 8.1): one template, or all of them when id is the set id.
        if (id == 2) {
          for (const auto& k : templates.withdraw_all(ctx.scope(), false)) {
            ++stats.template_withdrawals;
            if (exchange) exchange->withdraw(origin, k);
          }
        } else if (templates.find(TemplateKey{ctx.scope(), id})) {
          withdraw_template(TemplateKey{ctx.scope(), id});
          ++stats.template_withdrawals;
        }
        continue;
      }
      if (id == 0) return;  // zero padding at the end of the set
      errors.add(ctx.exporter, reason::kTemplateZeroFields);
      continue;
    }
    if (size_t(count) * 4 > b.remaining()) {
      errors.add(ctx.exporter, reason::kTemplateTruncated);
      return;
    }
    Template& t = fresh_scratch();
    read_field_specs(b, ipfix, t, count);
    if (b.failed()) {
      errors.add(ctx.exporter, reason::kTemplateTruncated);
      return;
    }
    if (id < 256) {
      errors.add(ctx.exporter, reason::kTemplateReservedId);
      continue;
    }
    install_template(ctx, id, t, sink);
  }
}

// NetFlow v9 options template set (id 1): scope and option lengths in bytes.
void NetflowDecoder::Impl::options_template_set_v9(const MsgContext& ctx, const uint8_t* p, size_t n, FlowSink& sink) {
  ByteReader b(p, n);
  while (b.remaining() >= 6) {
    uint16_t id = b.u16();
    uint16_t scope_len = b.u16();
    uint16_t opt_len = b.u16();
    if (id == 0 && scope_len == 0 && opt_len == 0) return;  // padding
    if (scope_len % 4 || opt_len % 4) {
      errors.add(ctx.exporter, reason::kOptionsBadLengths);
      return;
    }
    if (size_t(scope_len) + opt_len > b.remaining()) {
      errors.add(ctx.exporter, reason::kTemplateTruncated);
      return;
    }
    Template& t = fresh_scratch();
    t.options = true;
    t.scope_count = scope_len / 4;
    t.fields.resize(size_t(scope_len / 4) + opt_len / 4);
    for (auto& f : t.fields) {
      f.id = b.u16();
      f.length = b.u16();
    }
    if (b.failed()) {
      errors.add(ctx.exporter, reason::kTemplateTruncated);
      return;
    }
    if (id < 256) {
      errors.add(ctx.exporter, reason::kTemplateReservedId);
      continue;
    }
    install_template(ctx, id, t, sink);
  }
}

// IPFIX options template set (id 3): field count and scope field count.
void NetflowDecoder::Impl::options_template_set_ipfix(const MsgContext& ctx, const uint8_t* p, size_t n,
                                                      FlowSink& sink) {
  ByteReader b(p, n);
  while (b.remaining() >= 4) {
    uint16_t id = b.u16();
    uint16_t count = b.u16();
    if (count == 0) {
      if (id == 3) {
        for (const auto& k : templates.withdraw_all(ctx.scope(), true)) {
          ++stats.template_withdrawals;
          if (exchange) exchange->withdraw(origin, k);
        }
      } else if (templates.find(TemplateKey{ctx.scope(), id})) {
        withdraw_template(TemplateKey{ctx.scope(), id});
        ++stats.template_withdrawals;
      }
      continue;
    }
    uint16_t scope_count = b.u16();
    if (b.failed() || size_t(count) * 4 > b.remaining()) {
      errors.add(ctx.exporter, reason::kTemplateTruncated);
      return;
    }
    Template& t = fresh_scratch();
    t.options = true;
    t.scope_count = scope_count;
    read_field_specs(b, true, t, count);
    if (b.failed()) {
      errors.add(ctx.exporter, reason::kTemplateTruncated);
      return;
    }
    if (id < 256) {
      errors.add(ctx.exporter, reason::kTemplateReservedId);
      continue;
    }
    install_template(ctx, id, t, sink);
  }
}

Template& NetflowDecoder::Impl::fresh_scratch() {
  // Reused for every template record: a refresh (the common case) allocates nothing.
  scratch.fields.clear();
  scratch.scope_count = 0;
  scratch.options = false;
  return scratch;
}

void NetflowDecoder::Impl::install_template(const MsgContext& ctx, uint16_t id, Template& scratch_t, FlowSink& sink) {
  TemplateKey key{ctx.scope(), id};
  Template* old = templates.find_mut(key);
  if (old && old->options == scratch_t.options && old->scope_count == scratch_t.scope_count &&
      old->fields == scratch_t.fields) {
    // Refresh of a known template: nothing to compile.
    ++(scratch_t.options ? stats.options_templates : stats.templates);
    old->last_refresh = ctx.received;
    // Shared: keep it alive for the others too; if another decoder holds a
    // different definition (a race with a redefinition), this one is newer.
    if (exchange && !exchange->refresh(key, old->shared_seq, ctx.received)) publish_template(key, ctx.received);
    return;
  }
  auto t = std::make_unique<Template>(std::move(scratch_t));
  netflow::CompileResult cr = netflow::compile_template(*t, ctx.version);
  if (cr.error) {
    errors.add(ctx.exporter, cr.error);
    // The exporter redefined the id: its data no longer has the old layout.
    if (old) withdraw_template(key);
    return;
  }
  if (cr.warning) errors.add(ctx.exporter, cr.warning);
  if (!old) {
    if (templates.size() >= cfg.max_templates) {
      errors.add(ctx.exporter, reason::kTooManyTemplates);
      return;
    }
    if (templates.count_for(ctx.exporter) >= cfg.max_templates_per_exporter) {
      errors.add(ctx.exporter, reason::kTooManyTemplatesExporter);
      return;
    }
  }
  bool options = t->options;
  t->last_refresh = ctx.received;
  if (templates.put(key, std::move(t)) == netflow::TemplateStore::Put::kReplaced) ++stats.template_replacements;
  ++(options ? stats.options_templates : stats.templates);
  publish_template(key, ctx.received);
  release_pending(key, sink);
}

void NetflowDecoder::Impl::release_pending(const TemplateKey& key, FlowSink& sink) {
  if (pending.empty()) return;
  auto held = pending.take(key);
  if (held.empty()) return;
  const Template* tp = templates.find(key);
  for (const auto& h : held) {
    ++stats.pending_decoded;
    data_records(h.ctx, *tp, h.data.data(), h.data.size(), sink);
  }
}

void NetflowDecoder::Impl::withdraw_template(const TemplateKey& key) {
  templates.withdraw(key);
  if (exchange) exchange->withdraw(origin, key);
}

void NetflowDecoder::Impl::publish_template(const TemplateKey& key, TimeMs now) {
  if (!exchange) return;
  Template* t = templates.find_mut(key);
  if (!t) return;
  t->shared_seq = exchange->put(origin, key, std::make_shared<const Template>(*t), now);
}

void NetflowDecoder::Impl::data_set(const MsgContext& ctx, uint16_t set_id, const uint8_t* p, size_t n,
                                    FlowSink& sink) {
  const Template* t = templates.find(TemplateKey{ctx.scope(), set_id});
  if (t) {
    data_records(ctx, *t, p, n, sink);
    return;
  }
  if (pending.hold(ctx, set_id, p, n, cfg.max_pending_bytes, cfg.max_pending_sets))
    ++stats.pending_held;
  else
    errors.add(ctx.exporter, reason::kHeldBufferFull);
}

netflow::ScopeState* NetflowDecoder::Impl::scope_state(const MsgContext& ctx, bool create) {
  return scope_state(ctx.scope(), ctx.exporter, create);
}

netflow::ScopeState* NetflowDecoder::Impl::scope_state(const netflow::ScopeKey& key, const IpAddr& exporter,
                                                       bool create) {
  auto it = scopes.find(key);
  if (it != scopes.end()) return &it->second;
  if (!create) return nullptr;
  if (scopes.size() >= cfg.max_scopes) {
    errors.add(exporter, reason::kTooManyScopes);
    return nullptr;
  }
  ++scopes_gen;
  return &scopes[key];
}

}  // namespace omamori
