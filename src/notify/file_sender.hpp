// The "file" channel: each warning rendered into a directory instead of being
// delivered — `case-<id>.<lang>.txt` (subject line, blank line, body, as the
// subscriber would read it) and `case-<id>.eml` (the full MIME message the
// SMTP channel would send). For reviewing warnings before a campaign, for
// letters, and for `omamori demo` (no e-mail leaves the machine).
#pragma once

#include <string>

#include "cases/warning.hpp"
#include "notify/config.hpp"
#include "notify/render.hpp"

namespace omamori::notify {

class FileSender final : public WarningSender {
 public:
  // Creates dir when missing; throws std::runtime_error when it cannot.
  FileSender(const NotifyConfig& cfg, TemplateSet templates, std::string dir);
  DeliveryResult send(const WarningRequest& req) override;

 private:
  NotifyConfig cfg_;
  TemplateSet templates_;
  std::string dir_;
};

}  // namespace omamori::notify
