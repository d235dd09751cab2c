// dnstap (https://dnstap.info): protobuf "dnstap.Dnstap" payloads carried in
// Frame Streams, as Unbound, BIND, Knot and dnsdist write them to files and
// sockets.
//
// - DnstapDecoder turns one data frame into a DnsEvent: the protobuf is decoded
//   with protobuf-c into a reused arena (no allocation per frame once warm), and
//   the wire-format DNS message inside with parse_dns_message. client is
//   query_address/query_port, resolver is response_address/response_port, for
//   every message type (for RESOLVER_* and FORWARDER_* messages the "client" is
//   therefore the resolver itself; DnsEvent::dnstap_type tells them apart).
// - parse_frames is the Frame Streams framing (data frames and control frames),
//   used by the socket listener; files are read with libfstrm (read_dnstap_file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/counters.hpp"
#include "ingest/dns/event.hpp"
#include "ingest/dns/wire.hpp"

namespace omamori {

namespace fstrm_proto {
inline constexpr uint32_t kAccept = 1, kStart = 2, kStop = 3, kReady = 4, kFinish = 5;
inline constexpr uint32_t kFieldContentType = 1;
inline constexpr size_t kMaxControlFrame = 512;
inline constexpr std::string_view kDnstapContentType = "protobuf:dnstap.Dnstap";
}  // namespace fstrm_proto

// dnstap Message.Type mnemonics ("CLIENT_QUERY", ...); "UNKNOWN" outside 1..14.
const char* dnstap_type_name(uint8_t type);
// Two-letter forms as dnstap-read prints them ("CQ", "CR", "RQ", ...).
const char* dnstap_type_short(uint8_t type);

struct DnstapStats {
  uint64_t frames = 0;
  uint64_t events = 0;
  uint64_t by_type[15] = {};  // index = Message.Type
};

class DnstapDecoder {
 public:
  DnstapDecoder();
  ~DnstapDecoder();
  DnstapDecoder(const DnstapDecoder&) = delete;
  DnstapDecoder& operator=(const DnstapDecoder&) = delete;

  // Decodes one Frame Streams data frame; calls sink.on_dns when it holds a DNS
  // message. Returns true if an event was delivered.
  bool decode(const uint8_t* p, size_t n, DnsSink& sink);

  const ReasonCounters& errors() const { return errors_; }
  ReasonCounters& errors() { return errors_; }
  const DnstapStats& stats() const { return stats_; }
  const DnsWireStats& wire_stats() const { return wire_; }
  // Identity string of the last frame that carried one (e.g. the resolver's name).
  const std::string& identity() const { return identity_; }

 private:
  struct Arena;
  std::unique_ptr<Arena> arena_;
  DnsEvent ev_;
  ReasonCounters errors_;
  DnstapStats stats_;
  DnsWireStats wire_;
  std::string identity_;
};

// Frame Streams framing.
class FrameHandler {
 public:
  virtual ~FrameHandler() = default;
  virtual void on_data(const uint8_t* p, size_t n) = 0;
  // A control frame with the content types it names (at most 8 are reported).
  virtual void on_control(uint32_t type, const std::string_view* content_types, size_t n) = 0;
};

// Parses every complete frame in [p, p+n), calling h for each. Returns the bytes
// consumed (the rest is an incomplete frame: keep it and call again with more).
// On a framing error sets err to a static reason and returns the offset of the
// bad frame; the stream cannot continue.
size_t parse_frames(const uint8_t* p, size_t n, size_t max_frame, FrameHandler& h, const char*& err);

// Encodes a control frame (escape, length, type, optional content type) into out;
// returns its size (at most 12 + 8 + content_type.size()).
size_t encode_control_frame(uint32_t type, std::string_view content_type, uint8_t* out, size_t cap);

// Reads a Frame Streams file of dnstap data with libfstrm. Returns false with err
// set when the file cannot be opened or is not a dnstap Frame Streams file; a
// file cut short after some frames counts "dnstap file truncated" and returns true.
bool read_dnstap_file(const std::string& path, DnstapDecoder& dec, DnsSink& sink, std::string& err);

}  // namespace omamori
