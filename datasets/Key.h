// Musical key (tonic pitch class + mode, or "no key") and the MIREX key metric, identical to
// mir_eval.key.weighted_score (0.7), with newer mir_eval's allow_descending_fifths option.
#pragma once
#include <array>
#include <filesystem>
#include <string>
#include <string_view>

namespace mcpt::datasets {

enum class Mode { kMajor, kMinor, kOther };

class Key {
 public:
  static constexpr int kNumClasses = 24;  // 0..11 C..B major, 12..23 C..B minor

  Key() = default;  // "no key" (mir_eval's X)
  Key(int tonic, Mode mode);  // tonic: pitch class 0 (C) .. 11 (B), any int is reduced mod 12

  // Parses any spelling met in real annotations: "C minor", "Eb major", "c# minor", "A#  minor ",
  // "Am", "C#m", "A:min", "F# Major", "Bbmaj", "X", "none"... Throws mcpt::Error naming the text.
  static Key parse(std::string_view text);
  // GTZAN-key integers (Kraft's convention): 0..11 = A..G# major, 12..23 = A..G# minor, -1 = no key.
  static Key from_gtzan(int value);
  static Key from_index(int index);  // 0..23 as index()
  static Key none() { return Key(); }

  bool is_none() const { return !has_key_; }
  int tonic() const;  // pitch class 0..11; throws for "no key"
  Mode mode() const;  // throws for "no key"
  // 0..11 major (C..B), 12..23 minor (C..B); -1 for no key or mode "other".
  int index() const;
  bool has_index() const { return index() >= 0; }
  Key transposed(int semitones) const;  // "no key" stays "no key"
  // Canonical name in mir_eval's format with sharps: "C# minor", "X" for no key.
  std::string name() const;

  bool operator==(const Key& o) const;
  bool operator!=(const Key& o) const { return !(*this == o); }

 private:
  int tonic_ = 0;
  Mode mode_ = Mode::kMajor;
  bool has_key_ = false;
};

std::string mode_name(Mode mode);  // "major", "minor", "other"

// Relation of an estimate to a reference, as the MIREX categories.
enum class KeyRelation { kCorrect, kFifth, kRelative, kParallel, kOther };
constexpr std::array<KeyRelation, 5> kAllRelations = {KeyRelation::kCorrect, KeyRelation::kFifth,
                                                       KeyRelation::kRelative, KeyRelation::kParallel,
                                                       KeyRelation::kOther};
std::string relation_name(KeyRelation r);  // "correct", "fifth", "relative", "parallel", "other"

struct ScoreOptions {
  // mir_eval >= 0.8: an estimate a fifth *below* the reference (same mode) also scores 0.5.
  bool allow_descending_fifths = false;
};

KeyRelation key_relation(const Key& reference, const Key& estimate, const ScoreOptions& options = {});
double relation_score(KeyRelation r);  // 1.0, 0.5, 0.3, 0.2, 0.0
double weighted_score(const Key& reference, const Key& estimate, const ScoreOptions& options = {});

// Reads a key file in mir_eval's format: one line "tonic mode" (whitespace-separated) or "X";
// lines starting with '#' and blank lines skipped. Throws mcpt::Error naming the file and line.
Key read_key_file(const std::filesystem::path& path);

}  // namespace mcpt::datasets
