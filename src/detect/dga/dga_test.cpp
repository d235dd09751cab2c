// DGA model: scoring, name splitting, the held-out evaluation, the Zeek log
// false-positive rate and training determinism.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "core/psl.hpp"
#include "detect/dga/model.hpp"
#include "detect/dga/train.hpp"
#include "detect/dga/zeek_queries.hpp"

using namespace omamori;
using namespace omamori::dga;

namespace {
const std::string kData = OMAMORI_SHARED_DATA;
const std::string kDgaFile = kData + "/dga/dga_domains.csv";
const std::string kBenignFile = kData + "/dga/benign_domains.csv";
const std::string kZeek = kData + "/dns/zeek-dns.log.gz";

const Model& builtin() {
  std::string err;
  const Model* m = Model::builtin(err);
  if (!m) {
    ADD_FAILURE() << err;
    std::abort();
  }
  return *m;
}

const Dataset& dataset() {
  static Dataset d = [] {
    Dataset x;
    std::string err;
    EXPECT_TRUE(load_dataset(kDgaFile, kBenignFile, x, err)) << err;
    return x;
  }();
  return d;
}
}  // namespace

TEST(DgaModel, BuiltinModelLoads) {
  const Model& m = builtin();
  EXPECT_GE(m.info().order, 3u);
  EXPECT_GT(m.info().train_benign, 20000u);
  EXPECT_GT(m.info().train_dga, 20000u);
  EXPECT_LE(m.bytes(), 8u << 20);
}

TEST(DgaModel, ObviousDgaAndObviousBenign) {
  Scorer sc(builtin());
  for (const char* n : {"kq0qw6o2siwq.org", "xjwqpzkhvbnmtr.com", "qxzvbkwjhgtplmn.info", "www.zzkxqjwvbnptr.biz",
                        "7yhg3kq9xw2mz5.ru"}) {
    auto r = sc.score(n);
    EXPECT_TRUE(r.dga) << n << " " << r.score;
    EXPECT_GE(r.score, 0.5) << n;
  }
  for (const char* n : {"google.com", "www.wikipedia.org", "news.bbc.co.uk", "facebook.com", "amazon.co.jp",
                        "login.microsoftonline.com", "github.com", "mail.yahoo.com", "stackoverflow.com", "ubuntu.com",
                        "weather.gov", "Example.COM."}) {
    auto r = sc.score(n);
    EXPECT_FALSE(r.dga) << n << " " << r.score;
    EXPECT_LT(r.score, 0.5) << n;
  }
}

TEST(DgaModel, ScoresAreDeterministicAndCaseInsensitive) {
  Scorer a(builtin()), b(builtin());
  for (const auto& s : dataset().test) {
    if (&s - dataset().test.data() > 2000) break;
    double x = a.score(s.name).score;
    EXPECT_EQ(x, a.score(s.name).score);
    EXPECT_EQ(x, b.score(s.name).score);
    std::string upper = s.name;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(x, b.score(upper + ".").score) << s.name;
  }
}

TEST(DgaModel, NotScoredNames) {
  Scorer sc(builtin());
  EXPECT_EQ(sc.score("156.0.16.172.in-addr.arpa").skip, Skip::kReverse);
  EXPECT_EQ(sc.score("b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa").skip, Skip::kReverse);
  EXPECT_EQ(sc.score("_googlecast._tcp.local").skip, Skip::kService);
  EXPECT_EQ(sc.score("xn--80ak6aa92e.com").skip, Skip::kIdn);
  EXPECT_EQ(sc.score("").skip, Skip::kEmpty);
  EXPECT_EQ(sc.score("..").skip, Skip::kEmpty);
  EXPECT_EQ(sc.score(std::string(300, 'a')).skip, Skip::kTooLong);
  EXPECT_FALSE(sc.score("156.0.16.172.in-addr.arpa").dga);
  EXPECT_EQ(sc.score("d13vvqr7dxay1j.cloudfront.net").skip, Skip::kPlatform);
  EXPECT_EQ(sc.score("s4spujqaty.us-east-1.elasticbeanstalk.com").skip, Skip::kPlatform);
  EXPECT_EQ(sc.score("cloudfront.net").skip, Skip::kNone);
  EXPECT_EQ(sc.score("xcloudfront.net").skip, Skip::kNone);
}

// The cached suffix walk gives libpsl's registered domain.
TEST(DgaModel, SplitterAgreesWithLibpsl) {
  NameSplitter sp;
  size_t checked = 0;
  auto check = [&](std::string_view name) {
    auto p = sp.split(name);
    if (p.skip == Skip::kTooLong || p.skip == Skip::kReverse || p.skip == Skip::kEmpty) return;
    std::string n(p.name);
    std::string_view rd = registered_domain(n);
    if (rd.empty()) return;  // a public suffix itself, or one label: the splitter scores its first label
    EXPECT_EQ(p.rd, rd) << name;
    EXPECT_EQ(p.label, rd.substr(0, rd.find('.'))) << name;
    ++checked;
  };
  for (const auto& s : dataset().train) check(s.name);
  ReasonCounters errors;
  std::string err;
  ASSERT_TRUE(read_zeek_dns(
      kZeek, [&](const ZeekDnsRow& r) { check(r.query); }, errors, err))
      << err;
  EXPECT_GT(checked, 90000u);
  auto p = sp.split("a.b.k2j4x9q.co.uk");
  EXPECT_EQ(p.label, "k2j4x9q");
  EXPECT_EQ(p.suffix, "co.uk");
  EXPECT_EQ(p.rd, "k2j4x9q.co.uk");
}

