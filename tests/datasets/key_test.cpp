// Tests datasets/Key.cpp: parsing real-world spellings, GTZAN/index mappings, transposition, key files,
// and the MIREX weighted score against python3-mir-eval itself for every pair of labels it accepts.
#include "datasets/Key.h"

#include <cctype>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "datasets/Error.h"
#include "testutil/TestUtil.h"

namespace mcpt::datasets {
namespace {

namespace fs = std::filesystem;
using testutil::TempDir;
using testutil::write_text;

// The message of the mcpt::Error that fn throws; fails the test if it throws nothing.
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected mcpt::Error";
  return "";
}

TEST(KeyParse, EverySpellingMetInAnnotations) {
  const std::vector<std::pair<std::string, Key>> cases = {
      {"C minor", Key(0, Mode::kMinor)},
      {"Eb major", Key(3, Mode::kMajor)},
      {"c# minor", Key(1, Mode::kMinor)},
      {"A#  minor ", Key(10, Mode::kMinor)},
      {"\tA#\tminor\t", Key(10, Mode::kMinor)},
      {"  B major\r\n", Key(11, Mode::kMajor)},
      {"Am", Key(9, Mode::kMinor)},
      {"A m", Key(9, Mode::kMinor)},
      {"A min", Key(9, Mode::kMinor)},
      {"A minor", Key(9, Mode::kMinor)},
      {"C#m", Key(1, Mode::kMinor)},
      {"A:min", Key(9, Mode::kMinor)},
      {"A:maj", Key(9, Mode::kMajor)},
      {"A : minor", Key(9, Mode::kMinor)},
      {"A maj", Key(9, Mode::kMajor)},
      {"A major", Key(9, Mode::kMajor)},
      {"A", Key(9, Mode::kMajor)},
      {"F# Major", Key(6, Mode::kMajor)},
      {"F# MINOR", Key(6, Mode::kMinor)},
      {"Bbmaj", Key(10, Mode::kMajor)},
      {"Bbmin", Key(10, Mode::kMinor)},
      {"Bbm", Key(10, Mode::kMinor)},
      {"Bm", Key(11, Mode::kMinor)},
      {"Cmin", Key(0, Mode::kMinor)},
      {"C", Key(0, Mode::kMajor)},
      {"Db", Key(1, Mode::kMajor)},
      {"DB major", Key(1, Mode::kMajor)},
      {"C\xE2\x99\xAF minor", Key(1, Mode::kMinor)},  // C♯
      {"E\xE2\x99\xAD major", Key(3, Mode::kMajor)},  // E♭
      {"B\xE2\x99\xAD" "m", Key(10, Mode::kMinor)},   // B♭m
      {"B# major", Key(0, Mode::kMajor)},
      {"Cb major", Key(11, Mode::kMajor)},
      {"Fb minor", Key(4, Mode::kMinor)},
      {"E# minor", Key(5, Mode::kMinor)},
      {"C other", Key(0, Mode::kOther)},
      {"D modal", Key(2, Mode::kOther)},
      {"X", Key::none()},
      {"x", Key::none()},
      {"none", Key::none()},
      {"None", Key::none()},
      {"N", Key::none()},
      {" X\n", Key::none()},
  };
  for (const auto& [text, want] : cases) {
    SCOPED_TRACE("\"" + text + "\"");
    const Key got = Key::parse(text);
    EXPECT_EQ(got, want) << got.name() << " vs " << want.name();
  }
}

TEST(KeyParse, RejectsNonKeysNamingTheText) {
  for (const std::string text : {"H major", "C minor / F minor", "G minor/major", "-", "", " ", "A-A# minor",
                                 "X major", "C minor major", "C majeur", "C#b minor", "C:", "Cm7", "c minor\t2"}) {
    SCOPED_TRACE("\"" + text + "\"");
    const std::string message = error_of([&] { Key::parse(text); });
    EXPECT_NE(message.find("\"" + text + "\""), std::string::npos) << message;
  }
  EXPECT_EQ(error_of([] { Key::parse("C minor / F minor"); }),
            "not a key: \"C minor / F minor\" (expected \"<tonic> <mode>\" such as \"C# minor\", or \"X\")");
}

TEST(KeyParse, BareUpperCaseMIsAmbiguous) {
  // "CM" is C major in chord symbols but C minor in an all-caps "CM" for "Cm"; refuse to guess.
  const std::string message = error_of([] { Key::parse("AM"); });
  EXPECT_NE(message.find("\"AM\""), std::string::npos) << message;
  EXPECT_NE(message.find("\"A major\" or \"A minor\""), std::string::npos) << message;
  EXPECT_THROW(Key::parse("A M"), Error);
}

// Key::parse has a fast path for mir_eval's own spelling ("C# minor") in front of the general grammar.
// These tests hold both to a model of the grammar written out here, over every combination of the
// parts of a label, so that the fast path cannot take a string the grammar reads otherwise (or reads
// as an error), and every near miss of it still gets the grammar's key or error message.
struct LabelModel {
  bool ok = false;  // false: parse must throw a "not a key" or "ambiguous key" mcpt::Error
  Key key;
};

// The grammar of Key.h for "<letter><accidental><separator><mode>", surrounding whitespace aside.
LabelModel model_of(char letter, const std::string& accidental, const std::string& separator,
                    const std::string& mode) {
  const std::map<char, int> naturals = {{'c', 0}, {'d', 2}, {'e', 4}, {'f', 5}, {'g', 7}, {'a', 9}, {'b', 11}};
  const std::map<std::string, int> accidentals = {{"", 0},  {"#", 1},  {"b", -1}, {"B", -1},
                                                  {"\xE2\x99\xAF", 1}, {"\xE2\x99\xAD", -1}};
  const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(letter)));
  if (!naturals.count(lower) || !accidentals.count(accidental)) return {};
  const int tonic = naturals.at(lower) + accidentals.at(accidental);
  std::string word;
  for (char c : mode) word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool colon = separator.find(':') != std::string::npos;
  if (mode.empty()) return colon ? LabelModel{} : LabelModel{true, Key(tonic, Mode::kMajor)};  // bare tonic
  if (mode == "M") return {};                                                                  // ambiguous
  if (word == "major" || word == "maj") return {true, Key(tonic, Mode::kMajor)};
  if (word == "minor" || word == "min" || word == "m") return {true, Key(tonic, Mode::kMinor)};
  if (word == "other" || word == "modal") return {true, Key(tonic, Mode::kOther)};
  return {};
}

