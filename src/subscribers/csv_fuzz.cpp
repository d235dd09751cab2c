// libFuzzer target: the subscriber directory CSV parser. Every data line is
// either a row or a counted reject; accepted rows are storable text.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "store/text.hpp"
#include "subscribers/subscriber.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = omamori::subscribers::parse_csv(in);
  if (r.error.empty() && r.rows.size() + r.rejected.size() != r.lines) std::abort();
  if (r.rejects.total() != r.rejected.size()) std::abort();
  for (const auto& s : r.rows) {
    if (s.id.empty() || (s.language != "ja" && s.language != "en")) std::abort();
    if (!omamori::store::storable_text(s.id) || !omamori::store::storable_text(s.email)) std::abort();
    if (s.warnings_allowed && s.terms_version.empty()) std::abort();
  }
  return 0;
}
