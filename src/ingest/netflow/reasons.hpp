// Error reasons counted by the NetFlow/IPFIX decoder (per exporter, in
// NetflowDecoder::errors()). One definition each, so that tests and docs
// name the same strings. docs/netflow.md explains every one.
#pragma once

namespace omamori::netflow::reason {

// Datagram level.
inline constexpr const char* kTooShort = "datagram too short for a netflow header";
inline constexpr const char* kUnsupportedVersion = "unsupported netflow version";
inline constexpr const char* kV5Truncated = "netflow v5 truncated header";
inline constexpr const char* kV5CountExceeds = "netflow v5 record count exceeds datagram";
inline constexpr const char* kV9Truncated = "netflow v9 truncated header";
inline constexpr const char* kIpfixTruncated = "ipfix truncated header";
inline constexpr const char* kIpfixLengthShort = "ipfix message length shorter than header";
inline constexpr const char* kIpfixLengthExceeds = "ipfix message length exceeds datagram";
inline constexpr const char* kIpfixTrailing = "bytes after ipfix message";

// Set level.
inline constexpr const char* kBadSetLength = "bad set length";
inline constexpr const char* kSetExceeds = "set length exceeds message";
inline constexpr const char* kReservedSetId = "reserved set id";
inline constexpr const char* kTrailingBytes = "bytes after last set";

// Templates.
inline constexpr const char* kTemplateTruncated = "template truncated";
inline constexpr const char* kTemplateReservedId = "template id below 256";
inline constexpr const char* kOptionsBadLengths = "options template scope/option length not a multiple of 4";
inline constexpr const char* kTooManyTemplates = "too many templates";
inline constexpr const char* kTooManyTemplatesExporter = "too many templates for one exporter";
inline constexpr const char* kTooManyScopes = "too many exporter scopes for sampling state";
inline constexpr const char* kTemplateZeroFields = "template with zero fields";
inline constexpr const char* kOptionsBadScope = "options template with bad scope count";
inline constexpr const char* kTemplateZeroLength = "template record of zero length";
inline constexpr const char* kFieldLengthOverflow = "template field length overflow (record longer than a set)";
inline constexpr const char* kFieldLengthInvalid = "template field length invalid for its element (ignored)";
inline constexpr const char* kVarLenFixedElement = "variable-length field for a fixed-size element (ignored)";

// IPFIX structured data (RFC 6313).
inline constexpr const char* kListMalformed = "ipfix list field malformed (ignored)";
inline constexpr const char* kListUnknownTemplate = "ipfix subTemplateList with unknown template (not checked)";
inline constexpr const char* kListTooDeep = "ipfix lists nested too deeply (ignored)";

// Data records.
inline constexpr const char* kRecordPastSetEnd = "record past set end";
inline constexpr const char* kSectionUndecodable = "packet section in record not decodable";
inline constexpr const char* kHeldBufferFull = "unknown template (hold buffer full, data set dropped)";
inline constexpr const char* kHeldExpired = "unknown template (data set expired waiting for template)";
inline constexpr const char* kHeldAtFinish = "unknown template (no template by end of input)";

}  // namespace omamori::netflow::reason