void expect_parse_as_model(const std::string& text, const LabelModel& want) {
  SCOPED_TRACE("\"" + text + "\"");
  if (want.ok) {
    Key got;
    EXPECT_NO_THROW(got = Key::parse(text));
    EXPECT_EQ(got, want.key) << got.name() << " vs " << want.key.name();
  } else {
    std::string shown;  // as the message shows it: line breaks escaped
    for (const char c : text) shown += c == '\r' ? "\\x0d" : c == '\n' ? "\\x0a" : std::string(1, c);
    const std::string message = error_of([&] { Key::parse(text); });
    const bool named = message.rfind("not a key: \"" + shown + "\" (expected", 0) == 0 ||
                       message.rfind("ambiguous key: \"" + shown + "\"", 0) == 0;
    EXPECT_TRUE(named) << message;
  }
}

TEST(KeyParse, FastPathAgreesWithGrammar) {
  // Every letter (and non-letters next to them), every accidental and a few bad ones, separators,
  // mode words in several cases and near misses of them: 16 x 9 x 6 x 25 labels, each bare and with
  // whitespace around it. Lengths 7 and 8 ("C major", "C# major") are the fast path's.
  const std::string letters = "ABCDEFGabcdefgHh";
  const std::vector<std::string> accidentals = {"", "#", "b", "B", "\xE2\x99\xAF", "\xE2\x99\xAD", "x", "##", "#b"};
  const std::vector<std::string> separators = {" ", "", "  ", "\t", ":", " : "};
  const std::vector<std::string> modes = {"major", "minor", "Major", "MINOR", "mAjOr", "maj", "min", "MAJ",
                                          "m", "M", "", "other", "modal", "majo", "mino", "majr", "minr",
                                          "majors", "minors", "mayor", "ninor", "ma jor", "major/", "Minor", "minoR"};
  const std::vector<std::pair<std::string, std::string>> surroundings = {{"", ""}, {" ", ""}, {"", " "}, {"\t", "\r\n"}};
  int canonical = 0;
  for (const char letter : letters)
    for (const std::string& accidental : accidentals)
      for (const std::string& separator : separators)
        for (const std::string& mode : modes) {
          const LabelModel want = model_of(letter, accidental, separator, mode);
          const std::string label = std::string(1, letter) + accidental + separator + mode;
          for (const auto& [before, after] : surroundings) {
            const std::string text = before + label + after;
            canonical += (text.size() == 7 || text.size() == 8) && want.ok;
            expect_parse_as_model(text, want);
          }
        }
  EXPECT_GT(canonical, 500);  // the fast path's lengths are well covered
}

