#include "core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <string>

namespace omamori {

void setup_logging(std::string_view level) {
  auto logger = spdlog::get("omamori");
  if (!logger) logger = spdlog::stderr_logger_mt("omamori");
  // UTC timestamps, level, then the message, which carries key=value fields.
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(std::string(level)));
  spdlog::set_default_logger(logger);
}

}  // namespace omamori
