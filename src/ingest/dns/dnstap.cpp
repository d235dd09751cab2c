#include "ingest/dns/dnstap.hpp"

#include <fstrm.h>

#include <cstdlib>
#include <cstring>

#include "core/bytes.hpp"
#include "dnstap.pb-c.h"

namespace omamori {

namespace {
constexpr const char* kTypeNames[15] = {
    "UNKNOWN",       "AUTH_QUERY",      "AUTH_RESPONSE",   "RESOLVER_QUERY",     "RESOLVER_RESPONSE",
    "CLIENT_QUERY",  "CLIENT_RESPONSE", "FORWARDER_QUERY", "FORWARDER_RESPONSE", "STUB_QUERY",
    "STUB_RESPONSE", "TOOL_QUERY",      "TOOL_RESPONSE",   "UPDATE_QUERY",       "UPDATE_RESPONSE"};
constexpr const char* kTypeShort[15] = {"??", "AQ", "AR", "RQ", "RR", "CQ", "CR", "FQ",
                                        "FR", "SQ", "SR", "TQ", "TR", "UQ", "UR"};
}  // namespace

const char* dnstap_type_name(uint8_t type) {
  return type < 15 ? kTypeNames[type] : kTypeNames[0];
}
const char* dnstap_type_short(uint8_t type) {
  return type < 15 ? kTypeShort[type] : kTypeShort[0];
}

// A bump allocator for protobuf-c: every frame is unpacked into the same block,
// which is reset before the next frame. Only frames larger than the block fall
// back to malloc (released at the next reset).
struct DnstapDecoder::Arena {
  static constexpr size_t kBlock = 256 * 1024;
  std::unique_ptr<uint8_t[]> block{new uint8_t[kBlock]};
  size_t used = 0;
  std::vector<void*> spill;
  ProtobufCAllocator allocator{&Arena::alloc, &Arena::release, this};