TEST(KeyParse, MirEvalSpellingGivesEveryKey) {
  // The fast path's own set, checked against the key it must give: 7 letters x {"", "#", "b"} x 2 modes.
  const std::map<char, int> naturals = {{'C', 0}, {'D', 2}, {'E', 4}, {'F', 5}, {'G', 7}, {'A', 9}, {'B', 11}};
  int seen = 0;
  for (const auto& [letter, natural] : naturals)
    for (const auto& [accidental, shift] : std::vector<std::pair<std::string, int>>{{"", 0}, {"#", 1}, {"b", -1}})
      for (const Mode mode : {Mode::kMajor, Mode::kMinor}) {
        const std::string text = std::string(1, letter) + accidental + " " + mode_name(mode);
        const Key got = Key::parse(text);
        EXPECT_EQ(got, Key(natural + shift, mode)) << text << " -> " << got.name();
        EXPECT_EQ(got.index(), (mode == Mode::kMinor ? 12 : 0) + (natural + shift + 12) % 12) << text;
        ++seen;
      }
  EXPECT_EQ(seen, 42);
  // Near misses of the fast path's lengths that the grammar reads (or rejects) on its own.
  EXPECT_EQ(Key::parse("C  major"), Key(0, Mode::kMajor));
  EXPECT_EQ(Key::parse("C\tminor"), Key(0, Mode::kMinor));
  EXPECT_EQ(Key::parse("C\nmajor"), Key(0, Mode::kMajor));
  EXPECT_EQ(Key::parse("C#major"), Key(1, Mode::kMajor));
  EXPECT_EQ(Key::parse("Cmajor "), Key(0, Mode::kMajor));
  EXPECT_EQ(Key::parse("CB minor"), Key(11, Mode::kMinor));
  EXPECT_EQ(Key::parse("c# MINOR"), Key(1, Mode::kMinor));
  EXPECT_EQ(Key::parse("B# major"), Key(0, Mode::kMajor));
  EXPECT_EQ(Key::parse("Cb minor"), Key(11, Mode::kMinor));
  EXPECT_EQ(error_of([] { Key::parse("H major"); }),
            "not a key: \"H major\" (expected \"<tonic> <mode>\" such as \"C# minor\", or \"X\")");
  for (const std::string text : {"C# mayor", "Cx major", "C minoR1", "C majo r", "C# majo", "C%minor"}) {
    SCOPED_TRACE(text);
    EXPECT_THROW(Key::parse(text), Error);
  }
}

