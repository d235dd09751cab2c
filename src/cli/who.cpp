// `omamori who ADDRESS[:PORT] TIME`: which subscriber had the address (or
// the public address and port behind CGNAT) at that time. Pseudonymous by
// default; `--reveal --reason` shows the identity to a role allowed to, after
// writing the audit entry. See docs/attribution.md and docs/privacy.md.
#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "attribution/session_index.hpp"
#include "attribution/store.hpp"
#include "cli/common.hpp"
#include "privacy/audit.hpp"
#include "privacy/pseudonym.hpp"
#include "privacy/settings.hpp"

namespace omamori::cli {

std::unique_ptr<SessionStore> open_session_store(const std::string& state_dir, bool read_only);  // radius.cpp

namespace {

struct WhoOptions {
  privacy::Settings settings;
  std::string target, time, format = "text", reason;
  bool reveal = false;
  double timeout_factor = 3;
  double default_interim = 0;
};

struct Target {
  IpAddr addr;
  std::optional<uint16_t> port;
};

// "a.b.c.d", "a.b.c.d:port", "x::y", "[x::y]", "[x::y]:port".
std::optional<Target> parse_target(std::string_view s) {
  Target t;
  std::string_view host = s, port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = s.substr(1, close - 1);
    if (close + 1 < s.size()) {
      if (s[close + 1] != ':') return std::nullopt;
      port = s.substr(close + 2);
    }
  } else if (s.find(':') == s.rfind(':') && s.find(':') != std::string_view::npos) {
    host = s.substr(0, s.find(':'));
    port = s.substr(s.find(':') + 1);
  }
  auto a = IpAddr::parse(host);
  if (!a) return std::nullopt;
  t.addr = *a;
  if (!port.empty() || (s.size() && s.back() == ':')) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || p != port.data() + port.size() || v > 65535 || port.empty()) return std::nullopt;
    t.port = static_cast<uint16_t>(v);
  }
  return t;
}

const char* match_name(AttributionMatch m) {
  switch (m) {
    case AttributionMatch::kAddress: return "address";
    case AttributionMatch::kPrefix: return "prefix";
    case AttributionMatch::kAddressPort: return "address-port";
  }
  return "?";
}

