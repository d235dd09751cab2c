// Information elements the NetFlow v9 / IPFIX decoder understands, and the
// "targets" a template field is compiled to. Numbers are from RFC 3954
// section 8 and the IANA IPFIX registry (RFC 7011/7012, RFC 5103 for the
// reverse-direction enterprise number 29305).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"

namespace omamori::netflow {

// IANA information element ids (identical to the NetFlow v9 field types below 128).
namespace ie {
inline constexpr uint16_t kOctetDelta = 1, kPacketDelta = 2, kProtocol = 4, kTcpFlags = 6, kSrcPort = 7, kSrcAddr4 = 8,
                          kInIf = 10, kDstPort = 11, kDstAddr4 = 12, kOutIf = 14, kSrcAs = 16, kDstAs = 17,
                          kLastSwitched = 21, kFirstSwitched = 22, kOutBytes = 23, kOutPackets = 24, kSrcAddr6 = 27,
                          kDstAddr6 = 28, kIcmpTypeCode4 = 32, kSamplingInterval = 34, kSamplerId = 48,
                          kSamplerRandomInterval = 50, kIpVersion = 60, kOctetTotal = 85, kPacketTotal = 86,
                          kIcmpTypeCode6 = 139, kStartSec = 150, kEndSec = 151, kStartMs = 152, kEndMs = 153,
                          kStartUs = 154, kEndUs = 155, kStartNs = 156, kEndNs = 157, kStartDeltaUs = 158,
                          kEndDeltaUs = 159, kSystemInitMs = 160, kDurationMs = 161, kDurationUs = 162,
                          kIcmpType4 = 176, kIcmpCode4 = 177, kIcmpType6 = 178, kIcmpCode6 = 179, kUdpSrcPort = 180,
                          kUdpDstPort = 181, kTcpSrcPort = 182, kTcpDstPort = 183, kInPhysIf = 252, kOutPhysIf = 253,
                          kSelectorId = 302, kPacketInterval = 305, kPacketSpace = 306, kSamplingSize = 309,
                          kSamplingPopulation = 310, kFrameSize = 312, kObservationMs = 323, kIpHeaderSection = 313,
                          kFrameSection = 315, kBasicList = 291, kSubTemplateList = 292,
                          kSubTemplateMultiList = 293;
}  // namespace ie

inline constexpr uint32_t kReversePen = 29305;  // RFC 5103 reverse information elements
inline constexpr uint16_t kVarLen = 0xFFFF;     // IPFIX variable-length field marker

// What a template field is compiled to. Integer targets come first; from
// kFirstPtr on, the decoder keeps a pointer (and length) into the record.
enum Target : uint8_t {
  kSkip = 0,
  kProto,
  kTcpFlagsT,
  kSport,
  kDport,
  kUdpSport,
  kUdpDport,
  kTcpSport,
  kTcpDport,
  kIcmpTypeCode,
  kIcmpType,
  kIcmpCode,
  kBytes,
  kPackets,
  kBytesTotal,
  kPacketsTotal,
  kOutBytesT,
  kOutPacketsT,
  kInIfT,
  kOutIfT,
  kInPhysIfT,
  kOutPhysIfT,
  kSrcAsT,
  kDstAsT,
  kFirstSwitchedT,
  kLastSwitchedT,
  kStartSecT,
  kEndSecT,
  kStartMsT,
  kEndMsT,
  kStartUsT,
  kEndUsT,
  kStartNsT,
  kEndNsT,
  kStartDeltaUsT,
  kEndDeltaUsT,
  kDurationMsT,
  kDurationUsT,
  kSystemInitMsT,
  kObservationMsT,
  kSamplingIntervalT,
  kSamplerRandomIntervalT,
  kSamplerIdT,
  kPacketIntervalT,
  kPacketSpaceT,
  kSamplingSizeT,
  kSamplingPopulationT,
  kIpVersionT,
  kFrameSizeT,
  kRevBytes,
  kRevPackets,
  kRevTcpFlags,
  // pointer targets
  kFirstPtr,
  kSrc4 = kFirstPtr,
  kDst4,
  kSrc6,
  kDst6,
  kFrameSectionT,
  kIpHeaderSectionT,
  kTargetCount
};
static_assert(kTargetCount <= 64, "targets must fit a 64-bit mask");

// IPFIX structured data (RFC 6313): op targets beyond the Target range. Only
// templates with `has_lists` contain them; their records take the slower
// run that decodes lists (data_records.cpp).
inline constexpr uint8_t kListBasic = 0xF0, kListSubTemplate = 0xF1, kListSubTemplateMulti = 0xF2;

inline constexpr uint64_t bit(Target t) {
  return uint64_t{1} << t;
}

inline constexpr uint64_t kAddrMask = bit(kSrc4) | bit(kDst4) | bit(kSrc6) | bit(kDst6);
inline constexpr uint64_t kSectionMask = bit(kFrameSectionT) | bit(kIpHeaderSectionT);
inline constexpr uint64_t kSamplingMask = bit(kSamplingIntervalT) | bit(kSamplerRandomIntervalT) |
                                          bit(kPacketIntervalT) | bit(kPacketSpaceT) | bit(kSamplingSizeT) |
                                          bit(kSamplingPopulationT);

enum class FieldKind : uint8_t { kUint, kAddr4, kAddr6, kBytes, kList };

struct ElementInfo {
  Target target = kSkip;
  FieldKind kind = FieldKind::kBytes;
};

// Maps (enterprise number, element id) to a target. pen = 0 is IANA / NetFlow v9.
constexpr ElementInfo element_info(uint32_t pen, uint16_t id) {
  using K = FieldKind;
  if (pen == kReversePen) {
    switch (id) {
      case ie::kOctetDelta:
        return {kRevBytes, K::kUint};
      case ie::kPacketDelta:
        return {kRevPackets, K::kUint};
      case ie::kTcpFlags:
        return {kRevTcpFlags, K::kUint};
      default:
        return {};
    }
  }
  if (pen != 0) return {};
  switch (id) {
    case ie::kOctetDelta:
      return {kBytes, K::kUint};
    case ie::kPacketDelta:
      return {kPackets, K::kUint};
    case ie::kOctetTotal:
      return {kBytesTotal, K::kUint};
    case ie::kPacketTotal:
      return {kPacketsTotal, K::kUint};
    case ie::kOutBytes:
      return {kOutBytesT, K::kUint};
    case ie::kOutPackets:
      return {kOutPacketsT, K::kUint};
    case ie::kProtocol:
      return {kProto, K::kUint};
    case ie::kTcpFlags:
      return {kTcpFlagsT, K::kUint};
    case ie::kSrcPort:
      return {kSport, K::kUint};
    case ie::kDstPort:
      return {kDport, K::kUint};
    case ie::kUdpSrcPort:
      return {kUdpSport, K::kUint};
    case ie::kUdpDstPort:
      return {kUdpDport, K::kUint};
    case ie::kTcpSrcPort:
      return {kTcpSport, K::kUint};
    case ie::kTcpDstPort:
      return {kTcpDport, K::kUint};
    case ie::kIcmpTypeCode4:
    case ie::kIcmpTypeCode6:
      return {kIcmpTypeCode, K::kUint};
    case ie::kIcmpType4:
    case ie::kIcmpType6:
      return {kIcmpType, K::kUint};
    case ie::kIcmpCode4:
    case ie::kIcmpCode6:
      return {kIcmpCode, K::kUint};
    case ie::kSrcAddr4:
      return {kSrc4, K::kAddr4};
    case ie::kDstAddr4:
      return {kDst4, K::kAddr4};
    case ie::kSrcAddr6:
      return {kSrc6, K::kAddr6};
    case ie::kDstAddr6:
      return {kDst6, K::kAddr6};
    case ie::kInIf:
      return {kInIfT, K::kUint};
    case ie::kOutIf:
      return {kOutIfT, K::kUint};
    case ie::kInPhysIf:
      return {kInPhysIfT, K::kUint};
    case ie::kOutPhysIf:
      return {kOutPhysIfT, K::kUint};
    case ie::kSrcAs:
      return {kSrcAsT, K::kUint};
    case ie::kDstAs:
      return {kDstAsT, K::kUint};
    case ie::kFirstSwitched:
      return {kFirstSwitchedT, K::kUint};
    case ie::kLastSwitched:
      return {kLastSwitchedT, K::kUint};
    case ie::kStartSec:
      return {kStartSecT, K::kUint};
    case ie::kEndSec:
      return {kEndSecT, K::kUint};
    case ie::kStartMs:
      return {kStartMsT, K::kUint};
    case ie::kEndMs:
      return {kEndMsT, K::kUint};
    case ie::kStartUs:
      return {kStartUsT, K::kUint};
    case ie::kEndUs:
      return {kEndUsT, K::kUint};
    case ie::kStartNs:
      return {kStartNsT, K::kUint};
    case ie::kEndNs:
      return {kEndNsT, K::kUint};
    case ie::kStartDeltaUs:
      return {kStartDeltaUsT, K::kUint};
    case ie::kEndDeltaUs:
      return {kEndDeltaUsT, K::kUint};
    case ie::kDurationMs:
      return {kDurationMsT, K::kUint};
    case ie::kDurationUs:
      return {kDurationUsT, K::kUint};
    case ie::kSystemInitMs:
      return {kSystemInitMsT, K::kUint};
    case ie::kObservationMs:
      return {kObservationMsT, K::kUint};
    case ie::kSamplingInterval:
      return {kSamplingIntervalT, K::kUint};
    case ie::kSamplerRandomInterval:
      return {kSamplerRandomIntervalT, K::kUint};
    case ie::kSamplerId:
    case ie::kSelectorId:
      return {kSamplerIdT, K::kUint};
    case ie::kPacketInterval:
      return {kPacketIntervalT, K::kUint};
    case ie::kPacketSpace:
      return {kPacketSpaceT, K::kUint};
    case ie::kSamplingSize:
      return {kSamplingSizeT, K::kUint};
    case ie::kSamplingPopulation:
      return {kSamplingPopulationT, K::kUint};
    case ie::kIpVersion:
      return {kIpVersionT, K::kUint};
    case ie::kFrameSize:
      return {kFrameSizeT, K::kUint};
    case ie::kFrameSection:
      return {kFrameSectionT, K::kBytes};
    case ie::kIpHeaderSection:
      return {kIpHeaderSectionT, K::kBytes};
    default:
      return {};
  }
}

// Big-endian unsigned integer of 1..8 bytes (reduced-size encoding, RFC 7011 6.2).
inline uint64_t load_uint(const uint8_t* p, size_t n) {
  switch (n) {
    case 1:
      return p[0];
    case 2:
      return load_be16(p);
    case 4:
      return load_be32(p);
    case 8:
      return load_be64(p);
    default: {
      uint64_t v = 0;
      for (size_t i = 0; i < n && i < 8; ++i) v = (v << 8) | p[i];
      return v;
    }
  }
}

}  // namespace omamori::netflow
