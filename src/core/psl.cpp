#include "core/psl.hpp"

#include <libpsl.h>

#include <cstring>
#include <string>

namespace omamori {

namespace {
struct List {
  const psl_ctx_t* ctx = nullptr;
  std::string source;
  List() {
    // The system list (Debian's publicsuffix package) when present, else the one built into libpsl.
    static const char* kFiles[] = {"/usr/share/publicsuffix/public_suffix_list.dafsa",
                                   "/usr/share/publicsuffix/effective_tld_names.dat"};
    for (const char* f : kFiles) {
      if (psl_ctx_t* p = psl_load_file(f)) {
        ctx = p;
        source = std::string("system file ") + f;
        return;
      }
    }
    ctx = psl_builtin();
    source = "libpsl built-in";
  }
};
const List& list() {
  static const List l;  // loaded once, kept for the life of the process
  return l;
}
const psl_ctx_t* ctx() { return list().ctx; }
}  // namespace

std::string psl_source() { return list().source; }

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
  return psl_is_public_suffix2(ctx(), s.c_str(), PSL_TYPE_ANY) != 0;
}

std::string_view registered_label(std::string_view name) {
  auto rd = registered_domain(name);
  return rd.substr(0, rd.find('.'));
}

}  // namespace omamori
