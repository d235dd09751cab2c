// Fuzz target: the warning template parser and renderer (operators edit
// templates; a broken one must give an error with its line, never a crash).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "notify/render.hpp"
#include "notify/template.hpp"

using namespace omamori::notify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const omamori::WarningRequest req = sample_request();
  static const Scope scope = warning_scope(req, "ja", omamori::notify::NotifyConfig{});
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    Template t = Template::parse(text, "fuzz");
    t.check(scope);
    (void)t.render(scope);
  } catch (const TemplateError& e) {
    if (e.line < 1 || e.column < 1) __builtin_trap();
  }
  try {
    (void)TemplateSet::parse_file(text, "fuzz");
  } catch (const TemplateError&) {
  }
  return 0;
}