  static void* alloc(void* self, size_t n) {
    auto* a = static_cast<Arena*>(self);
    size_t need = (n + 15) & ~size_t{15};
    if (need <= kBlock - a->used) {
      void* p = a->block.get() + a->used;
      a->used += need;
      return p;
    }
    void* p = std::malloc(n ? n : 1);
    if (p) a->spill.push_back(p);
    return p;
  }
  static void release(void*, void*) {}  // everything goes at reset()
  void reset() {
    used = 0;
    for (void* p : spill) std::free(p);
    spill.clear();
  }
  ~Arena() { reset(); }
};

DnstapDecoder::DnstapDecoder() : arena_(std::make_unique<Arena>()) {}
DnstapDecoder::~DnstapDecoder() = default;

namespace {
bool address_from(const ProtobufCBinaryData& b, IpAddr& out) {
  if (b.len == 4) {
    out = IpAddr::v4_bytes(b.data);
    return true;
  }
  if (b.len == 16) {
    out = IpAddr::v6_bytes(b.data);
    return true;
  }
  return false;
}
// Seconds beyond year 5000 are not a real time (0 = unknown, counted by the caller).
TimeMs to_ms(uint64_t sec, uint32_t nsec) {
  if (sec > 100000000000ULL) return 0;
  return static_cast<TimeMs>(sec) * 1000 + static_cast<TimeMs>(nsec / 1000000);
}
// protobuf-c stores enum fields unchecked: read them as the int they are.
template <typename E>
int enum_value(const E& e) {
  static_assert(sizeof(E) == sizeof(int));
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}
}  // namespace

bool DnstapDecoder::decode(const uint8_t* p, size_t n, DnsSink& sink) {
  ++stats_.frames;
  arena_->reset();
  Dnstap__Dnstap* d = dnstap__dnstap__unpack(&arena_->allocator, n, p);
  if (!d) {
    errors_.add("dnstap protobuf undecodable");
    return false;
  }
  if (d->has_identity && d->identity.len > 0 &&
      std::string_view(reinterpret_cast<const char*>(d->identity.data), d->identity.len) != identity_)
    identity_.assign(reinterpret_cast<const char*>(d->identity.data), std::min<size_t>(d->identity.len, 255));
  if (enum_value(d->type) != DNSTAP__DNSTAP__TYPE__MESSAGE || !d->message) {
    errors_.add("dnstap frame without message");
    return false;
  }
  const Dnstap__Message* m = d->message;
  int type = enum_value(m->type);
  if (type < 1 || type > 14) {
    errors_.add("dnstap unknown message type");
    return false;
  }
  ++stats_.by_type[type];
  bool query = (type % 2) == 1;
  const ProtobufCBinaryData* wire = nullptr;
  if (query && m->has_query_message) wire = &m->query_message;
  if (!query && m->has_response_message) wire = &m->response_message;
  if (!wire || wire->len == 0) {
    errors_.add("dnstap message without dns payload");
    return false;
  }
  ev_.clear();
  IpAddr qa, ra;
  bool have_qa = m->has_query_address && address_from(m->query_address, qa);
  bool have_ra = m->has_response_address && address_from(m->response_address, ra);
  if ((m->has_query_address && !have_qa) || (m->has_response_address && !have_ra))
    errors_.add("dnstap bad address length");
  const IpAddr* src = have_qa ? &qa : nullptr;
  DnsParse r = parse_dns_message(wire->data, wire->len, ev_, errors_, &wire_, src);
  if (r == DnsParse::Failed) return false;
  ev_.client = qa;
  ev_.resolver = ra;
  ev_.client_port = m->has_query_port ? static_cast<uint16_t>(m->query_port) : 0;
  ev_.resolver_port = m->has_response_port ? static_cast<uint16_t>(m->response_port) : 0;
  if (!query && m->has_response_time_sec)
    ev_.time = to_ms(m->response_time_sec, m->has_response_time_nsec ? m->response_time_nsec : 0);
  else if (m->has_query_time_sec)
    ev_.time = to_ms(m->query_time_sec, m->has_query_time_nsec ? m->query_time_nsec : 0);
  else if (m->has_response_time_sec)
    ev_.time = to_ms(m->response_time_sec, m->has_response_time_nsec ? m->response_time_nsec : 0);
  if (ev_.time == 0) errors_.add("dnstap message without a valid time");
  int proto = m->has_socket_protocol ? enum_value(m->socket_protocol) : 0;
  if (proto >= 1 && proto <= 7) ev_.transport = static_cast<DnsTransport>(proto);
  ev_.source = DnsSource::Dnstap;
  ev_.dnstap_type = static_cast<uint8_t>(type);
  ++stats_.events;
  sink.on_dns(ev_);
  return true;
}

size_t parse_frames(const uint8_t* p, size_t n, size_t max_frame, FrameHandler& h, const char*& err) {
  err = nullptr;
  size_t off = 0;
  while (n - off >= 4) {
    uint32_t len = load_be32(p + off);
    if (len != 0) {
      if (len > max_frame) {
        err = "frame streams data frame too large";
        return off;
      }
      if (n - off - 4 < len) break;
      h.on_data(p + off + 4, len);
      off += 4 + size_t{len};
      continue;
    }
    if (n - off < 8) break;
    uint32_t clen = load_be32(p + off + 4);
    if (clen < 4 || clen > fstrm_proto::kMaxControlFrame) {
      err = "frame streams bad control frame length";
      return off;
    }
    if (n - off - 8 < clen) break;
    ByteReader r(p + off + 8, clen);
    uint32_t type = r.u32();
    std::string_view cts[8];
    size_t nct = 0;
    while (r.remaining() > 0) {
      uint32_t ftype = r.u32();
      uint32_t flen = r.u32();
      const uint8_t* f = r.bytes(flen);
      if (r.failed()) {
        err = "frame streams bad control field";
        return off;
      }
      if (ftype == fstrm_proto::kFieldContentType && nct < 8)
        cts[nct++] = std::string_view(reinterpret_cast<const char*>(f), flen);
    }
    h.on_control(type, cts, nct);
    off += 8 + size_t{clen};
  }
  return off;
}

size_t encode_control_frame(uint32_t type, std::string_view content_type, uint8_t* out, size_t cap) {
  size_t body = 4 + (content_type.empty() ? 0 : 8 + content_type.size());
  size_t total = 8 + body;
  if (total > cap) return 0;
  auto put32 = [&](size_t at, uint32_t v) {
    out[at] = static_cast<uint8_t>(v >> 24);
    out[at + 1] = static_cast<uint8_t>(v >> 16);
    out[at + 2] = static_cast<uint8_t>(v >> 8);
    out[at + 3] = static_cast<uint8_t>(v);
  };
  put32(0, 0);
  put32(4, static_cast<uint32_t>(body));
  put32(8, type);
  if (!content_type.empty()) {
    put32(12, fstrm_proto::kFieldContentType);
    put32(16, static_cast<uint32_t>(content_type.size()));
    std::memcpy(out + 20, content_type.data(), content_type.size());
  }
  return total;
}

bool read_dnstap_file(const std::string& path, DnstapDecoder& dec, DnsSink& sink, std::string& err) {
  fstrm_file_options* fopt = fstrm_file_options_init();
  fstrm_file_options_set_file_path(fopt, path.c_str());
  fstrm_reader_options* ropt = fstrm_reader_options_init();
  fstrm_reader_options_add_content_type(ropt, fstrm_proto::kDnstapContentType.data(),
                                        fstrm_proto::kDnstapContentType.size());
  fstrm_reader* r = fstrm_file_reader_init(fopt, ropt);
  fstrm_file_options_destroy(&fopt);
  fstrm_reader_options_destroy(&ropt);
  if (!r) {
    err = path + ": cannot open";
    return false;
  }
  bool ok = true;
  if (fstrm_reader_open(r) != fstrm_res_success) {
    err = path + ": not a Frame Streams file with content type protobuf:dnstap.Dnstap";
    ok = false;
  } else {
    for (;;) {
      const uint8_t* data = nullptr;
      size_t len = 0;
      fstrm_res res = fstrm_reader_read(r, &data, &len);
      if (res == fstrm_res_success) {
        dec.decode(data, len, sink);
      } else if (res == fstrm_res_stop) {
        break;
      } else {
        // libfstrm reports a cut-off file and a damaged frame alike.
        dec.errors().add("dnstap file truncated or damaged");
        break;
      }
    }
  }
  fstrm_reader_destroy(&r);
  return ok;
}

}  // namespace omamori