TEST(Key, EnharmonicsAreEqual) {
  EXPECT_EQ(Key::parse("C# minor"), Key::parse("Db minor"));
  EXPECT_EQ(Key::parse("Gb major"), Key::parse("F# major"));
  EXPECT_EQ(Key::parse("B# major"), Key::parse("C major"));
  EXPECT_EQ(Key::parse("Cb minor"), Key::parse("B minor"));
  EXPECT_EQ(Key::parse("Fb major"), Key::parse("E major"));
  EXPECT_EQ(Key::parse("E# major"), Key::parse("F major"));
  EXPECT_NE(Key::parse("C major"), Key::parse("C minor"));
  EXPECT_NE(Key::parse("C major"), Key::parse("C other"));
  EXPECT_NE(Key::parse("C major"), Key::none());
  EXPECT_EQ(Key::none(), Key::parse("X"));
  EXPECT_EQ(Key(-1, Mode::kMajor), Key(11, Mode::kMajor));
  EXPECT_EQ(Key(25, Mode::kMinor), Key(1, Mode::kMinor));
}

TEST(Key, GtzanMappingFollowsKraft) {
  const char* const names[12] = {"A", "A#", "B", "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#"};
  for (int v = 0; v < 24; ++v) {
    const std::string want = std::string(names[v % 12]) + (v < 12 ? " major" : " minor");
    EXPECT_EQ(Key::from_gtzan(v).name(), want) << v;
  }
  EXPECT_TRUE(Key::from_gtzan(-1).is_none());
  for (int bad : {24, -2, 100}) {
    const std::string message = error_of([&] { Key::from_gtzan(bad); });
    EXPECT_NE(message.find(std::to_string(bad)), std::string::npos) << message;
  }
}

TEST(Key, IndexRoundTrip) {
  for (int i = 0; i < Key::kNumClasses; ++i) {
    const Key k = Key::from_index(i);
    EXPECT_EQ(k.index(), i);
    EXPECT_TRUE(k.has_index());
    EXPECT_EQ(k.tonic(), i % 12);
    EXPECT_EQ(k.mode(), i < 12 ? Mode::kMajor : Mode::kMinor);
  }
  EXPECT_EQ(Key::from_index(0).name(), "C major");
  EXPECT_EQ(Key::from_index(13).name(), "C# minor");
  EXPECT_EQ(Key::from_index(23).name(), "B minor");
  EXPECT_TRUE(Key::from_index(-1).is_none());
  EXPECT_EQ(Key::none().index(), -1);
  EXPECT_FALSE(Key::none().has_index());
  EXPECT_EQ(Key(4, Mode::kOther).index(), -1);
  EXPECT_THROW(Key::from_index(24), Error);
  EXPECT_THROW(Key::from_index(-2), Error);
  EXPECT_THROW(Key::none().tonic(), Error);
  EXPECT_THROW(Key::none().mode(), Error);
}

TEST(Key, Transposition) {
  const Key c_minor = Key::parse("C minor");
  EXPECT_EQ(c_minor.transposed(0), c_minor);
  EXPECT_EQ(c_minor.transposed(2), Key::parse("D minor"));
  EXPECT_EQ(c_minor.transposed(-1), Key::parse("B minor"));
  EXPECT_EQ(c_minor.transposed(-13), Key::parse("B minor"));
  EXPECT_EQ(c_minor.transposed(24), c_minor);
  EXPECT_EQ(c_minor.transposed(-24), c_minor);
  EXPECT_EQ(Key::parse("A other").transposed(3), Key::parse("C other"));
  EXPECT_TRUE(Key::none().transposed(5).is_none());
  for (int k = -30; k <= 30; ++k)
    for (int i = 0; i < Key::kNumClasses; ++i) {
      const Key key = Key::from_index(i);
      EXPECT_EQ(key.transposed(k).transposed(-k), key);
      EXPECT_EQ(key.transposed(k), key.transposed(k + 12));
    }
}

