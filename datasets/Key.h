// Musical key (tonic pitch class + mode, or "no key") and the MIREX key metric, identical to
// mir_eval.key.weighted_score (0.7) for every pair of labels it accepts, with newer mir_eval's
// allow_descending_fifths option. tests/datasets/key_test.cpp checks all pairs against mir_eval itself.
#pragma once
#include <array>
#include <filesystem>
#include <string>
#include <string_view>

namespace mcpt::datasets {

// kOther is mir_eval's mode "other" (neither major nor minor); the metric treats it as a third mode.
enum class Mode { kMajor, kMinor, kOther };

class Key {
 public:
  static constexpr int kNumClasses = 24;  // 0..11 C..B major, 12..23 C..B minor

  Key() = default;  // "no key" (mir_eval's X)
  // tonic: pitch class 0 (C) .. 11 (B), any int is reduced mod 12. constexpr for Key.cpp's table of
  // the 24 keys (Key::parse's fast path).
  constexpr Key(int tonic, Mode mode) : tonic_((tonic % 12 + 12) % 12), mode_(mode), has_key_(true) {}

  // Parses any spelling met in real annotations: "C minor", "Eb major", "c# minor", "A#  minor ",
  // "Am", "C#m", "A:min", "F# Major", "Bbmaj", "C" (bare tonic = major), "X", "none"...
  // Grammar, case-insensitive, surrounding whitespace ignored:
  //   X | N | none                                  -> no key
  //   letter A-G, at most one of # b U+266F U+266D, then nothing (major), or [whitespace | ':'] and a mode word:
  //   major maj -> major; minor min m -> minor; other modal -> Mode::kOther.
  // Enharmonics (Db = C#, Cb = B, E# = F, ...) give the same key. A lone upper-case "M" ("AM", "A M")
  // is refused as ambiguous (major in chord symbols, an upper-cased "m" in all-caps labels).
  // Anything else ("H major", "C minor / F minor", "-", "") throws mcpt::Error naming the text.
  static Key parse(std::string_view text);
  // GTZAN-key integers (Kraft's convention): 0..11 = A..G# major, 12..23 = A..G# minor, -1 = no key.
  // Other values throw mcpt::Error naming the value.
  static Key from_gtzan(int value);
  static Key from_index(int index);  // 0..23 as index(); -1 = no key; other values throw mcpt::Error
  static Key none() { return Key(); }

  bool is_none() const { return !has_key_; }
  int tonic() const;  // pitch class 0..11; throws mcpt::Error (ExitCode::kInternal) for "no key"
  Mode mode() const;  // throws mcpt::Error (ExitCode::kInternal) for "no key"
  // 0..11 major (C..B), 12..23 minor (C..B); -1 for no key or mode "other".
  // Inline and without a branch on major/minor: weighted_score looks keys up by index (P1).
  int index() const { return !has_key_ || mode_ == Mode::kOther ? -1 : (mode_ == Mode::kMinor ? 12 : 0) + tonic_; }
  bool has_index() const { return index() >= 0; }
  Key transposed(int semitones) const;  // any int, negative too; "no key" stays "no key"
  // Canonical name in mir_eval's format with sharps: "C# minor", "D other", "X" for no key.
  std::string name() const;

  bool operator==(const Key& o) const;  // same pitch class and mode, or both "no key"
  bool operator!=(const Key& o) const { return !(*this == o); }

 private:
  int tonic_ = 0;
  Mode mode_ = Mode::kMajor;
  bool has_key_ = false;
};

std::string mode_name(Mode mode);  // "major", "minor", "other"

// Relation of an estimate to a reference, as the MIREX categories. With mir_eval's rules, in order:
//   correct:  same tonic and mode, or both "no key" (X vs X scores 1.0);
//   other:    exactly one of them is "no key";
//   fifth:    same mode (major, minor or other) and the estimate's tonic 7 semitones above;
//   relative: modes differ, reference major and estimate 9 semitones above, or reference minor and
//             estimate 3 above; only the reference's mode is checked, so "C major" vs "A other" and
//             "A minor" vs "C other" are relative (0.3), but "C other" vs "A minor" is not;
//   parallel: modes differ (major, minor or other), same tonic: "C major" vs "C other" scores 0.2;
//   other:    anything else.
enum class KeyRelation { kCorrect, kFifth, kRelative, kParallel, kOther };
constexpr std::array<KeyRelation, 5> kAllRelations = {KeyRelation::kCorrect, KeyRelation::kFifth,
                                                       KeyRelation::kRelative, KeyRelation::kParallel,
                                                       KeyRelation::kOther};
std::string relation_name(KeyRelation r);  // "correct", "fifth", "relative", "parallel", "other"

// A new option must also be added to is_default() in Key.cpp (weighted_score's table holds the defaults).
struct ScoreOptions {
  // As weighted_score(..., allow_descending_fifths=True) in mir_eval's main branch (PR #427, commit
  // fa55a92, Oct 2025; not in 0.8.2 or earlier releases), the MIREX rule since 2017: an estimate a
  // perfect fifth *below* the reference (tonic 5 semitones above it, same mode, "other" included) is
  // also a fifth (0.5). Checked after "correct", X and the ascending fifth, before relative/parallel
  // (which need different modes), so it only turns some "other" (0.0) into "fifth". Default false
  // reproduces mir_eval 0.7 and mir_eval's default.
  bool allow_descending_fifths = false;
};

KeyRelation key_relation(const Key& reference, const Key& estimate, const ScoreOptions& options = {});
double relation_score(KeyRelation r);  // 1.0, 0.5, 0.3, 0.2, 0.0
double weighted_score(const Key& reference, const Key& estimate, const ScoreOptions& options = {});

// Reads a key file in mir_eval's format: one line "tonic mode" (whitespace-separated) or "X";
// lines starting with '#' (after leading whitespace) and blank lines skipped. A UTF-8 BOM, CRLF line
// ends and a missing final newline (GiantSteps) are fine; the key line takes any spelling parse() does.
// An empty file, no key line, two key lines or a bad key throw mcpt::Error naming the file and line.
Key read_key_file(const std::filesystem::path& path);

}  // namespace mcpt::datasets
