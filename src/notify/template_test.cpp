#include "notify/template.hpp"

#include <gtest/gtest.h>

#include "notify/text.hpp"

using namespace omamori::notify;

namespace {

Scope sample() {
  Scope s;
  s.set("name", "Hanako");
  s.set("empty", "");
  s.set("kind", "c2");
  auto& l = s.list("items");
  for (const char* v : {"a", "b"}) {
    Scope it;
    it.set("v", v);
    l.push_back(std::move(it));
  }
  s.list("none");
  return s;
}

std::string render(const std::string& t) { return Template::parse(t).render(sample()); }

TemplateError error_of(const std::string& t) {
  try {
    Template::parse(t, "t.txt").render(sample());
  } catch (const TemplateError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for: " << t;
  return TemplateError("", 0, 0, "");
}

}  // namespace

TEST(Template, Variables) {
  EXPECT_EQ(render("Hello {{name}}!"), "Hello Hanako!");
  EXPECT_EQ(render("Hello {{ name }}!"), "Hello Hanako!");
  EXPECT_EQ(render("{{\"{{\"}}x{{\"}}\"}}"), "{{x}}");
  EXPECT_EQ(render("no tags\n"), "no tags\n");
  EXPECT_EQ(render("a } b { c"), "a } b { c");
}

TEST(Template, Conditions) {
  EXPECT_EQ(render("{{#if name}}yes{{else}}no{{/if}}"), "yes");
  EXPECT_EQ(render("{{#if empty}}yes{{else}}no{{/if}}"), "no");
  EXPECT_EQ(render("{{#unless empty}}yes{{/unless}}"), "yes");
  EXPECT_EQ(render("{{#if kind == \"c2\"}}C&C{{/if}}"), "C&C");
  EXPECT_EQ(render("{{#if kind != \"c2\"}}other{{else}}same{{/if}}"), "same");
  EXPECT_EQ(render("{{#if kind == \"dga\"}}dga{{/if}}"), "");
  EXPECT_EQ(render("{{#if items}}has{{/if}}{{#if none}}x{{else}}empty{{/if}}"), "hasempty");
}

TEST(Template, LoopsSeeOuterVariables) {
  EXPECT_EQ(render("{{#each items}}[{{v}} {{name}}]{{/each}}"), "[a Hanako][b Hanako]");
  EXPECT_EQ(render("{{#each none}}x{{else}}nothing{{/each}}"), "nothing");
}

TEST(Template, StandaloneBlockLinesVanish) {
  std::string t =
      "start\n"
      "{{#each items}}\n"
      "  {{#if v == \"a\"}}\n"
      "- first {{v}}\n"
      "  {{else}}\n"
      "- other {{v}}\n"
      "  {{/if}}\n"
      "{{/each}}\n"
      "{{! a comment line }}\n"
      "end\n";
  EXPECT_EQ(render(t), "start\n- first a\n- other b\nend\n");
  // Not standalone: the text around stays.
  EXPECT_EQ(render("x {{#if name}}y{{/if}} z\n"), "x y z\n");
  // CRLF templates render with LF.
  EXPECT_EQ(render("a\r\n{{#if name}}\r\nb\r\n{{/if}}\r\nc\r\n"), "a\nb\nc\n");
}

TEST(Template, ErrorsHaveLineAndColumn) {
  auto e = error_of("line one\nline two {{nmae}}\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 10);
  EXPECT_NE(std::string(e.what()).find("t.txt:2:10: unknown variable 'nmae'"), std::string::npos) << e.what();

  e = error_of("{{#if name}}\nno end\n");
  EXPECT_EQ(e.line, 1);
  EXPECT_NE(std::string(e.what()).find("not closed"), std::string::npos);

  e = error_of("a\n\n{{#each items}}{{/if}}");
  EXPECT_EQ(e.line, 3);
  EXPECT_EQ(e.column, 16);
  EXPECT_NE(std::string(e.what()).find("closes {{#each}} opened at line 3"), std::string::npos) << e.what();

  EXPECT_EQ(error_of("x {{name").line, 1);
  EXPECT_NE(std::string(error_of("{{#loop items}}{{/loop}}").what()).find("unknown block"), std::string::npos);
  EXPECT_NE(std::string(error_of("{{#if kind = \"c2\"}}{{/if}}").what()).find("expected == or !="), std::string::npos);
  EXPECT_NE(std::string(error_of("{{#if kind == c2}}{{/if}}").what()).find("quoted"), std::string::npos);
  EXPECT_NE(std::string(error_of("{{items}}").what()).find("is a list"), std::string::npos);
  EXPECT_NE(std::string(error_of("{{#each name}}{{/each}}").what()).find("not a list"), std::string::npos);
  EXPECT_NE(std::string(error_of("{{else}}").what()).find("outside a block"), std::string::npos);
  EXPECT_NE(std::string(error_of("{{#if name}}{{else}}{{else}}{{/if}}").what()).find("second"), std::string::npos);
  EXPECT_NE(std::string(error_of("{{}}").what()).find("empty tag"), std::string::npos);
  EXPECT_NE(std::string(error_of("{{na me}}").what()).find("unexpected text"), std::string::npos);
  EXPECT_NE(std::string(error_of("{{ {{name}} }}").what()).find("inside a tag"), std::string::npos);
  EXPECT_NE(std::string(error_of("{{\"abc}}").what()).find("not closed"), std::string::npos);
}

TEST(Template, RejectsShiftJisWithPosition) {
  // "テスト" in Shift_JIS on line 2.
  std::string sjis = "ok\nab\x83\x65\x83\x58\x83\x67\n";
  try {
    Template::parse(sjis, "ja.txt");
    FAIL();
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.line, 2);
    EXPECT_EQ(e.column, 3);
    EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos);
  }
}

