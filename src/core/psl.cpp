#include "core/psl.hpp"

#include <libpsl.h>

#include <cstring>
#include <string>

namespace omamori {

namespace {
const psl_ctx_t* ctx() {
  // The system list (publicsuffix package) when present, else the one built into libpsl.
  static const psl_ctx_t* c = [] {
    const psl_ctx_t* l = psl_latest(nullptr);
    return l ? l : psl_builtin();
  }();
  return c;
}
}  // namespace

std::string_view registered_domain(std::string_view name) {
  if (name.empty() || name.size() > 253) return {};
  char buf[256];
  std::memcpy(buf, name.data(), name.size());
  buf[name.size()] = 0;
  const char* r = psl_registrable_domain(ctx(), buf);
  if (!r) return {};
  return name.substr(static_cast<size_t>(r - buf));
}

bool is_public_suffix(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::string s(name);
  return psl_is_public_suffix2(ctx(), s.c_str(), PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) != 0;
}

std::string_view registered_label(std::string_view name) {
  auto rd = registered_domain(name);
  return rd.substr(0, rd.find('.'));
}

}  // namespace omamori
