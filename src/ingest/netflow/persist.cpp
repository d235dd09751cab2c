// Saving and loading the template state (templates, sampling rates, system
// init times) so that a restarted collector decodes data at once.
//
// File format, all integers big-endian:
//   "OMNFTPL\0"  magic (8 bytes)
//   u32          format version (1)
//   u32          template count, then per template:
//                  exporter (16 bytes, IPv4 as ::ffff:a.b.c.d), u32 domain, u8 netflow version (9|10),
//                  u16 template id, u8 options, u16 scope field count, u16 field count,
//                  field count x (u16 element id, u16 length, u32 enterprise number)
//   u32          scope count, then per scope:
//                  exporter (16), u32 domain, u8 version, i64 system init ms (-1 unknown),
//                  u32 rate count, rate count x (u64 sampler id, u32 rate)
//   u64          XXH64 (seed 0) of every byte before it
// Written to "<path>.tmp.<pid>", fsync'ed, then renamed over <path>.
#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "ingest/netflow/exchange.hpp"
#include "ingest/netflow/impl.hpp"

namespace omamori {

using netflow::FieldSpec;
using netflow::ScopeKey;
using netflow::ScopeState;
using netflow::Template;
using netflow::TemplateKey;

namespace {
constexpr char kMagic[8] = {'O', 'M', 'N', 'F', 'T', 'P', 'L', '\0'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kMaxFileSize = 256u << 20;

struct Writer {
  std::string b;
  void u8(uint8_t v) { b.push_back(char(v)); }
  void u16(uint16_t v) {
    u8(uint8_t(v >> 8));
    u8(uint8_t(v));
  }
  void u32(uint32_t v) {
    u16(uint16_t(v >> 16));
    u16(uint16_t(v));
  }
  void u64(uint64_t v) {
    u32(uint32_t(v >> 32));
    u32(uint32_t(v));
  }
  void addr(const IpAddr& a) { b.append(reinterpret_cast<const char*>(a.bytes()), 16); }
  void scope(const ScopeKey& s) {
    addr(s.exporter);
    u32(s.domain);
    u8(s.version);
  }
};

std::string sys_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

bool write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t w = ::write(fd, data.data() + off, data.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += size_t(w);
  }
  return true;
}

bool read_scope(ByteReader& r, ScopeKey& s) {
  const uint8_t* a = r.bytes(16);
  if (!a) return false;
  s.exporter = IpAddr::v6_bytes(a);
  s.domain = r.u32();
  s.version = r.u8();
  return r.ok() && (s.version == 9 || s.version == 10);
}
}  // namespace

bool NetflowDecoder::save_templates(const std::string& path, std::string& err) const {
  const Impl& m = *impl_;
  Writer w;
  w.b.append(kMagic, sizeof kMagic);
  w.u32(kFormatVersion);
  w.u32(uint32_t(m.templates.size()));
  m.templates.for_each([&](const TemplateKey& k, const Template& t) {
    w.scope(k.scope);
    w.u16(k.id);
    w.u8(t.options ? 1 : 0);
    w.u16(t.scope_count);
    w.u16(uint16_t(t.fields.size()));
    for (const auto& f : t.fields) {
      w.u16(f.id);
      w.u16(f.length);
      w.u32(f.pen);
    }
  });
  w.u32(uint32_t(m.scopes.size()));
  for (const auto& [k, s] : m.scopes) {
    w.scope(k);
    w.u64(uint64_t(s.system_init_ms));
    w.u32(uint32_t(s.rates.size()));
    for (const auto& [id, rate] : s.rates) {
      w.u64(id);
      w.u32(rate);
    }
  }
  w.u64(XXH64(w.b.data(), w.b.size(), 0));

  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    err = sys_error("cannot create", tmp);
    return false;
  }
  if (!write_all(fd, w.b) || ::fsync(fd) != 0) {
    err = sys_error("cannot write", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  }
  if (::close(fd) != 0) {
    err = sys_error("cannot close", tmp);
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = sys_error("cannot rename to", path);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

bool NetflowDecoder::load_templates(const std::string& path, std::string& err) {
  Impl& m = *impl_;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    err = sys_error("cannot open", path);
    return false;
  }
  std::vector<uint8_t> data;
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    if (data.size() + n > kMaxFileSize) {
      std::fclose(f);
      err = path + ": template file larger than " + std::to_string(kMaxFileSize >> 20) + " MiB";
      return false;
    }
    data.insert(data.end(), buf, buf + n);
  }
  bool read_err = std::ferror(f);
  std::fclose(f);
  if (read_err) {
    err = sys_error("cannot read", path);
    return false;
  }
  auto bad = [&](const char* what, size_t off) {
    err = path + ": corrupt template file (" + what + " at offset " + std::to_string(off) + ")";
    return false;
  };
  if (data.size() < sizeof kMagic + 4 + 4 + 4 + 8 || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0)
    return bad("bad magic or too short", 0);
  size_t body = data.size() - 8;
  if (XXH64(data.data(), body, 0) != load_be64(data.data() + body)) return bad("checksum mismatch", body);
  ByteReader r(data.data(), body);
  r.skip(sizeof kMagic);
  uint32_t version = r.u32();
  if (version != kFormatVersion) {
    err = path + ": template file format version " + std::to_string(version) + " not supported (expected " +
          std::to_string(kFormatVersion) + ")";
    return false;
  }

  // Parse and compile everything first; the decoder changes only if the whole file is sound.
  std::vector<std::pair<TemplateKey, std::unique_ptr<Template>>> tpls;
  uint32_t ntpl = r.u32();
  if (ntpl > r.remaining() / 28) return bad("template count", r.offset());
  tpls.reserve(ntpl);
  for (uint32_t i = 0; i < ntpl; ++i) {
    TemplateKey k;
    if (!read_scope(r, k.scope)) return bad("template scope", r.offset());
    k.id = r.u16();
    auto t = std::make_unique<Template>();
    uint8_t options = r.u8();
    t->options = options == 1;
    t->scope_count = r.u16();
    uint16_t nf = r.u16();
    if (r.failed() || options > 1 || k.id < 256 || size_t(nf) * 8 > r.remaining()) return bad("template", r.offset());
    t->fields.resize(nf);
    for (auto& fs : t->fields) {
      fs.id = r.u16();
      fs.length = r.u16();
      fs.pen = r.u32();
    }
    if (r.failed()) return bad("template fields", r.offset());
    netflow::CompileResult cr = netflow::compile_template(*t, k.scope.version);
    if (cr.error) return bad(cr.error, r.offset());
    tpls.emplace_back(k, std::move(t));
  }
  std::vector<std::pair<ScopeKey, ScopeState>> scopes;
  uint32_t nscope = r.u32();
  if (nscope > r.remaining() / 33) return bad("scope count", r.offset());
  for (uint32_t i = 0; i < nscope; ++i) {
    ScopeKey k;
    if (!read_scope(r, k)) return bad("scope", r.offset());
    ScopeState s;
    s.system_init_ms = int64_t(r.u64());
    uint32_t nr = r.u32();
    if (r.failed() || s.system_init_ms < -1 || size_t(nr) * 12 > r.remaining()) return bad("scope state", r.offset());
    for (uint32_t j = 0; j < nr; ++j) {
      uint64_t id = r.u64();
      uint32_t rate = r.u32();
      if (rate == 0) return bad("zero sampling rate", r.offset());
      s.rates[id] = rate;
    }
    scopes.emplace_back(k, std::move(s));
  }
  if (r.failed() || r.remaining() != 0) return bad("length", r.offset());

  size_t added = 0;
  for (const auto& [k, t] : tpls)
    if (!m.templates.find(k)) ++added;
  if (m.templates.size() + added > m.cfg.max_templates) {
    err = path + ": " + std::to_string(tpls.size()) + " templates exceed the configured limit";
    return false;
  }
  for (auto& [k, t] : tpls) {
    m.templates.put(k, std::move(t));
    m.publish_template(k, Template::kNeverRefreshed);
  }
  for (auto& [k, s] : scopes) {
    if (m.scopes.size() >= m.cfg.max_scopes && !m.scopes.contains(k)) break;
    if (m.exchange) {
      for (const auto& [id, rate] : s.rates) m.exchange->set_rate(m.origin, k, id, rate);
      if (s.system_init_ms >= 0) m.exchange->set_init(m.origin, k, s.system_init_ms);
    }
    ++m.scopes_gen;
    m.scopes[k] = std::move(s);
  }
  return true;
}

}  // namespace omamori
