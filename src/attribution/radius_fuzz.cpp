// libFuzzer: RADIUS Accounting-Request decoding and the server's accept path
// (NAS lookup, authenticator check, duplicate cache, event conversion).
#include <cstddef>
#include <cstdint>

#include "attribution/accounting_server.hpp"
#include "attribution/radius.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omamori;
  radius::AccountingRequest r;
  std::span<const uint8_t> in(data, size);
  if (!radius::decode(in, r)) {
    radius::Md5 md5;
    radius::verify_request(in.first(r.length), "secret", md5);
  }
  // The server's whole check path; the store is never touched by accept().
  static SessionStore* store = new SessionStore(":memory:");
  static AccountingServer* server = [] {
    RadiusServerConfig cfg;
    cfg.clients.push_back({*Prefix::parse("127.0.0.1/32"), "secret"});
    return new AccountingServer(cfg, *store);
  }();
  AcctEvent e;
  bool apply = false;
  uint8_t resp[20];
  server->accept(in, *IpAddr::parse("127.0.0.1"), 1813, 1700000000000, e, apply, resp);
  return 0;
}
