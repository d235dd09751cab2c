// `omamori notify`: render and check warning templates, send warnings by
// e-mail / webhook / CSV, test the SMTP settings, run the delivery outbox.
// Settings come from the [notify] tables of the -c/--config file
// (docs/notify.md); case selection is `omamori cases` (src/cli/cases.cpp).
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/common.hpp"
#include "notify/channels.hpp"
#include "notify/mime.hpp"
#include "notify/outbox.hpp"
#include "notify/request_json.hpp"

namespace omamori::cli {
namespace {
using namespace omamori::notify;

struct Common {
  CLI::App* root = nullptr;
  std::string templates;
  std::string outbox;

  NotifyConfig config() const {
    std::string path;
    if (auto* o = root->get_config_ptr(); o && o->count() > 0) path = o->as<std::string>();
    NotifyConfig c;
    try {
      c = load_notify_config(path);
    } catch (const std::exception& e) {
      throw CommandError(kUsage, e.what());
    }
    if (!templates.empty()) c.templates_dir = templates;
    if (!outbox.empty()) c.outbox = outbox;
    return c;
  }
  TemplateSet load_templates(const NotifyConfig& c) const {
    try {
      return templates_for(c);
    } catch (const std::exception& e) {
      throw CommandError(kUsage, e.what());
    }
  }
};

// Reads requests: one JSON object, or JSON lines ("-" = stdin).
std::vector<WarningRequest> read_requests(const std::string& file) {
  std::string text;
  if (file == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw CommandError(kFailure, "cannot open " + file);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  std::vector<WarningRequest> out;
  auto whole = nlohmann::json::parse(text, nullptr, false);
  try {
    if (!whole.is_discarded()) {
      out.push_back(request_from_json(text));
      return out;
    }
    size_t line_no = 0, start = 0;
    while (start < text.size()) {
      size_t nl = text.find('\n', start);
      std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      start = nl == std::string::npos ? text.size() : nl + 1;
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      try {
        out.push_back(request_from_json(line));
      } catch (const std::exception& e) {
        throw CommandError(kDataErrors, fmt::format("{}:{}: {}", file, line_no, e.what()));
      }
    }
  } catch (const std::invalid_argument& e) {
    throw CommandError(kDataErrors, fmt::format("{}: {}", file, e.what()));
  }
  return out;
}

std::unique_ptr<WarningSender> sender_for(const std::string& channel, const NotifyConfig& c, const TemplateSet& t) {
  try {
    return make_sender(channel, c, t);
  } catch (const std::exception& e) {
    throw CommandError(kUsage, e.what());
  }
}

void print_result(const WarningRequest& r, const DeliveryResult& d) {
  if (d.ok) fmt::print("case {} {}: sent {}\n", r.case_id, d.channel, d.message_id);
  else fmt::print("case {} {}: FAILED {}\n", r.case_id, d.channel, d.error);
}

void add_render(CLI::App& n, std::shared_ptr<Common> common) {
  struct Opts {
    std::string request, language, format = "text";
    bool sample = false;
  };
  auto o = std::make_shared<Opts>();
  auto* c = n.add_subcommand("render", "Render a warning (subject and body) for a request, as the subscriber sees it");
  c->add_option("--request", o->request, "WarningRequest JSON file (- for stdin)");
  c->add_flag("--sample", o->sample, "Use a built-in sample request with one finding of each kind");
  c->add_option("--language", o->language, "Render in this language instead of the request's");
  c->add_option("--format", o->format, "text, mime (the e-mail as sent) or json (webhook payload)")
      ->check(CLI::IsMember({"text", "mime", "json"}))
      ->capture_default_str();
  c->add_option("--templates", common->templates, "Operator template directory (DIR/<lang>/warning.txt)");
  c->callback([o, common] {
    if (o->sample == !o->request.empty()) throw CommandError(kUsage, "give --request FILE or --sample");
    NotifyConfig cfg = common->config();
    TemplateSet t = common->load_templates(cfg);
    std::vector<WarningRequest> reqs = o->sample ? std::vector<WarningRequest>{sample_request()} : read_requests(o->request);
    for (auto& r : reqs) {
      if (!o->language.empty()) r.language = o->language;
      try {
        if (o->format == "text") {
          RenderedWarning w = render_warning(r, t, cfg);
          fmt::print("Subject: {}\n\n{}", w.subject, w.body);
        } else if (o->format == "mime") {
          if (cfg.smtp.from.empty()) cfg.smtp.from = "omamori <notify@localhost.localdomain>";
          SmtpSender s(cfg, t);
          std::string msg = s.build(r, now_ms());
          std::fwrite(msg.data(), 1, msg.size(), stdout);
        } else {
          fmt::print("{}\n", WebhookSender::webhook_payload(r, t, cfg, "render", now_ms()));
        }
      } catch (const TemplateError& e) {
        throw CommandError(kUsage, e.what());
      } catch (const std::invalid_argument& e) {
        throw CommandError(kUsage, e.what());
      }
    }
  });
}

void add_check(CLI::App& n, std::shared_ptr<Common> common) {
  auto* c = n.add_subcommand("check", "Check the warning templates (every branch) and render the sample in each language");
  c->add_option("--templates", common->templates, "Operator template directory (DIR/<lang>/warning.txt)");
  c->callback([common] {
    NotifyConfig cfg = common->config();
    TemplateSet t = common->load_templates(cfg);  // parses and checks every name
    if (cfg.isp_for("").name.empty()) fmt::print("note: [notify.isp] name is not set; warnings say \"your internet provider\"\n");
    if (cfg.isp_for("").phone.empty() && cfg.isp_for("").url.empty())
      fmt::print("note: [notify.isp] has no phone or url; warnings give no way to reach you\n");
    for (const auto& lang : t.languages()) {
      WarningRequest r = sample_request();
      r.language = lang;
      try {
        RenderedWarning w = render_warning(r, t, cfg);
        fmt::print("{}: ok ({} bytes) subject: {}\n", lang, w.body.size(), w.subject);
      } catch (const std::exception& e) {
        throw CommandError(kUsage, e.what());
      }
    }
  });
}

void add_send(CLI::App& n, std::shared_ptr<Common> common) {
  struct Opts {
    std::string request = "-", channel;
    bool queue = false;
  };
  auto o = std::make_shared<Opts>();
  auto* c = n.add_subcommand("send", "Deliver warnings now (or --queue them in the outbox)");
  c->add_option("--request", o->request, "WarningRequest JSON object or JSON lines (- for stdin)")->capture_default_str();
  c->add_option("--channel", o->channel, "smtp, webhook or csv")
      ->required()
      ->check(CLI::IsMember({"smtp", "webhook", "csv"}));
  c->add_flag("--queue", o->queue, "Put them in the outbox; `notify outbox run` delivers and retries");
  c->add_option("--outbox", common->outbox, "Outbox directory (default: [notify] outbox)");
  c->add_option("--templates", common->templates, "Operator template directory");
  c->callback([o, common] {
    NotifyConfig cfg = common->config();
    TemplateSet t = common->load_templates(cfg);
    auto reqs = read_requests(o->request);
    if (o->queue) {
      if (cfg.outbox.empty()) throw CommandError(kUsage, "--queue needs --outbox DIR or [notify] outbox");
      sender_for(o->channel, cfg, t);  // configuration errors now, not at delivery
      Outbox box(cfg.outbox, cfg.retry);
      for (const auto& r : reqs) fmt::print("case {} queued {}\n", r.case_id, box.enqueue(r, o->channel, now_ms()));
      return;
    }
    auto s = sender_for(o->channel, cfg, t);
    bool failed = false;
    for (const auto& r : reqs) {
      DeliveryResult d = s->send(r);
      print_result(r, d);
      failed |= !d.ok;
    }
    if (failed) exit_code() = kFailure;
  });
}

void add_test_smtp(CLI::App& n, std::shared_ptr<Common> common) {
  struct Opts {
    std::string to, language = "ja";
  };
  auto o = std::make_shared<Opts>();
  auto* c = n.add_subcommand("test-smtp", "Send the sample warning to an address with the [notify.smtp] settings");
  c->add_option("--to", o->to, "Recipient address (your own)")->required();
  c->add_option("--language", o->language, "Language of the sample")->capture_default_str();
  c->add_option("--templates", common->templates, "Operator template directory");
  c->callback([o, common] {
    NotifyConfig cfg = common->config();
    TemplateSet t = common->load_templates(cfg);
    if (!valid_address(o->to)) throw CommandError(kUsage, "malformed address: " + o->to);
    auto s = sender_for("smtp", cfg, t);
    WarningRequest r = sample_request();
    r.email = o->to;
    r.language = o->language;
    DeliveryResult d = s->send(r);
    print_result(r, d);
    if (!d.ok) exit_code() = kFailure;
  });
}

void add_outbox(CLI::App& n, std::shared_ptr<Common> common) {
  auto* ob = n.add_subcommand("outbox", "The delivery outbox: run due deliveries, list, retry");
  ob->require_subcommand(1);
  ob->add_option("--outbox", common->outbox, "Outbox directory (default: [notify] outbox)");
  auto open = [common](NotifyConfig& cfg) {
    cfg = common->config();
    if (cfg.outbox.empty()) throw CommandError(kUsage, "no outbox: give --outbox DIR or set [notify] outbox");
    return Outbox(cfg.outbox, cfg.retry);
  };

  auto* run = ob->add_subcommand("run", "Attempt every due delivery once; failures are rescheduled with backoff");
  run->callback([common, open] {
    NotifyConfig cfg;
    Outbox box = open(cfg);
    TemplateSet t = common->load_templates(cfg);
    std::map<std::string, std::unique_ptr<WarningSender>> owned;
    std::map<std::string, WarningSender*> senders;
    for (const char* ch : {"smtp", "webhook", "csv"}) {
      try {
        owned[ch] = make_sender(ch, cfg, t);
        senders[ch] = owned[ch].get();
      } catch (const std::exception&) {
        // Channel not configured: its items wait (listed as pending).
      }
    }
    auto st = box.run(senders, now_ms());
    fmt::print("attempted {} sent {} retry-later {} failed {} unreadable {}\n", st.attempted, st.sent, st.deferred,
               st.failed, st.unreadable);
    if (st.failed || st.unreadable) exit_code() = kFailure;
  });

  auto state = std::make_shared<std::string>("all");
  auto format = std::make_shared<std::string>("table");
  auto* list = ob->add_subcommand("list", "List deliveries with attempts and the last error");
  list->add_option("--state", *state, "pending, sent, failed or all")
      ->check(CLI::IsMember({"pending", "sent", "failed", "all"}))
      ->capture_default_str();
  list->add_option("--format", *format, "table or jsonl")->check(CLI::IsMember({"table", "jsonl"}))->capture_default_str();
  list->callback([open, state, format] {
    NotifyConfig cfg;
    Outbox box = open(cfg);
    std::vector<std::string> states =
        *state == "all" ? std::vector<std::string>{"pending", "failed", "sent"} : std::vector<std::string>{*state};
    if (*format == "table") fmt::print("{:<8} {:<34} {:>8} {:<8} {:>8} {:<24} {}\n", "state", "id", "case", "channel",
                                       "attempts", "next attempt", "last error / message id");
    for (const auto& s : states) {
      for (const auto& it : box.list(s)) {
        if (*format == "jsonl") {
          auto j = nlohmann::ordered_json::parse(outbox_item_to_json(it));
          j.erase("request");
          j["case_id"] = it.request.case_id;
          j["pseudonym"] = it.request.pseudonym;
          fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
          continue;
        }
        fmt::print("{:<8} {:<34} {:>8} {:<8} {:>8} {:<24} {}\n", it.state, it.id, it.request.case_id, it.channel,
                   it.attempts, it.state == "pending" ? format_rfc3339(it.next_attempt) : "-",
                   it.state == "sent" ? it.message_id : it.last_error);
      }
    }
  });

  auto id = std::make_shared<std::string>();
  auto* retry = ob->add_subcommand("retry", "Put a failed delivery back into the queue");
  retry->add_option("id", *id, "Delivery id (from `notify outbox list`)")->required();
  retry->callback([open, id] {
    NotifyConfig cfg;
    Outbox box = open(cfg);
    if (!box.retry(*id, now_ms())) throw CommandError(kFailure, "no failed delivery with id " + *id);
    fmt::print("{} queued again\n", *id);
  });
}

}  // namespace

void register_notify(CLI::App& app) {
  auto* n = app.add_subcommand("notify", "Subscriber warnings: templates, e-mail/webhook/CSV delivery, outbox");
  n->require_subcommand(1);
  auto common = std::make_shared<Common>();
  common->root = &app;
  add_render(*n, common);
  add_check(*n, common);
  add_send(*n, common);
  add_test_smtp(*n, common);
  add_outbox(*n, common);
}

}  // namespace omamori::cli