TEST(Key, NameRoundTrip) {
  for (int i = 0; i < Key::kNumClasses; ++i) {
    const Key k = Key::from_index(i);
    EXPECT_EQ(Key::parse(k.name()), k);
    EXPECT_EQ(k.name().find('b'), std::string::npos) << "sharps only: " << k.name();
  }
  EXPECT_EQ(Key::parse("Db minor").name(), "C# minor");
  EXPECT_EQ(Key::parse("G other").name(), "G other");
  EXPECT_EQ(Key::none().name(), "X");
  EXPECT_EQ(Key::parse(Key::none().name()), Key::none());
  EXPECT_EQ(mode_name(Mode::kMajor), "major");
  EXPECT_EQ(mode_name(Mode::kMinor), "minor");
  EXPECT_EQ(mode_name(Mode::kOther), "other");
}

TEST(KeyScore, RelationNamesAndScores) {
  const std::map<KeyRelation, std::pair<std::string, double>> want = {
      {KeyRelation::kCorrect, {"correct", 1.0}}, {KeyRelation::kFifth, {"fifth", 0.5}},
      {KeyRelation::kRelative, {"relative", 0.3}}, {KeyRelation::kParallel, {"parallel", 0.2}},
      {KeyRelation::kOther, {"other", 0.0}}};
  for (KeyRelation r : kAllRelations) {
    EXPECT_EQ(relation_name(r), want.at(r).first);
    EXPECT_EQ(relation_score(r), want.at(r).second);
  }
}

TEST(KeyScore, HandCheckedCases) {
  auto rel = [](const char* ref, const char* est, bool descending = false) {
    return key_relation(Key::parse(ref), Key::parse(est), ScoreOptions{descending});
  };
  EXPECT_EQ(rel("C major", "C major"), KeyRelation::kCorrect);
  EXPECT_EQ(rel("C major", "G major"), KeyRelation::kFifth);
  EXPECT_EQ(rel("G major", "C major"), KeyRelation::kOther);  // mir_eval 0.7: a fifth below scores 0
  EXPECT_EQ(rel("G major", "C major", true), KeyRelation::kFifth);
  EXPECT_EQ(rel("A minor", "D minor", true), KeyRelation::kFifth);
  EXPECT_EQ(rel("A minor", "D major", true), KeyRelation::kOther);  // fifths need the same mode
  EXPECT_EQ(rel("C major", "A minor"), KeyRelation::kRelative);
  EXPECT_EQ(rel("A minor", "C major"), KeyRelation::kRelative);
  EXPECT_EQ(rel("C major", "C minor"), KeyRelation::kParallel);
  EXPECT_EQ(rel("C major", "E minor"), KeyRelation::kOther);
  // mir_eval's quirks with "X" and mode "other":
  EXPECT_EQ(rel("X", "X"), KeyRelation::kCorrect);
  EXPECT_EQ(rel("X", "C major"), KeyRelation::kOther);
  EXPECT_EQ(rel("C major", "X"), KeyRelation::kOther);
  EXPECT_EQ(rel("C other", "C other"), KeyRelation::kCorrect);
  EXPECT_EQ(rel("C other", "G other"), KeyRelation::kFifth);
  EXPECT_EQ(rel("G other", "C other", true), KeyRelation::kFifth);
  EXPECT_EQ(rel("C major", "A other"), KeyRelation::kRelative);  // only the reference must be major
  EXPECT_EQ(rel("A minor", "C other"), KeyRelation::kRelative);
  EXPECT_EQ(rel("C other", "A minor"), KeyRelation::kOther);
  EXPECT_EQ(rel("C major", "C other"), KeyRelation::kParallel);
  EXPECT_EQ(rel("C other", "C minor"), KeyRelation::kParallel);
  EXPECT_EQ(weighted_score(Key::parse("C major"), Key::parse("A minor")), 0.3);
}

