// Fuzz target: WarningRequest JSON (requests and outbox files) and the
// rendering of whatever it accepts.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "notify/outbox.hpp"
#include "notify/render.hpp"
#include "notify/request_json.hpp"

using namespace omamori::notify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    omamori::WarningRequest r = request_from_json(text);
    static const TemplateSet set = TemplateSet::bundled();
    NotifyConfig cfg;
    RenderedWarning w = render_warning(r, set, cfg);
    if (w.subject.find('\n') != std::string::npos) __builtin_trap();
    // What we write, we read back.
    if (request_to_json(request_from_json(request_to_json(r))) != request_to_json(r)) __builtin_trap();
  } catch (const std::invalid_argument&) {
  }
  try {
    (void)outbox_item_from_json(text);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
