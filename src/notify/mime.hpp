// Internet Message Format (RFC 5322) + MIME for one plain-text warning:
// UTF-8 body in base64, RFC 2047 encoded Subject and display names.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "core/time.hpp"

namespace omamori::notify {

// A mailbox as configured: "addr@example" or "Display Name <addr@example>".
struct Mailbox {
  std::string display;  // UTF-8, may be empty
  std::string address;  // addr-spec
};

// Parses a configured mailbox; throws std::invalid_argument for a malformed
// one (including any CR/LF, which would inject headers).
Mailbox parse_mailbox(std::string_view s);

// A conservative addr-spec check: local@domain, printable ASCII without
// spaces, quotes, <>, (), commas or semicolons; domain of letters, digits,
// '-' and '.' labels; at most 254 bytes.
bool valid_address(std::string_view addr);

// RFC 2047 encoding of a header text: ASCII printable text is returned as is;
// anything else becomes "=?UTF-8?B?...?=" words (each <= 75 characters, split
// on character boundaries) folded with CRLF SP.
std::string encode_header_text(std::string_view utf8);

// "Wed, 01 May 2024 12:00:00 +0000".
std::string rfc5322_date(TimeMs t);

struct MailMessage {
  Mailbox from;
  std::string to;        // addr-spec of the subscriber
  Mailbox reply_to;      // empty address: no Reply-To
  std::string subject;   // UTF-8, one line
  std::string body;      // UTF-8, LF or CRLF line ends
  std::string message_id;  // with angle brackets
  std::string language;  // Content-Language, e.g. "ja"
  TimeMs date = 0;
};

// The whole message with CRLF line ends. Throws std::invalid_argument when a
// header value holds CR or LF or an address is malformed.
std::string build_message(const MailMessage& m);

// "<omamori.<case>.<time>.<random>@<domain>>".
std::string make_message_id(int64_t case_id, std::string_view domain, TimeMs now);

}  // namespace omamori::notify
