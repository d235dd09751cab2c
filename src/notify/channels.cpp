#include <fmt/format.h>

#include "notify/channels.hpp"

namespace omamori::notify {

TemplateSet templates_for(const NotifyConfig& cfg) {
  return cfg.templates_dir.empty() ? TemplateSet::bundled() : TemplateSet::load(cfg.templates_dir);
}

std::unique_ptr<WarningSender> make_sender(const std::string& channel, const NotifyConfig& cfg,
                                           const TemplateSet& templates) {
  if (channel == "smtp") return std::make_unique<SmtpSender>(cfg, templates);
  if (channel == "webhook") return std::make_unique<WebhookSender>(cfg, templates);
  if (channel == "csv") return std::make_unique<CsvSender>(cfg, templates);
  throw std::invalid_argument(fmt::format("unknown channel '{}' (use smtp, webhook or csv)", channel));
}

}  // namespace omamori::notify
