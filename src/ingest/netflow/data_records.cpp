// The hot path: runs a compiled template over the records of a data set and
// turns each record into a FlowRecord (or, for options templates, into
// sampling / clock state). No allocation per record.
#include <algorithm>
#include <limits>

#include "core/bytes.hpp"
#include "ingest/netflow/exchange.hpp"
#include "ingest/netflow/impl.hpp"
#include "ingest/netflow/reasons.hpp"
#include "packet/decode.hpp"

namespace omamori {

using namespace netflow;

namespace {

constexpr int64_t kNtpToUnix = 2208988800LL;  // seconds from 1900-01-01 to 1970-01-01
constexpr size_t kPtrTargets = kTargetCount - kFirstPtr;

// Field values of one record. Only fields present in the template's mask are
// written and read, so nothing needs clearing between records.
struct Values {
  uint64_t v[kFirstPtr];
  const uint8_t* ptr[kPtrTargets];
  uint16_t plen[kPtrTargets];

  uint64_t operator[](Target t) const { return v[t]; }
  const uint8_t* p(Target t) const { return ptr[t - kFirstPtr]; }
  uint16_t len(Target t) const { return plen[t - kFirstPtr]; }
};

inline void apply(uint8_t target, const uint8_t* p, size_t len, Values& x) {
  if (target >= kFirstPtr) {
    x.ptr[target - kFirstPtr] = p;
    x.plen[target - kFirstPtr] = static_cast<uint16_t>(len);
  } else if (target != kSkip) {
    x.v[target] = load_uint(p, len);
  }
}

// Runs the program over one record; returns the bytes consumed, 0 if the
// record does not fit in [p, p+n). Templates with list fields take
// Impl::run_with_lists instead.
inline size_t run(const Template& t, const uint8_t* p, size_t n, Values& x) {
  if (!t.varlen) {
    if (n < t.min_length) return 0;
    for (const Op& op : t.ops) {
      apply(op.target, p, op.length, x);
      p += op.length;
    }
    return t.min_length;
  }
  const uint8_t* start = p;
  const uint8_t* end = p + n;
  for (const Op& op : t.ops) {
    size_t len = op.length;
    if (len == kVarLen) {
      // RFC 7011 7: one length byte, or 255 followed by a two-byte length.
      if (p >= end) return 0;
      len = *p++;
      if (len == 255) {
        if (end - p < 2) return 0;
        len = load_be16(p);
        p += 2;
      }
    }
    if (size_t(end - p) < len) return 0;
    apply(op.target, p, len, x);
    p += len;
  }
  return size_t(p - start);
}

bool has(uint64_t mask, Target t) {
  return (mask & bit(t)) != 0;
}

// 1-in-N from the sampling elements of a record (data or options); 0 = none.
uint64_t rate_from(uint64_t m, const Values& x) {
  if (has(m, kSamplingPopulationT) && has(m, kSamplingSizeT) && x[kSamplingSizeT] > 0)
    return x[kSamplingPopulationT] / x[kSamplingSizeT];  // random n-out-of-N (RFC 5476)
  if (has(m, kPacketIntervalT) && has(m, kPacketSpaceT) && x[kPacketIntervalT] > 0)
    return (x[kPacketIntervalT] + x[kPacketSpaceT]) / x[kPacketIntervalT];  // systematic count-based
  if (has(m, kSamplingIntervalT) && x[kSamplingIntervalT] > 0) return x[kSamplingIntervalT];
  if (has(m, kSamplerRandomIntervalT) && x[kSamplerRandomIntervalT] > 0) return x[kSamplerRandomIntervalT];
  return 0;
}

uint32_t clamp_rate(uint64_t r) {
  return r == 0 ? 1 : uint32_t(std::min<uint64_t>(r, UINT32_MAX));
}

// Times from the wire are clamped to a sane range (about year 33658) so that
// hostile values cannot overflow the arithmetic below.
constexpr int64_t kMaxWireMs = 1'000'000'000'000'000;
int64_t wire_ms(uint64_t v) { return int64_t(std::min<uint64_t>(v, kMaxWireMs)); }
int64_t wire_sec_ms(uint64_t v) { return wire_ms(std::min<uint64_t>(v, kMaxWireMs / 1000) * 1000); }

TimeMs ntp_ms(uint64_t v) {
  int64_t sec = int64_t(v >> 32) - kNtpToUnix;
  return sec * 1000 + int64_t(((v & 0xFFFFFFFFu) * 1000) >> 32);
}

uint32_t rate_lookup(const ScopeState* st, bool has_id, uint64_t id) {
  if (!st || st->rates.empty()) return 0;
  if (has_id) {
    auto it = st->rates.find(id);
    if (it != st->rates.end()) return it->second;
  }
  auto it = st->rates.find(0);
  return it == st->rates.end() ? 0 : it->second;
}

// Start and end of the flow, from whichever time elements the template has.
void set_times(const MsgContext& ctx, uint64_t m, const Values& x, const ScopeState* st, FlowRecord& r) {
  constexpr int64_t kNone = std::numeric_limits<int64_t>::min();
  int64_t start = kNone, end = kNone;
  // Absolute times; a zero value means "not set" in practice.
  if (has(m, kStartMsT) && x[kStartMsT])
    start = wire_ms(x[kStartMsT]);
  else if (has(m, kStartUsT) && x[kStartUsT])
    start = ntp_ms(x[kStartUsT]);
  else if (has(m, kStartNsT) && x[kStartNsT])
    start = ntp_ms(x[kStartNsT]);
  else if (has(m, kStartSecT) && x[kStartSecT])
    start = wire_sec_ms(x[kStartSecT]);
  else if (has(m, kStartDeltaUsT))
    start = ctx.export_ms - wire_ms(x[kStartDeltaUsT] / 1000);
  if (has(m, kEndMsT) && x[kEndMsT])
    end = wire_ms(x[kEndMsT]);
  else if (has(m, kEndUsT) && x[kEndUsT])
    end = ntp_ms(x[kEndUsT]);
  else if (has(m, kEndNsT) && x[kEndNsT])
    end = ntp_ms(x[kEndNsT]);
  else if (has(m, kEndSecT) && x[kEndSecT])
    end = wire_sec_ms(x[kEndSecT]);
  else if (has(m, kEndDeltaUsT))
    end = ctx.export_ms - wire_ms(x[kEndDeltaUsT] / 1000);

  // Uptime-relative times (NetFlow v9 FIRST/LAST_SWITCHED, IPFIX flowStart/EndSysUpTime).
  bool first = has(m, kFirstSwitchedT), last = has(m, kLastSwitchedT);
  if ((first && start == kNone) || (last && end == kNone)) {
    uint32_t f = uint32_t(x[kFirstSwitchedT]), l = uint32_t(x[kLastSwitchedT]);
    if (ctx.version == 9) {
      // Signed 32-bit difference to the header's sysuptime survives wrap-around.
      if (first && start == kNone) start = ctx.export_ms - int32_t(ctx.sys_uptime - f);
      if (last && end == kNone) end = ctx.export_ms - int32_t(ctx.sys_uptime - l);
    } else {
      int64_t init = has(m, kSystemInitMsT) ? wire_ms(x[kSystemInitMsT]) : (st ? std::min(st->system_init_ms, kMaxWireMs) : -1);
      if (init >= 0) {
        if (first && start == kNone) start = init + f;
        if (last && end == kNone) end = init + l;
      } else {
        // No systemInitTimeMilliseconds known: anchor the flow's end at the
        // export time and keep its duration (documented approximation).
        if (last && end == kNone) end = ctx.export_ms;
        if (first && start == kNone) start = (last ? end - int32_t(l - f) : ctx.export_ms);
      }
    }
  }
  int64_t dur = has(m, kDurationMsT)   ? wire_ms(x[kDurationMsT])
                : has(m, kDurationUsT) ? wire_ms(x[kDurationUsT] / 1000)
                                       : kNone;
  if (dur != kNone) {
    if (start != kNone && end == kNone) end = start + dur;
    if (end != kNone && start == kNone) start = end - dur;
  }
  // Event records (e.g. NAT) carry only the observation time.
  if (start == kNone && end == kNone && has(m, kObservationMsT) && x[kObservationMsT])
    start = end = wire_ms(x[kObservationMsT]);
  if (start == kNone) start = end != kNone ? end : ctx.export_ms;
  if (end == kNone) end = start;
  r.start = start;
  r.end = end;
}

// What a record built from a sampled packet takes from the packet.
struct Section {
  IpAddr src, dst;
  uint32_t ip_len = 0;
  uint16_t sport = 0, dport = 0;
  uint8_t proto = 0, tcp_flags = 0, ip_version = 0;
  bool has_ports = false;
};

// dataLinkFrameSection (Ethernet) first, else ipHeaderPacketSection.
bool decode_section(uint64_t m, const Values& x, Section& s) {
  PacketInfo pkt;
  const char* err = "no packet section";
  if (has(m, kFrameSectionT)) err = decode_ethernet(x.p(kFrameSectionT), x.len(kFrameSectionT), pkt);
  if (err && has(m, kIpHeaderSectionT)) {
    pkt = PacketInfo{};
    err = decode_ip(x.p(kIpHeaderSectionT), x.len(kIpHeaderSectionT), pkt);
  }
  if (err) return false;
  s.src = pkt.src;
  s.dst = pkt.dst;
  s.ip_len = pkt.ip_len;
  s.sport = pkt.sport;
  s.dport = pkt.dport;
  s.proto = pkt.proto;
  s.tcp_flags = pkt.tcp_flags;
  s.ip_version = pkt.ip_version;
  s.has_ports = pkt.has_ports;
  return true;
}

uint16_t first_nonzero_port(uint64_t m, const Values& x, Target a, Target b, Target c) {
  if (has(m, a) && x[a]) return uint16_t(x[a]);
  if (has(m, b) && x[b]) return uint16_t(x[b]);
  if (has(m, c) && x[c]) return uint16_t(x[c]);
  return 0;
}

constexpr int kMaxListDepth = 4;

// One IPFIX variable-length prefix (RFC 7011 7) at p; false if it does not fit.
bool read_varlen(const uint8_t*& p, const uint8_t* end, size_t& len) {
  if (p >= end) return false;
  len = *p++;
  if (len == 255) {
    if (end - p < 2) return false;
    len = load_be16(p);
    p += 2;
  }
  return size_t(end - p) >= len;
}

bool valid_semantic(uint8_t s) {
  return s <= 4 || s == 0xFF;  // noneOf, exactlyOneOf, oneOrMoreOf, allOf, ordered, undefined
}

}  // namespace

// What the list-aware run needs besides the record.
struct NetflowDecoder::Impl::ListContext {
  const MsgContext& ctx;
  int depth = 0;
  uint64_t extra = 0;  // targets a basicList filled in this record
  uint64_t have = 0;   // targets the record's template has at top level
  bool use_values = true;  // basicList values go into the record (not in nested records)
};

// The program over one record, decoding IPFIX lists (RFC 6313) as it goes: a
// basicList whose element maps to a field the record lacks gives that field
// its first element; subTemplateList and subTemplateMultiList records are
// checked against their templates and counted. Malformed lists are counted
// and skipped; they never make the record undecodable, since their length is
// known from the template or their own length prefix.
size_t NetflowDecoder::Impl::run_with_lists(const Template& t, const uint8_t* p, size_t n, void* values,
                                            ListContext& lc) {
  Values& x = *static_cast<Values*>(values);
  const uint8_t* start = p;
  const uint8_t* end = p + n;
  for (const Op& op : t.ops) {
    size_t len = op.length;
    if (len == kVarLen) {
      if (!read_varlen(p, end, len)) return 0;
    } else if (size_t(end - p) < len) {
      return 0;
    }
    const uint8_t* v = p;
    p += len;
    if (op.target < kListBasic) {
      apply(op.target, v, len, x);
      continue;
    }
    if (lc.depth >= kMaxListDepth) {
      errors.add(lc.ctx.exporter, reason::kListTooDeep);
      continue;
    }
    if (len < 1 || !valid_semantic(v[0])) {
      errors.add(lc.ctx.exporter, reason::kListMalformed);
      continue;
    }
    const uint8_t* q = v + 1;
    const uint8_t* qe = v + len;
    if (op.target == kListBasic) {
      ++stats.basic_lists;
      // semantic, field id (enterprise bit), element length, [PEN], elements.
      if (qe - q < 4) {
        errors.add(lc.ctx.exporter, reason::kListMalformed);
        continue;
      }
      uint16_t id = load_be16(q), elen = load_be16(q + 2);
      q += 4;
      uint32_t pen = 0;
      if (id & 0x8000) {
        if (qe - q < 4) {
          errors.add(lc.ctx.exporter, reason::kListMalformed);
          continue;
        }
        pen = load_be32(q);
        q += 4;
        id &= 0x7FFF;
      }
      // The elements must fill the list exactly.
      const uint8_t* first = nullptr;
      size_t first_len = 0, count = 0;
      bool ok = true;
      for (const uint8_t* e = q; e < qe;) {
        size_t l = elen;
        if (elen == kVarLen) {
          if (!read_varlen(e, qe, l)) {
            ok = false;
            break;
          }
        } else if (elen == 0 || size_t(qe - e) < l) {
          ok = false;
          break;
        }
        if (count++ == 0) first = e, first_len = l;
        e += l;
      }
      if (!ok) {
        errors.add(lc.ctx.exporter, reason::kListMalformed);
        continue;
      }
      ElementInfo info = element_info(pen, id);
      if (!lc.use_values || !first || info.target == kSkip || info.kind == FieldKind::kList) continue;
      uint64_t b = bit(info.target);
      if ((lc.have | lc.extra) & b) continue;  // the record has it already
      bool fits = info.kind == FieldKind::kUint    ? first_len >= 1 && first_len <= 8
                  : info.kind == FieldKind::kAddr4 ? first_len == 4
                  : info.kind == FieldKind::kAddr6 ? first_len == 16
                                                   : true;
      if (!fits) continue;
      apply(info.target, first, first_len, x);
      lc.extra |= b;
      ++stats.list_values_used;
    } else if (op.target == kListSubTemplate) {
      ++stats.sub_template_lists;
      // semantic, template id, records.
      if (qe - q < 2) {
        errors.add(lc.ctx.exporter, reason::kListMalformed);
        continue;
      }
      uint16_t tid = load_be16(q);
      check_sub_records(lc, tid, q + 2, size_t(qe - q - 2));
    } else {
      ++stats.sub_template_multi_lists;
      // semantic, then (template id, length, records) blocks.
      while (q < qe) {
        if (qe - q < 4) {
          errors.add(lc.ctx.exporter, reason::kListMalformed);
          break;
        }
        uint16_t tid = load_be16(q), blen = load_be16(q + 2);
        if (blen < 4 || blen > qe - q) {
          errors.add(lc.ctx.exporter, reason::kListMalformed);
          break;
        }
        check_sub_records(lc, tid, q + 4, blen - 4u);
        q += blen;
      }
    }
  }
  return size_t(p - start);
}

void NetflowDecoder::Impl::check_sub_records(ListContext& lc, uint16_t tmpl_id, const uint8_t* p, size_t n) {
  if (n == 0) return;  // an empty list needs no template
  const Template* t = tmpl_id >= 256 ? templates.find(TemplateKey{lc.ctx.scope(), tmpl_id}) : nullptr;
  if (!t) {
    errors.add(lc.ctx.exporter, reason::kListUnknownTemplate);
    return;
  }
  ListContext inner{lc.ctx, lc.depth + 1, 0, 0, false};
  Values scratch;
  size_t off = 0;
  while (off < n) {
    size_t used = t->has_lists ? run_with_lists(*t, p + off, n - off, &scratch, inner) : run(*t, p + off, n - off, scratch);
    if (used == 0) {
      errors.add(lc.ctx.exporter, reason::kListMalformed);
      return;
    }
    off += used;
    ++stats.list_records;
  }
}

void NetflowDecoder::Impl::data_records(const MsgContext& ctx, const Template& t, const uint8_t* p, size_t n,
                                        FlowSink& sink) {
  Values x;
  uint64_t m = t.mask;
  size_t off = 0;
  ListContext lc{ctx, 0, 0, t.mask, true};
  auto run_record = [&](size_t at) {
    if (!t.has_lists) return run(t, p + at, n - at, x);
    lc.extra = 0;
    size_t used = run_with_lists(t, p + at, n - at, &x, lc);
    m = t.mask | lc.extra;
    return used;
  };

  if (t.options) {
    while (n - off >= t.min_length) {
      size_t used = run_record(off);
      if (used == 0) {
        if (!std::all_of(p + off, p + n, [](uint8_t c) { return c == 0; }))
          errors.add(ctx.exporter, reason::kRecordPastSetEnd);
        return;
      }
      off += used;
      ++stats.options_records;
      uint64_t rate = (m & kSamplingMask) ? rate_from(m, x) : 0;
      bool init = has(m, kSystemInitMsT);
      if (!rate && !init) continue;
      ScopeState* st = scope_state(ctx, true);
      if (!st) continue;
      if (rate) {
        uint64_t id = has(m, kSamplerIdT) ? x[kSamplerIdT] : 0;
        // A scope has a handful of samplers; refuse to grow without bound on hostile input.
        if (st->rates.size() < 4096 || st->rates.contains(id)) {
          uint32_t& slot = st->rates[id];
          uint32_t v = clamp_rate(rate);
          if (slot != v && exchange) exchange->set_rate(origin, ctx.scope(), id, v);
          slot = v;
        }
      }
      if (init) {
        int64_t v = int64_t(std::min<uint64_t>(x[kSystemInitMsT], INT64_MAX));
        if (st->system_init_ms != v && exchange) exchange->set_init(origin, ctx.scope(), v);
        st->system_init_ms = v;
      }
    }
    return;
  }

  // Per-set constants.
  const ScopeState* st = find_scope(ctx.scope());
  // Per-set constants (per record when a basicList adds fields).
  bool own_rate = (m & kSamplingMask) != 0;
  bool has_sampler = has(m, kSamplerIdT);
  const uint32_t set_rate = (own_rate || has_sampler) ? 0 : rate_lookup(st, false, 0);
  bool has4 = (m & (bit(kSrc4) | bit(kDst4))) != 0;
  bool has6 = (m & (bit(kSrc6) | bit(kDst6))) != 0;
  bool reverse = (m & (bit(kRevBytes) | bit(kRevPackets))) != 0;

  FlowRecord r;
  r.exporter = ctx.exporter;
  Section pkt;  // only for records built from a sampled packet
  while (n - off >= t.min_length) {
    size_t used = run_record(off);
    if (used == 0) {
      if (!std::all_of(p + off, p + n, [](uint8_t c) { return c == 0; }))
        errors.add(ctx.exporter, reason::kRecordPastSetEnd);
      return;
    }
    off += used;
    if (t.has_lists) {
      own_rate = (m & kSamplingMask) != 0;
      has_sampler = has(m, kSamplerIdT);
      has4 = (m & (bit(kSrc4) | bit(kDst4))) != 0;
      has6 = (m & (bit(kSrc6) | bit(kDst6))) != 0;
      reverse = (m & (bit(kRevBytes) | bit(kRevPackets))) != 0;
    }
    if (!t.is_flow && !(t.has_lists && (m & (kAddrMask | kSectionMask)))) {
      ++stats.non_flow_records;
      continue;
    }

    // Addresses: from the address elements, or from a sampled packet's headers.
    bool from_section = false;
    if (has4 || has6) {
      bool use6 = has6;
      if (has4 && has6) {
        if (has(m, kIpVersionT)) {
          use6 = x[kIpVersionT] == 6;
        } else {
          // Cisco templates often carry both families; the unused one is zero.
          auto zero = [&](Target a) {
            return !has(m, a) || std::all_of(x.p(a), x.p(a) + x.len(a), [](uint8_t c) { return c == 0; });
          };
          use6 = zero(kSrc4) && zero(kDst4) && !(zero(kSrc6) && zero(kDst6));
        }
      }
      if (use6) {
        r.src = has(m, kSrc6) ? IpAddr::v6_bytes(x.p(kSrc6)) : IpAddr{};
        r.dst = has(m, kDst6) ? IpAddr::v6_bytes(x.p(kDst6)) : IpAddr{};
        r.ip_version = 6;
      } else {
        r.src = has(m, kSrc4) ? IpAddr::v4_bytes(x.p(kSrc4)) : IpAddr::v4(0);
        r.dst = has(m, kDst4) ? IpAddr::v4_bytes(x.p(kDst4)) : IpAddr::v4(0);
        r.ip_version = 4;
      }
    } else {
      if (!decode_section(m, x, pkt)) {
        errors.add(ctx.exporter, reason::kSectionUndecodable);
        continue;
      }
      from_section = true;
      r.src = pkt.src;
      r.dst = pkt.dst;
      r.ip_version = pkt.ip_version;
    }

    r.proto = has(m, kProto) ? uint8_t(x[kProto]) : (from_section ? pkt.proto : 0);
    r.sport = first_nonzero_port(m, x, kSport, kUdpSport, kTcpSport);
    r.dport = first_nonzero_port(m, x, kDport, kUdpDport, kTcpDport);
    if (from_section && pkt.has_ports && !r.sport && !r.dport) {
      r.sport = pkt.sport;
      r.dport = pkt.dport;
    }
    if ((r.proto == 1 || r.proto == 58) && r.sport == 0 && r.dport == 0) {
      // ICMP type/code in the destination port, the NetFlow convention.
      if (has(m, kIcmpTypeCode))
        r.dport = uint16_t(x[kIcmpTypeCode]);
      else if (has(m, kIcmpType))
        r.dport = uint16_t(((x[kIcmpType] & 0xFF) << 8) | (has(m, kIcmpCode) ? (x[kIcmpCode] & 0xFF) : 0));
    }
    r.tcp_flags = has(m, kTcpFlagsT) ? uint8_t(x[kTcpFlagsT]) : (from_section ? pkt.tcp_flags : 0);

    if (has(m, kBytes))
      r.bytes = x[kBytes];
    else if (has(m, kBytesTotal))
      r.bytes = x[kBytesTotal];
    else if (has(m, kOutBytesT))
      r.bytes = x[kOutBytesT];
    else
      r.bytes = from_section ? pkt.ip_len : 0;
    if (has(m, kPackets))
      r.packets = x[kPackets];
    else if (has(m, kPacketsTotal))
      r.packets = x[kPacketsTotal];
    else if (has(m, kOutPacketsT))
      r.packets = x[kOutPacketsT];
    else
      r.packets = from_section ? 1 : 0;

    r.in_if = has(m, kInIfT) ? uint32_t(x[kInIfT]) : has(m, kInPhysIfT) ? uint32_t(x[kInPhysIfT]) : 0;
    r.out_if = has(m, kOutIfT) ? uint32_t(x[kOutIfT]) : has(m, kOutPhysIfT) ? uint32_t(x[kOutPhysIfT]) : 0;
    r.src_as = has(m, kSrcAsT) ? uint32_t(x[kSrcAsT]) : 0;
    r.dst_as = has(m, kDstAsT) ? uint32_t(x[kDstAsT]) : 0;

    uint64_t rate = own_rate ? rate_from(m, x) : 0;
    if (!rate)
      rate = has_sampler ? rate_lookup(st, true, x[kSamplerIdT]) : own_rate ? rate_lookup(st, false, 0) : set_rate;
    r.sampling_rate = clamp_rate(rate);

    set_times(ctx, m, x, st, r);
    sink.on_flow(r);
    ++stats.records;

    if (reverse) {
      // RFC 5103 biflow: the reverse direction's counters, as its own record.
      uint64_t rb = has(m, kRevBytes) ? x[kRevBytes] : 0;
      uint64_t rp = has(m, kRevPackets) ? x[kRevPackets] : 0;
      if (rb || rp) {
        FlowRecord rr = r;
        std::swap(rr.src, rr.dst);
        std::swap(rr.sport, rr.dport);
        std::swap(rr.in_if, rr.out_if);
        std::swap(rr.src_as, rr.dst_as);
        if ((rr.proto == 1 || rr.proto == 58)) rr.sport = rr.dport = 0;
        rr.bytes = rb;
        rr.packets = rp;
        rr.tcp_flags = has(m, kRevTcpFlags) ? uint8_t(x[kRevTcpFlags]) : 0;
        sink.on_flow(rr);
        ++stats.records;
        ++stats.reverse_records;
      }
    }
  }
}

}  // namespace omamori
