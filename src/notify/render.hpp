// Rendering a subscriber warning from a WarningRequest with the templates.
//
// What a warning shows (docs/notify.md, "What a warning says"): the time
// window and the kind of activity of each finding, in plain words; the
// destination only when it is the name of a C&C server (defanged, a[.]b), the
// probable malware family when it is a plain name; never the subscriber's
// address, other hosts' addresses, scanned or attacked targets, nor anything
// about other subscribers. Times are Japan time (UTC+9, no DST) in Japanese
// and UTC in other languages.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cases/warning.hpp"
#include "notify/config.hpp"
#include "notify/template.hpp"

namespace omamori::notify {

// One language's warning: subject line and body.
struct WarningTemplate {
  Template subject;
  Template body;
  std::string source;  // file name, or "bundled:<lang>"
};

class TemplateSet {
 public:
  // The templates compiled into omamori (data/templates/<lang>/warning.txt).
  static TemplateSet bundled();
  // The bundled ones, with DIR/<lang>/warning.txt replacing or adding the
  // language <lang>. Throws TemplateError (file:line:column: ...) for a
  // broken template and std::runtime_error when DIR holds no template.
  static TemplateSet load(const std::string& dir);
  // Parses one warning file: "Subject: ..." on line 1, an empty line 2, the
  // body from line 3; checks every variable name. Throws TemplateError.
  static std::shared_ptr<const WarningTemplate> parse_file(std::string_view text, const std::string& source);

  const WarningTemplate* find(const std::string& language) const;
  std::vector<std::string> languages() const;
  void set(const std::string& language, std::shared_ptr<const WarningTemplate> t) { by_lang_[language] = std::move(t); }

 private:
  std::map<std::string, std::shared_ptr<const WarningTemplate>> by_lang_;
};

struct RenderedWarning {
  std::string language;
  std::string subject;  // one line, UTF-8
  std::string body;     // LF line ends, UTF-8
  std::string reference;
};

// The language a request is rendered in: its own ("ja-JP" counts as "ja")
// when there is a template for it, else the configured default, else "en".
std::string choose_language(const std::string& requested, const TemplateSet& set, const NotifyConfig& cfg);

// The variables a template sees for this request (docs/notify.md lists them).
Scope warning_scope(const WarningRequest& req, const std::string& language, const NotifyConfig& cfg);

// Throws TemplateError for template problems, std::runtime_error when the
// subject would hold a line break.
RenderedWarning render_warning(const WarningRequest& req, const TemplateSet& set, const NotifyConfig& cfg);

// A request with one finding of each kind, for `notify render --sample` and
// for checking templates.
WarningRequest sample_request();

// Time in a warning: "2024年5月1日 21:05" (Japan time) for "ja",
// "2024-05-01 12:05 UTC" otherwise.
std::string format_warning_time(TimeMs t, const std::string& language);

// The C&C name of a finding as shown to the subscriber ("evil[.]example"),
// or "" when the finding's destination is not to be shown.
std::string shown_destination(const Finding& f);

}  // namespace omamori::notify
