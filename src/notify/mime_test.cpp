#include "notify/mime.hpp"

#include <gtest/gtest.h>

#include "notify/text.hpp"

using namespace omamori::notify;

namespace {

// Decodes "=?UTF-8?B?...?=" words (folded with CRLF SP) back to text.
std::string decode_words(const std::string& v) {
  std::string out;
  size_t pos = 0;
  while ((pos = v.find("=?UTF-8?B?", pos)) != std::string::npos) {
    size_t end = v.find("?=", pos + 10);
    std::string b = v.substr(pos + 10, end - pos - 10);
    static const std::string kAlpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int bits = 0;
    for (char c : b) {
      if (c == '=') break;
      acc = (acc << 6) | static_cast<uint32_t>(kAlpha.find(c));
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += static_cast<char>((acc >> bits) & 0xff);
      }
    }
    pos = end + 2;
  }
  return out;
}

}  // namespace

TEST(Mime, EncodedSubjectSplitsOnCharacterBoundaries) {
  std::string subject = "【重要】お客様の機器がウイルスに感染しているおそれがあります（お問い合わせ番号 OM-42）";
  std::string enc = encode_header_text(subject);
  EXPECT_EQ(decode_words(enc), subject);
  size_t start = 0;
  while (start < enc.size()) {
    size_t e = enc.find("\r\n", start);
    std::string line = enc.substr(start, e == std::string::npos ? std::string::npos : e - start);
    EXPECT_LE(line.size(), 76u);
    // Each word decodes to valid UTF-8 on its own.
    EXPECT_TRUE(valid_utf8(decode_words(line))) << line;
    if (e == std::string::npos) break;
    start = e + 2;
  }
  EXPECT_EQ(encode_header_text("plain ASCII"), "plain ASCII");
}

TEST(Mime, MailboxesAndAddresses) {
  Mailbox m = parse_mailbox("Example ISP <abuse@isp.example>");
  EXPECT_EQ(m.display, "Example ISP");
  EXPECT_EQ(m.address, "abuse@isp.example");
  EXPECT_EQ(parse_mailbox("abuse@isp.example").display, "");
  EXPECT_EQ(parse_mailbox("\"ISP, Inc.\" <a@b.example>").display, "ISP, Inc.");
  EXPECT_THROW(parse_mailbox("a@b.example\r\nBcc: x@y"), std::invalid_argument);
  EXPECT_THROW(parse_mailbox("Name <not an address>"), std::invalid_argument);
  EXPECT_TRUE(valid_address("taro.yamada+iot@example.ne.jp"));
  EXPECT_FALSE(valid_address("taro@"));
  EXPECT_FALSE(valid_address("@example.jp"));
  EXPECT_FALSE(valid_address("a b@example.jp"));
  EXPECT_FALSE(valid_address("a@exa mple.jp"));
  EXPECT_FALSE(valid_address("a@example..jp"));
  EXPECT_FALSE(valid_address("a>@example.jp"));
}

TEST(Mime, MessageHeadersAndBody) {
  MailMessage m;
  m.from = parse_mailbox("おまもりネット <abuse@isp.example>");
  m.reply_to = parse_mailbox("support@isp.example");
  m.to = "taro@example.jp";
  m.subject = "テスト";
  m.body = "一行目\n二行目\n";
  m.language = "ja";
  m.date = 1714564800000;  // Wed, 01 May 2024 12:00:00
  m.message_id = make_message_id(7, "isp.example", m.date);
  std::string s = build_message(m);
  EXPECT_NE(s.find("Date: Wed, 01 May 2024 12:00:00 +0000\r\n"), std::string::npos) << s;
  EXPECT_NE(s.find("From: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(s.find(" <abuse@isp.example>\r\n"), std::string::npos);
  EXPECT_NE(s.find("To: taro@example.jp\r\n"), std::string::npos);
  EXPECT_NE(s.find("Reply-To: support@isp.example\r\n"), std::string::npos);
  EXPECT_NE(s.find("Subject: =?UTF-8?B?44OG44K544OI?=\r\n"), std::string::npos);
  EXPECT_NE(s.find("Message-ID: <omamori.7.1714564800000."), std::string::npos);
  EXPECT_NE(s.find("@isp.example>\r\n"), std::string::npos);
  EXPECT_NE(s.find("Content-Type: text/plain; charset=UTF-8\r\n"), std::string::npos);
  EXPECT_NE(s.find("Content-Transfer-Encoding: base64\r\n"), std::string::npos);
  size_t hdr_end = s.find("\r\n\r\n");
  ASSERT_NE(hdr_end, std::string::npos);
  EXPECT_EQ(s.substr(hdr_end + 4), base64("一行目\r\n二行目\r\n") + "\r\n");
  EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");

  m.subject = "a\r\nBcc: x@y";
  EXPECT_THROW(build_message(m), std::invalid_argument);
  m.subject = "ok";
  m.to = "victim@example.jp>\r\nBcc: x@y";
  EXPECT_THROW(build_message(m), std::invalid_argument);
}