// weighted_score answers the 24 x 24 major/minor pairs under the default options from a table; it
// must equal the rules (key_relation) for every pair, with every option, and mir_eval's definitions
// written out here for the 24 x 24.
TEST(KeyScore, TableEqualsRulesForEveryPair) {
  std::vector<Key> keys;
  for (int i = 0; i < Key::kNumClasses; ++i) keys.push_back(Key::from_index(i));
  for (int t = 0; t < 12; ++t) keys.push_back(Key(t, Mode::kOther));
  keys.push_back(Key::none());
  for (const bool descending : {false, true}) {
    const ScoreOptions options{descending};
    for (const Key& ref : keys)
      for (const Key& est : keys) {
        SCOPED_TRACE(ref.name() + " vs " + est.name() + (descending ? ", descending fifths" : ""));
        EXPECT_EQ(weighted_score(ref, est, options), relation_score(key_relation(ref, est, options)));
      }
  }
  // The definitions, per reference: itself 1.0, a fifth up (same mode) 0.5, the relative 0.3 (minor
  // a minor third below a major key, major a minor third above a minor key), the parallel 0.2.
  for (int r = 0; r < Key::kNumClasses; ++r)
    for (int e = 0; e < Key::kNumClasses; ++e) {
      const int rt = r % 12, et = e % 12, up = (et - rt + 12) % 12;
      const bool r_minor = r >= 12, e_minor = e >= 12;
      double want = 0.0;
      if (r == e)
        want = 1.0;
      else if (r_minor == e_minor && up == 7)
        want = 0.5;
      else if (!r_minor && e_minor && up == 9)
        want = 0.3;
      else if (r_minor && !e_minor && up == 3)
        want = 0.3;
      else if (r_minor != e_minor && up == 0)
        want = 0.2;
      const double want_descending = r_minor == e_minor && up == 5 ? 0.5 : want;
      const Key ref = Key::from_index(r), est = Key::from_index(e);
      EXPECT_EQ(weighted_score(ref, est), want) << ref.name() << " vs " << est.name();
      EXPECT_EQ(weighted_score(ref, est, ScoreOptions{true}), want_descending) << ref.name() << " vs " << est.name();
      EXPECT_EQ(weighted_score(Key::parse(ref.name()), Key::parse(est.name())), want);
    }
}

struct MirEvalPair {
  std::string ref, est;
  double score = 0, descending = 0;
};

// Runs tests/datasets/mir_eval_pairs.py with the system python, which has python3-mir-eval.
std::vector<MirEvalPair> mir_eval_pairs(std::string& header) {
  const fs::path script = testutil::source_dir() / "tests" / "datasets" / "mir_eval_pairs.py";
  const auto result = testutil::run_command("'" + testutil::python() + "' '" + script.string() + "'");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  std::istringstream in(result.out);
  std::getline(in, header);
  std::vector<MirEvalPair> pairs;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    MirEvalPair p;
    std::string score, descending;
    std::getline(fields, p.ref, '\t');
    std::getline(fields, p.est, '\t');
    std::getline(fields, score, '\t');
    std::getline(fields, descending, '\t');
    p.score = std::strtod(score.c_str(), nullptr);
    p.descending = std::strtod(descending.c_str(), nullptr);
    pairs.push_back(p);
  }
  return pairs;
}