void run_who(WhoOptions& o) {
  auto target = parse_target(o.target);
  if (!target) throw CommandError(kUsage, fmt::format("who: '{}' is not ADDRESS, ADDRESS:PORT or [IPV6]:PORT", o.target));
  auto when = parse_time(o.time);
  if (!when) throw CommandError(kUsage, fmt::format("who: '{}' is not a time (RFC 3339, e.g. 2024-05-01T09:30:00Z)", o.time));

  privacy::Settings& s = o.settings;
  privacy::Access access;
  try {
    s.resolve();
    if (o.reveal) privacy::require_reason(o.reason, "revealing an identity");
    access = privacy::authorize(s, o.reveal ? privacy::Permission::kRevealIdentity : privacy::Permission::kViewPseudonymous,
                                o.reveal ? "identity.reveal" : "attribution.lookup", o.target);
  } catch (const privacy::AccessDenied& e) {
    throw CommandError(kFailure, fmt::format("who: {}", e.what()));
  } catch (const std::invalid_argument& e) {
    throw CommandError(kUsage, fmt::format("who: {}", e.what()));
  }

  IndexPolicy policy;
  policy.now = now_ms();
  policy.interim_timeout_factor = o.timeout_factor;
  policy.default_interim_ms = static_cast<int64_t>(o.default_interim * 1000);
  auto store = open_session_store(s.state_dir, true);
  auto index = store->load_index(policy);

  AttributionRef r;
  bool found = target->port ? index->lookup(target->addr, *target->port, *when, r)
                            : index->lookup(target->addr, *when, r);
  std::string where = target->port ? fmt::format("{}:{}", target->addr.is_v4() ? target->addr.str()
                                                                              : "[" + target->addr.str() + "]",
                                                 *target->port)
                                   : target->addr.str();
  if (!found) {
    if (o.format == "json")
      fmt::print("{}\n", nlohmann::json{{"query", where}, {"time", format_rfc3339(*when)}, {"found", false}}.dump());
    else
      fmt::print("no session held {} at {}\n", where, format_rfc3339(*when));
    exit_code() = kFailure;
    return;
  }

  std::string pseudonym;
  try {
    if (!r.subscriber.empty())
      pseudonym = privacy::Pseudonymiser::from_key_file(s.key_file).subscriber(r.subscriber);
    if (o.reveal) {
      // The audit entry is written before the identity is shown.
      privacy::AuditEvent ev;
      ev.actor = access.actor;
      ev.role = std::string(privacy::role_name(access.role));
      ev.action = std::string(privacy::kActionIdentityReveal);
      ev.subject = pseudonym;
      ev.reason = o.reason;
      ev.detail = {{"query", where}, {"time", format_rfc3339(*when)}, {"session_id", std::string(r.session_id)}};
      privacy::AuditLog(s.audit_log).append(ev);
    }
  } catch (const std::exception& e) {
    throw CommandError(kFailure, fmt::format("who: {}", e.what()));
  }

  nlohmann::json j{{"query", where},
                   {"time", format_rfc3339(*when)},
                   {"found", true},
                   {"subscriber", pseudonym.empty() ? nlohmann::json(nullptr) : nlohmann::json(pseudonym)},
                   {"session_id", std::string(r.session_id)},
                   {"nas", r.nas.str()},
                   {"inside", r.inside.str()},
                   {"start", format_rfc3339(r.start)},
                   {"end", r.end ? nlohmann::json(format_rfc3339(r.end)) : nlohmann::json(nullptr)},
                   {"match", match_name(r.match)}};
  if (r.match == AttributionMatch::kAddressPort) j["inside_session_id"] = std::string(r.inner_session_id);
  if (o.reveal) j["identity"] = std::string(r.subscriber);
  if (o.format == "json") {
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  fmt::print("{} at {}: {}\n", where, format_rfc3339(*when),
             pseudonym.empty() ? "port block found, but no session held its inside address" : pseudonym);
  if (o.reveal) fmt::print("  identity    {}\n", j["identity"].get<std::string>());
  fmt::print("  session     {}\n  nas         {}\n", j["session_id"].get<std::string>(), r.nas.str());
  if (r.match == AttributionMatch::kAddressPort)
    fmt::print("  inside      {} (session {})\n", r.inside.str(), j["inside_session_id"].get<std::string>());
  fmt::print("  start       {}\n  end         {}\n  match       {}\n", format_rfc3339(r.start),
             r.end ? format_rfc3339(r.end) : "(open)", match_name(r.match));
}

}  // namespace

void register_who(CLI::App& app) {
  auto o = std::make_shared<WhoOptions>();
  auto* cmd = app.add_subcommand("who", "Which subscriber had ADDRESS (or public ADDRESS:PORT behind CGNAT) at TIME");
  cmd->add_option("address", o->target, "ADDRESS, ADDRESS:PORT or [IPV6]:PORT")->required();
  cmd->add_option("time", o->time, "TIME: RFC 3339 (2024-05-01T09:30:00Z), 'YYYY-MM-DD HH:MM:SS' (UTC) or epoch seconds")
      ->required();
  cmd->add_option("-f,--format", o->format, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  cmd->add_flag("--reveal", o->reveal, "Also print the real subscriber id (needs the reveal-identity permission; audited)");
  cmd->add_option("--reason", o->reason, "Why the identity is needed (required with --reveal; goes to the audit log)");
  cmd->add_option("--interim-timeout-factor", o->timeout_factor,
                  "An open session with no update for K interim intervals ended at last-seen + one interval")
      ->check(CLI::Range(1.0, 1000.0))
      ->capture_default_str();
  cmd->add_option("--default-interim", o->default_interim,
                  "Interim interval in seconds for sessions that did not send Acct-Interim-Interval (0: no timeout)")
      ->check(CLI::Range(0.0, 86400.0 * 365));
  o->settings.add_to(cmd);
  cmd->callback([o] { run_who(*o); });
}

}  // namespace omamori::cli