// The must-show figure: train on 70%, evaluate on the held-out 30%.
// Goal: F1 >= 0.95 with FPR <= 1%. Measured with the shipped model:
// precision 0.9898, recall 0.9153, F1 0.9511, FPR 0.93% (see docs/dga.md).
TEST(DgaModel, HeldOutEvaluation) {
  const auto& d = dataset();
  EXPECT_EQ(d.train.size() + d.test.size() + d.duplicates, 33746u + 33740u);
  EXPECT_GT(d.test.size(), 19000u);
  EXPECT_LT(d.test.size(), 21500u);
  for (const auto& s : d.test) ASSERT_TRUE(in_test_part(s.name));
  auto e = evaluate(builtin(), d.test);
  RecordProperty("precision", std::to_string(e.precision()));
  RecordProperty("recall", std::to_string(e.recall()));
  RecordProperty("f1", std::to_string(e.f1()));
  RecordProperty("fpr", std::to_string(e.fpr()));
  std::printf("held-out: precision %.4f recall %.4f F1 %.4f FPR %.4f (tp %lu fp %lu tn %lu fn %lu)\n", e.precision(),
              e.recall(), e.f1(), e.fpr(), (unsigned long)e.tp, (unsigned long)e.fp, (unsigned long)e.tn,
              (unsigned long)e.fn);
  EXPECT_LE(e.fpr(), 0.01);
  EXPECT_GE(e.precision(), 0.985);
  EXPECT_GE(e.f1(), 0.95);
  EXPECT_GE(e.recall(), 0.91);
  // Training-part figures stored in the model (out of fold).
  EXPECT_LE(builtin().info().train_fpr, 0.0101);
}

// False positives on real queries: distinct registered domains of the Zeek log flagged as DGA.
TEST(DgaModel, ZeekLogFalsePositiveRate) {
  std::set<std::string> rds;
  ReasonCounters errors;
  std::string err;
  NameSplitter sp;
  ASSERT_TRUE(read_zeek_dns(
      kZeek,
      [&](const ZeekDnsRow& r) {
        auto p = sp.split(r.query);
        if (p.skip == Skip::kReverse || p.rd.empty()) return;
        rds.insert(std::string(p.rd));
      },
      errors, err))
      << err;
  EXPECT_EQ(errors.total(), 0u);
  Scorer sc(builtin());
  std::vector<std::string> flagged;
  for (const auto& rd : rds)
    if (sc.score(rd).dga) flagged.push_back(rd);
  double fpr = double(flagged.size()) / double(rds.size());
  std::printf("zeek: %zu of %zu registered domains flagged (FPR %.4f):", flagged.size(), rds.size(), fpr);
  for (const auto& f : flagged) std::printf(" %s", f.c_str());
  std::printf("\n");
  EXPECT_GT(rds.size(), 300u);
  EXPECT_LE(fpr, 0.01);  // measured: 1 of 689 (crwdcntrl.net)
}

TEST(DgaModel, ModelFileRoundTripAndCorruption) {
  const Model& m = builtin();
  auto bytes = m.serialize();
  std::string err;
  auto again = Model::parse(bytes, err);
  ASSERT_TRUE(again) << err;
  EXPECT_EQ(again->serialize(), bytes);
  Scorer a(m), b(*again);
  for (const char* n : {"google.com", "kq0qw6o2siwq.org"}) EXPECT_EQ(a.score(n).score, b.score(n).score);
  // Truncated, flipped, empty: rejected with a message, never a crash.
  auto cut = bytes;
  cut.resize(bytes.size() / 2);
  EXPECT_FALSE(Model::parse(cut, err));
  EXPECT_FALSE(err.empty());
  auto flip = bytes;
  flip[flip.size() / 3] ^= 0x40;
  EXPECT_FALSE(Model::parse(flip, err));
  EXPECT_FALSE(Model::parse({}, err));
  EXPECT_FALSE(Model::load("/nonexistent/model.bin", err));
}

// Training is deterministic: two runs on the same names give the same bytes.
TEST(DgaTraining, DeterministicOnASubset) {
  std::vector<Sample> sub;
  for (const auto& s : dataset().train)
    if (XXH64(s.name.data(), s.name.size(), 1) % 20 == 0) sub.push_back(s);
  ASSERT_GT(sub.size(), 2000u);
  TrainParams p;
  p.hashed_bits = 16;
  p.hashed_epochs = 2;
  auto a = train(sub, p)->serialize();
  auto b = train(sub, p)->serialize();
  EXPECT_EQ(a, b);
  std::string err;
  auto m = Model::parse(a, err);
  ASSERT_TRUE(m) << err;
  // Even a model trained on 1/20 of the training part separates the obvious cases.
  Scorer sc(*m);
  EXPECT_TRUE(sc.score("xjwqpzkhvbnmtr.com").dga);
  EXPECT_FALSE(sc.score("google.com").dga);
}

#ifdef NDEBUG
// The shipped model is what `omamori dga train` makes from the shared data
// with the default parameters (release builds only: ~20 s).
TEST(DgaTraining, ShippedModelIsReproducible) {
  std::ifstream in(OMAMORI_DGA_MODEL_FILE, std::ios::binary);
  ASSERT_TRUE(in) << OMAMORI_DGA_MODEL_FILE;
  std::vector<uint8_t> shipped((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto m = train(dataset().train, TrainParams{});
  EXPECT_TRUE(m->serialize() == shipped) << "retrain with: omamori dga train --dga " << kDgaFile << " --benign "
                                         << kBenignFile << " --out data/dga/model.bin";
}
#endif
