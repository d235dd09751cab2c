#include "notify/mime.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "notify/text.hpp"

namespace omamori::notify {
namespace {

bool printable_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A display name as a header phrase: encoded words when not ASCII, a quoted
// string when it holds specials, else as is.
std::string phrase(std::string_view display) {
  if (!printable_ascii(display)) return encode_header_text(display);
  if (display.find_first_of("()<>[]:;@\\,.\"") == std::string_view::npos) return std::string(display);
  std::string q = "\"";
  for (char c : display) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

std::string mailbox_header(const Mailbox& m) {
  if (m.display.empty()) return m.address;
  return phrase(m.display) + " <" + m.address + ">";
}

void check_header(std::string_view name, std::string_view value) {
  if (has_line_break(value)) throw std::invalid_argument(fmt::format("{} holds a line break", name));
}

}  // namespace

bool valid_address(std::string_view a) {
  if (a.empty() || a.size() > 254) return false;
  size_t at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= a.size() || at > 64) return false;
  for (char c : a.substr(0, at)) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
    if (std::string_view("\"<>()[]\\,;:@").find(c) != std::string_view::npos) return false;
  }
  std::string_view d = a.substr(at + 1);
  if (d.front() == '.' || d.back() == '.' || d.find("..") != std::string_view::npos) return false;
  for (char c : d) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Mailbox parse_mailbox(std::string_view s) {
  if (has_line_break(s)) throw std::invalid_argument("mailbox holds a line break");
  Mailbox m;
  s = trim(s);
  size_t lt = s.rfind('<');
  if (lt != std::string_view::npos) {
    if (s.back() != '>') throw std::invalid_argument(fmt::format("malformed mailbox '{}'", s));
    m.address = std::string(s.substr(lt + 1, s.size() - lt - 2));
    std::string_view d = trim(s.substr(0, lt));
    if (d.size() >= 2 && d.front() == '"' && d.back() == '"') d = d.substr(1, d.size() - 2);
    m.display = std::string(d);
    if (!valid_utf8(m.display)) throw std::invalid_argument("display name is not UTF-8");
  } else {
    m.address = std::string(s);
  }
  if (!valid_address(m.address)) throw std::invalid_argument(fmt::format("malformed address '{}'", m.address));
  return m;
}

std::string encode_header_text(std::string_view s) {
  if (printable_ascii(s)) return std::string(s);
  // 39 bytes -> 52 base64 characters -> 64-character words.
  constexpr size_t kChunk = 39;
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t end = std::min(s.size(), i + kChunk);
    // Back up to a character boundary (not inside a UTF-8 sequence).
    while (end < s.size() && end > i + 1 && (static_cast<unsigned char>(s[end]) & 0xc0) == 0x80) --end;
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(s.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string rfc5322_date(TimeMs t) {
  static constexpr const char* kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::string iso = format_rfc3339(t);  // YYYY-MM-DDTHH:MM:SS.mmmZ
  int64_t secs = t >= 0 ? t / 1000 : (t - 999) / 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t dow = ((days % 7) + 7) % 7;
  int month = std::stoi(iso.substr(5, 2));
  return fmt::format("{}, {} {} {} {} +0000", kDays[dow], iso.substr(8, 2), kMonths[month - 1], iso.substr(0, 4),
                     iso.substr(11, 8));
}

std::string make_message_id(int64_t case_id, std::string_view domain, TimeMs now) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("<omamori.{}.{}.{:016x}@{}>", case_id, now, rng(), domain.empty() ? "localhost" : domain);
}

std::string build_message(const MailMessage& m) {
  if (!valid_address(m.to)) throw std::invalid_argument(fmt::format("malformed recipient address '{}'", m.to));
  if (!valid_address(m.from.address)) throw std::invalid_argument("malformed From address");
  check_header("Subject", m.subject);
  check_header("From", m.from.display);
  check_header("Reply-To", m.reply_to.display);
  check_header("Message-ID", m.message_id);
  if (!printable_ascii(m.message_id) || !printable_ascii(m.language))
    throw std::invalid_argument("Message-ID / language must be ASCII");
  std::string out;
  out += "Date: " + rfc5322_date(m.date) + "\r\n";
  out += "From: " + mailbox_header(m.from) + "\r\n";
  out += "To: " + m.to + "\r\n";
  if (!m.reply_to.address.empty()) {
    if (!valid_address(m.reply_to.address)) throw std::invalid_argument("malformed Reply-To address");
    out += "Reply-To: " + mailbox_header(m.reply_to) + "\r\n";
  }
  out += "Subject: " + encode_header_text(m.subject) + "\r\n";
  out += "Message-ID: " + m.message_id + "\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=UTF-8\r\n";
  out += "Content-Transfer-Encoding: base64\r\n";
  if (!m.language.empty()) out += "Content-Language: " + m.language + "\r\n";
  out += "Auto-Submitted: auto-generated\r\n";
  out += "\r\n";
  // Canonical text: CRLF line ends, then base64 in 76-character lines.
  std::string canon;
  canon.reserve(m.body.size() + m.body.size() / 32);
  for (size_t i = 0; i < m.body.size(); ++i) {
    if (m.body[i] == '\n' && (i == 0 || m.body[i - 1] != '\r')) canon += '\r';
    canon += m.body[i];
  }
  std::string b64 = base64(canon);
  for (size_t i = 0; i < b64.size(); i += 76) {
    out.append(b64, i, 76);
    out += "\r\n";
  }
  return out;
}

}  // namespace omamori::notify
