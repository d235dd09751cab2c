#include "ingest/netflow/templates.hpp"

#include "ingest/netflow/reasons.hpp"

namespace omamori::netflow {

namespace {
constexpr uint32_t kMaxSetPayload = 65535 - 4;  // a set length field is 16 bits, header included

bool length_fits(FieldKind kind, uint16_t len) {
  switch (kind) {
    case FieldKind::kUint:
      return len >= 1 && len <= 8;
    case FieldKind::kAddr4:
      return len == 4;
    case FieldKind::kAddr6:
      return len == 16;
    case FieldKind::kBytes:
    case FieldKind::kList:
      return true;
  }
  return false;
}
}  // namespace

CompileResult compile_template(Template& t, uint8_t version) {
  CompileResult res;
  t.ops.clear();
  t.mask = 0;
  t.min_length = 0;
  t.varlen = false;
  t.is_flow = false;
  t.has_lists = false;
  if (t.fields.empty()) {
    res.error = reason::kTemplateZeroFields;
    return res;
  }
  // IPFIX requires at least one scope field (RFC 7011 3.4.2.2); NetFlow v9 is lenient.
  if (t.options && (t.scope_count > t.fields.size() || (version == 10 && t.scope_count == 0))) {
    res.error = reason::kOptionsBadScope;
    return res;
  }
  t.ops.reserve(t.fields.size());
  for (size_t i = 0; i < t.fields.size(); ++i) {
    const FieldSpec& f = t.fields[i];
    // NetFlow v9 options scope fields are scope types (system, interface...), not elements.
    bool v9_scope = t.options && version == 9 && i < t.scope_count;
    ElementInfo info = v9_scope ? ElementInfo{} : element_info(f.pen, f.id);
    Target target = info.target;
    uint16_t len = f.length;
    if (version == 10 && f.pen == 0 && f.id >= ie::kBasicList && f.id <= ie::kSubTemplateMultiList) {
      // Structured data (RFC 6313): decoded by the list-aware run.
      uint8_t marker = f.id == ie::kBasicList ? kListBasic
                       : f.id == ie::kSubTemplateList ? kListSubTemplate
                                                      : kListSubTemplateMulti;
      if (len == kVarLen) {
        t.varlen = true;
        t.min_length += 1;
      } else {
        t.min_length += len;
      }
      t.has_lists = true;
      t.ops.push_back(Op{len, marker});
      continue;
    }
    if (len == kVarLen && version == 10) {
      t.varlen = true;
      t.min_length += 1;
      if (target != kSkip && info.kind != FieldKind::kBytes) {
        res.warning = reason::kVarLenFixedElement;
        target = kSkip;
      }
    } else {
      t.min_length += len;
      if (target != kSkip && !length_fits(info.kind, len)) {
        res.warning = reason::kFieldLengthInvalid;
        target = kSkip;
      }
    }
    if (target == kSkip && len != kVarLen) {
      if (len == 0) continue;
      // Runs of ignored fixed-size fields collapse into one skip.
      if (!t.ops.empty() && t.ops.back().target == kSkip && t.ops.back().length != kVarLen &&
          uint32_t(t.ops.back().length) + len < kVarLen) {
        t.ops.back().length = static_cast<uint16_t>(t.ops.back().length + len);
        continue;
      }
    }
    t.ops.push_back(Op{len, static_cast<uint8_t>(target)});
    if (target != kSkip) t.mask |= bit(target);
  }
  if (t.min_length == 0) {
    res.error = reason::kTemplateZeroLength;
    t.ops.clear();
    return res;
  }
  if (t.min_length > kMaxSetPayload) {
    res.error = reason::kFieldLengthOverflow;
    t.ops.clear();
    return res;
  }
  t.is_flow = !t.options && (t.mask & (kAddrMask | kSectionMask)) != 0;
  return res;
}

TemplateStore::Put TemplateStore::put(const TemplateKey& k, std::unique_ptr<Template> t) {
  last_ = nullptr;
  auto [it, inserted] = map_.try_emplace(k);
  if (inserted) {
    it->second = std::move(t);
    ++per_exporter_[k.scope.exporter];
    return Put::kNew;
  }
  Template& old = *it->second;
  if (old.options == t->options && old.scope_count == t->scope_count && old.fields == t->fields) return Put::kRefresh;
  it->second = std::move(t);
  return Put::kReplaced;
}

bool TemplateStore::withdraw(const TemplateKey& k) {
  last_ = nullptr;
  auto it = map_.find(k);
  if (it == map_.end()) return false;
  map_.erase(it);
  auto pe = per_exporter_.find(k.scope.exporter);
  if (pe != per_exporter_.end() && --pe->second == 0) per_exporter_.erase(pe);
  return true;
}

std::vector<TemplateKey> TemplateStore::withdraw_all(const ScopeKey& s, bool options) {
  std::vector<TemplateKey> gone;
  for (const auto& [k, t] : map_)
    if (k.scope == s && t->options == options) gone.push_back(k);
  for (const auto& k : gone) withdraw(k);
  return gone;
}

}  // namespace omamori::netflow