TEST(KeyScore, IdenticalToMirEvalForEveryAcceptedPair) {
  std::string header;
  const std::vector<MirEvalPair> pairs = mir_eval_pairs(header);
  // 17 tonic spellings in mir_eval's KEY_TO_SEMITONE, every letter case (7 naturals x 2, 5 sharps x 2,
  // 5 flats x 4 = 44), x 3 modes, plus "X" and "x": 134 labels.
  constexpr size_t kLabels = 44 * 3 + 2;
  ASSERT_EQ(header.rfind("# mir_eval 0.7 134 17956 ", 0), 0u) << header;
  ASSERT_EQ(pairs.size(), kLabels * kLabels);
  std::map<double, int> seen;
  int mismatches = 0;
  for (const MirEvalPair& p : pairs) {
    const Key ref = Key::parse(p.ref), est = Key::parse(p.est);
    const double got = weighted_score(ref, est);
    const double got_descending = weighted_score(ref, est, ScoreOptions{true});
    ++seen[p.score];
    if (got != p.score || got_descending != p.descending) {
      if (++mismatches <= 20)
        ADD_FAILURE() << "\"" << p.ref << "\" vs \"" << p.est << "\": mir_eval " << p.score << " / "
                      << p.descending << " (descending fifths), ours " << got << " / " << got_descending;
    }
  }
  EXPECT_EQ(mismatches, 0);
  // Every score category occurs, so the comparison exercises every branch.
  EXPECT_EQ(seen.size(), 5u);
}

// The GiantSteps key annotations copied into tests/data: one "<Tonic> <mode>" line, no trailing newline.
TEST(KeyFile, ReadsGiantStepsFiles) {
  const fs::path dir = testutil::test_data() / "giantsteps-key" / "annotations" / "key";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  EXPECT_EQ(read_key_file(dir / "1004923.LOFI.key"), Key::parse("C minor"));
  EXPECT_EQ(read_key_file(dir / "1007941.LOFI.key"), Key::parse("F minor"));
  EXPECT_EQ(read_key_file(dir / "10089.LOFI.key"), Key::parse("D major"));
}

TEST(KeyFile, AcceptsCommentsBlankLinesCrlfAndBom) {
  TempDir tmp("key");
  write_text(tmp / "a.key", "# reference key\n\n  \nEb minor\n\n# done\n");
  EXPECT_EQ(read_key_file(tmp / "a.key"), Key::parse("D# minor"));
  write_text(tmp / "b.key", "# comment\r\nF# major\r\n");
  EXPECT_EQ(read_key_file(tmp / "b.key"), Key::parse("F# major"));
  write_text(tmp / "c.key", "\xEF\xBB\xBF" "A minor");
  EXPECT_EQ(read_key_file(tmp / "c.key"), Key::parse("A minor"));
  write_text(tmp / "d.key", "X\n");
  EXPECT_TRUE(read_key_file(tmp / "d.key").is_none());
  write_text(tmp / "e.key", "Bb\tmajor");
  EXPECT_EQ(read_key_file(tmp / "e.key"), Key::parse("A# major"));
}

TEST(KeyFile, BadFilesNameThePathAndLine) {
  TempDir tmp("key");
  auto message = [&](const std::string& name, const std::string& content) {
    write_text(tmp / name, content);
    const std::string m = error_of([&] { read_key_file(tmp / name); });
    EXPECT_NE(m.find((tmp / name).string()), std::string::npos) << m;
    return m;
  };
  EXPECT_NE(message("empty.key", "").find("empty"), std::string::npos);
  EXPECT_NE(message("comments.key", "# one\n\n# two\n").find("no key line"), std::string::npos);
  const std::string two = message("two.key", "C major\n# x\nD minor\n");
  EXPECT_NE(two.find(":3:"), std::string::npos) << two;
  EXPECT_NE(two.find("\"D minor\""), std::string::npos) << two;
  EXPECT_NE(two.find("line 1"), std::string::npos) << two;
  const std::string bad = message("bad.key", "# a comment\nC minor / F minor\n");
  EXPECT_NE(bad.find(":2: not a key: \"C minor / F minor\""), std::string::npos) << bad;
  const std::string missing = error_of([&] { read_key_file(tmp / "missing.key"); });
  EXPECT_NE(missing.find("missing.key"), std::string::npos) << missing;
}

}  // namespace
}  // namespace mcpt::datasets
