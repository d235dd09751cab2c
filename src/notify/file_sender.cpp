#include "notify/file_sender.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "notify/mime.hpp"

namespace omamori::notify {

FileSender::FileSender(const NotifyConfig& cfg, TemplateSet templates, std::string dir)
    : cfg_(cfg), templates_(std::move(templates)), dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot create {}: {}", dir_, ec.message()));
}

namespace {
bool write_file(const std::string& path, const std::string& text, std::string& err) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    err = fmt::format("cannot write {}: {}", path, std::strerror(errno));
    return false;
  }
  return true;
}
}  // namespace

DeliveryResult FileSender::send(const WarningRequest& req) {
  DeliveryResult r;
  r.channel = "file";
  RenderedWarning w;
  std::string eml;
  TimeMs now = now_ms();
  try {
    w = render_warning(req, templates_, cfg_);
    MailMessage m;
    m.from = parse_mailbox(cfg_.smtp.from.empty() ? "abuse@isp.example" : cfg_.smtp.from);
    if (!cfg_.smtp.reply_to.empty()) m.reply_to = parse_mailbox(cfg_.smtp.reply_to);
    m.to = valid_address(req.email) ? req.email : "undisclosed-recipient@invalid";
    m.subject = w.subject;
    m.body = w.body;
    m.language = w.language;
    m.date = now;
    m.message_id = make_message_id(req.case_id, "omamori.invalid", now);
    r.message_id = m.message_id;
    eml = build_message(m);
  } catch (const std::exception& e) {
    r.error = fmt::format("cannot render the warning: {}", e.what());
    return r;
  }
  std::string base = fmt::format("{}/case-{}", dir_, req.case_id);
  if (!write_file(fmt::format("{}.{}.txt", base, w.language), "Subject: " + w.subject + "\n\n" + w.body, r.error) ||
      !write_file(base + ".eml", eml, r.error))
    return r;
  r.ok = true;
  return r;
}

}  // namespace omamori::notify