TEST(Template, LimitsDepthAndSize) {
  std::string deep;
  for (int i = 0; i < Template::kMaxDepth + 1; ++i) deep += "{{#if name}}";
  EXPECT_NE(std::string(error_of(deep).what()).find("nested deeper"), std::string::npos);
  std::string big(Template::kMaxSize + 1, 'x');
  EXPECT_THROW(Template::parse(big), TemplateError);
  // Output bound: a loop cannot blow up beyond kMaxOutput.
  Scope s;
  s.set("x", std::string(600 * 1024, 'x'));
  auto& l = s.list("l");
  l.resize(3);
  EXPECT_THROW(Template::parse("{{#each l}}{{x}}{{/each}}").render(s), TemplateError);
}

TEST(Template, CheckVisitsEveryBranch) {
  // The misspelt name is in a branch the data does not take: render passes,
  // check finds it.
  auto t = Template::parse("{{#if empty}}{{nmae}}{{/if}}{{#each none}}{{vv}}{{/each}}");
  EXPECT_EQ(t.render(sample()), "");
  Scope schema = sample();
  EXPECT_THROW(t.check(schema), TemplateError);
  auto ok = Template::parse("{{#if empty}}{{name}}{{/if}}{{#each items}}{{v}}{{/each}}");
  EXPECT_NO_THROW(ok.check(schema));
}

TEST(Text, CleanLineAndUtf8) {
  EXPECT_TRUE(valid_utf8("日本語 ok"));
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));        // overlong
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));    // surrogate
  EXPECT_FALSE(valid_utf8("\xe6\x97"));        // truncated
  EXPECT_EQ(clean_line("a\r\nb\x1b[31m"), "a  b [31m");
  EXPECT_EQ(clean_line("\xff"), "\xef\xbf\xbd");
  EXPECT_EQ(clean_line("日本語", 7), "日本");  // cut on a character boundary
  EXPECT_EQ(clean_text("a\r\nb\tc\x07", 100), "a\nb\tc ");
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
}
