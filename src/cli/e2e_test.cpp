// End to end, through the real binary and a real SMTP server (aiosmtpd):
// the bundled small ISP's border traffic and DNS (data/demo, made by
// `omamori simulate`, ground truth in truth.json) -> findings -> attribution
// through the RADIUS sessions -> cases -> Japanese e-mails to exactly the
// infected subscribers whose terms allow warnings; the infected subscriber
// whose terms do not is only in the manual queue.
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "notify/test_peer.hpp"
#include "test_support/run.hpp"

namespace fs = std::filesystem;
using omamori::test::lines;
using omamori::test::run;

namespace {

const std::string kBin = OMAMORI_BINARY;
// OMAMORI_TESTDATA is src/cli/testdata (absent: this test has none of its own).
const fs::path kCliDir = fs::path(OMAMORI_TESTDATA).parent_path();
const fs::path kDemo = kCliDir / "../../data/demo";
const fs::path kSink = kCliDir / "../notify/testdata/smtp_sink.py";

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::map<std::string, std::string> subscriber_emails() {
  std::map<std::string, std::string> out;
  std::ifstream in(kDemo / "subscribers.csv");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    auto f = omamori::test::split(line, ',');
    if (f.size() >= 2) out[f[0]] = f[1];
  }
  return out;
}

}  // namespace

TEST(EndToEnd, InfectedSubscribersGetJapaneseWarningsOthersOnlyTheManualQueue) {
  ASSERT_TRUE(fs::exists(kDemo / "truth.json")) << kDemo;
  fs::path t = omamori::notify::test::unique_dir("omamori-e2e");
  fs::path state = t / "state", mail = t / "mail";
  fs::create_directories(state);
  fs::create_directories(mail);
  {
    std::ofstream roles(state / "roles.toml");
    const passwd* pw = getpwuid(geteuid());
    roles << "[roles]\n\"" << (pw ? pw->pw_name : "root") << "\" = \"admin\"\n";
  }
  omamori::notify::test::Peer smtp({"/usr/bin/python3", kSink.string(), mail.string()});
  {
    std::ofstream cfg(t / "omamori.toml");
    cfg << "[notify.smtp]\nhost = \"127.0.0.1\"\nport = " << smtp.port()
        << "\nstarttls = \"off\"\nfrom = \"おまもりネット セキュリティ窓口 <abuse@isp.example>\"\n";
  }
  std::string env = "OMAMORI_STATE_DIR=" + q(state) + " ";
  run(env + kBin + " subscribers import " + q(kDemo / "subscribers.csv"));
  std::string details;
  for (auto& e : fs::recursive_directory_iterator(kDemo / "radacct"))
    if (e.is_regular_file()) details += " " + q(e.path());
  run(env + kBin + " radius import --format detail" + details);
  run("cd " + q(kDemo) + " && " + env + kBin + " -c omamori.toml analyze --format jsonl --no-summary > " + q(t / "findings.jsonl"));
  auto ingest = nlohmann::json::parse(run(env + kBin + " cases ingest --json --findings " + q(t / "findings.jsonl")));
  EXPECT_GT(ingest["attributed"].get<int>(), 0) << ingest.dump();
  run(env + kBin + " -c " + q(t / "omamori.toml") + " cases notify --channel smtp --reason 'e2e: infected devices'");

  // Who should have been warned, from the ground truth.
  auto truth = nlohmann::json::parse(std::ifstream(kDemo / "truth.json"));
  auto emails = subscriber_emails();
  std::set<std::string> expected, withheld;
  for (const auto& i : truth["infections"]) {
    std::string kind = i["kind"];
    if (kind != "mirai-scanner" && kind != "mirai-ddos" && kind != "dga") continue;  // not an infected device
    (i["warnings_allowed"].get<bool>() ? expected : withheld).insert(emails.at(i["subscriber"].get<std::string>()));
  }
  ASSERT_FALSE(expected.empty());
  ASSERT_FALSE(withheld.empty()) << "the bundle must hold an infected subscriber without consent";

  auto files = omamori::notify::test::wait_for_mail(mail, expected.size());
  // Decode every message the server received: recipient, subject, body.
  {
    std::ofstream py(t / "decode.py");
    py << R"PY(import email, email.policy, glob, sys
for p in sorted(glob.glob(sys.argv[1] + "/*.eml")):
    env = open(p[:-4] + ".env").read().split("\n")
    rcpt = [l[3:] for l in env if l.startswith("to ")]
    m = email.message_from_bytes(open(p, "rb").read(), policy=email.policy.default)
    body = m.get_body().get_content().replace("\n", " ")
    print("\t".join([",".join(rcpt), m["To"], str(m["Subject"]), m["Content-Language"] or "", body]))
)PY";
  }
  std::string decoded = run("/usr/bin/python3 " + q(t / "decode.py") + " " + q(mail));
  std::set<std::string> got;
  for (const auto& l : lines(decoded)) {
    auto f = omamori::test::split(l, '\t');
    ASSERT_EQ(f.size(), 5u) << l;
    EXPECT_EQ(f[0], f[1]) << "envelope and header recipient differ";
    EXPECT_TRUE(got.insert(f[0]).second) << "two warnings to " << f[0];
    EXPECT_EQ(f[3], "ja");
    // Japanese subject and body, with the concrete steps for IoT devices.
    EXPECT_NE(f[2].find("\xE3\x81"), std::string::npos) << "subject not Japanese: " << f[2];
    EXPECT_NE(f[4].find("パスワード"), std::string::npos) << f[4].substr(0, 400);
    EXPECT_NE(f[4].find("ファームウェア"), std::string::npos);
  }
  EXPECT_EQ(got, expected);
  for (const auto& w : withheld) EXPECT_EQ(got.count(w), 0u) << "warned without consent: " << w;

  // The subscriber without consent is in the manual queue, nobody else.
  auto manual = lines(run(env + kBin + " cases list --queue manual --json"));
  EXPECT_EQ(manual.size(), withheld.size());
  // A second run sends nothing more (pacing).
  run(env + kBin + " -c " + q(t / "omamori.toml") + " cases notify --channel smtp --reason 'e2e: infected devices'");
  EXPECT_EQ(omamori::notify::test::wait_for_mail(mail, 0).size(), files.size());
  // Every step left a verifiable audit trail.
  run(env + kBin + " audit verify");

  // Retention, two years on: the ended sessions go from the journal (open
  // ones without interim updates may still be live and stay), the run is
  // audited and the log still verifies.
  auto sessions = [&] {
    std::string s = run(env + kBin + " radius status");
    return std::stoll(s.substr(s.find("sessions ") + 9));
  };
  long long before = sessions();
  std::string purge = run(env + kBin + " retention run --now 2029-01-01T00:00:00Z");
  auto line = purge.substr(purge.find("sessions "));
  long long purged = std::stoll(line.substr(line.find("Z  ") + 3));
  EXPECT_GT(purged, 0) << purge;
  EXPECT_EQ(sessions(), before - purged) << purge;
  EXPECT_NE(purge.find("cases (closed)"), std::string::npos) << purge;
  EXPECT_NE(purge.find("findings (unattributed)"), std::string::npos) << purge;
  EXPECT_NE(run(env + kBin + " audit show --action retention.purge").find("retention.purge"), std::string::npos);
  run(env + kBin + " audit verify");
  fs::remove_all(t);
}
