#include "datasets/Key.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "datasets/Error.h"

namespace mcpt::datasets {

namespace {

constexpr std::array<const char*, 12> kSharpNames = {"C",  "C#", "D",  "D#", "E",  "F",
                                                      "F#", "G",  "G#", "A",  "A#", "B"};

int mod12(long long v) { return static_cast<int>(((v % 12) + 12) % 12); }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view trim_front(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}

constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Case-insensitive equality with a lower-case word, without building a lower-cased copy: parsing
// allocates nothing (bench/keys_vs_mir_eval.py, P1).
bool iequals(std::string_view s, std::string_view lower_word) {
  if (s.size() != lower_word.size()) return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (ascii_lower(s[i]) != lower_word[i]) return false;
  return true;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// The text between quotes with line breaks and other control bytes (tab aside) as \xNN: an error
// message is one line (found by tests/fuzz/key_fuzz.cpp with "D dorian\n").
std::string shown(std::string_view text) {
  static const char* const kHex = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

[[noreturn]] void not_a_key(std::string_view text) {
  throw Error("not a key: " + shown(text) +
              " (expected \"<tonic> <mode>\" such as \"C# minor\", or \"X\")");
}

// Pitch class of a natural note letter, or -1.
constexpr int natural_pitch_class(char lower_letter) {
  switch (lower_letter) {
    case 'c': return 0;
    case 'd': return 2;
    case 'e': return 4;
    case 'f': return 5;
    case 'g': return 7;
    case 'a': return 9;
    case 'b': return 11;
    default: return -1;
  }
}

// Two and four bytes as one integer, so that "or" or " maj" is one comparison (a load, no copy).
std::uint16_t two_bytes(const char* p) {
  std::uint16_t word;
  std::memcpy(&word, p, 2);
  return word;
}
std::uint32_t four_bytes(const char* p) {
  std::uint32_t word;
  std::memcpy(&word, p, 4);
  return word;
}

constexpr int kNotCanonical = 99;
// Byte -> pitch class of a note letter, either case, as natural_pitch_class; kNotCanonical otherwise.
constexpr std::array<signed char, 256> kLetterPitchClass = [] {
  std::array<signed char, 256> table{};
  for (int c = 0; c < 256; ++c) {
    const int natural = natural_pitch_class(ascii_lower(static_cast<char>(c)));
    table[static_cast<size_t>(c)] = static_cast<signed char>(natural < 0 ? kNotCanonical : natural);
  }
  return table;
}();
// Byte after the letter -> semitones: '#' +1, 'b' -1, ' ' 0 (no accidental), kNotCanonical otherwise.
constexpr std::array<signed char, 256> kAccidental = [] {
  std::array<signed char, 256> table{};
  for (auto& v : table) v = kNotCanonical;
  table['#'] = 1;
  table['b'] = -1;
  table[' '] = 0;
  return table;
}();

// mir_eval's own spelling, "<Letter>[#|b] major|minor" with nothing around it: the labels of
// GiantSteps, of mir_eval's output and of bench/keys_vs_mir_eval.py (P1). A few table lookups and
// comparisons instead of the general grammar, which gives the same key for every string accepted here
// (tests/datasets/key_test.cpp, KeyParse.FastPathAgreesWithGrammar). Returns the key's index(), or
// -1 for anything else, which then goes through the general parser: other spellings and the error
// messages are unchanged. No branch depends on which key it is, so that labels in random order (P1)
// give the branch predictor nothing to miss.
int canonical_index(std::string_view s) {
  const size_t n = s.size();
  if (n != 7 && n != 8) return -1;  // "C major", "C# major"
  const char* mode_word = s.data() + n - 6;  // " major" or " minor"
  const int natural = kLetterPitchClass[static_cast<unsigned char>(s[0])];
  // s[1] is the accidental, or for n == 7 the space that starts the mode word. For n == 8 a space
  // there is "C  major", which the grammar reads as C major too.
  const int accidental = kAccidental[static_cast<unsigned char>(s[1])];
  const std::uint32_t head = four_bytes(mode_word);
  const bool major = head == four_bytes(" maj");
  const bool minor = head == four_bytes(" min");
  const bool ends_or = two_bytes(mode_word + 4) == two_bytes("or");
  // | and &, not || and &&: one branch for all the checks, never taken on P1's labels.
  if ((natural == kNotCanonical) | (accidental == kNotCanonical) | !((major | minor) & ends_or)) return -1;
  // natural + accidental is -1 (Cb) .. 12 (B#); unsigned, the wrap is one multiply (mod12 takes two).
  const unsigned tonic = static_cast<unsigned>(natural + 12 + accidental) % 12;
  return (minor ? 12 : 0) + static_cast<int>(tonic);
}

// The 24 keys by index(). The fast path returns a copy of one: a Key built field by field in the
// function that returns it went back to the caller through the stack (GCC 12), and the caller's
// reads of it waited for those stores, which cost more than the parse itself (P1).
constexpr std::array<Key, Key::kNumClasses> kKeysByIndex = [] {
  std::array<Key, Key::kNumClasses> keys{};
  for (int i = 0; i < Key::kNumClasses; ++i)
    keys[static_cast<size_t>(i)] = Key(i % 12, i < 12 ? Mode::kMajor : Mode::kMinor);
  return keys;
}();

// The general grammar of Key::parse (Key.h), for every spelling canonical_index leaves. Kept out of
// line so that the fast path pays nothing for it: inlined, its error messages' strings made every
// parse save six registers and reserve ~400 bytes of stack.
[[gnu::noinline]] Key parse_grammar(std::string_view text) {
  const std::string_view s = trim(text);
  if (iequals(s, "x") || iequals(s, "n") || iequals(s, "none")) return Key();
  if (s.empty()) not_a_key(text);

  const int natural = natural_pitch_class(ascii_lower(s[0]));
  if (natural < 0) not_a_key(text);
  int tonic = natural;
  std::string_view rest = s.substr(1);
  // One accidental at most. A 'b' right after the letter is always a flat: no mode word starts with b.
  static constexpr std::string_view kUnicodeSharp = "\xE2\x99\xAF";  // U+266F
  static constexpr std::string_view kUnicodeFlat = "\xE2\x99\xAD";   // U+266D
  if (!rest.empty() && rest.front() == '#') {
    tonic += 1;
    rest.remove_prefix(1);
  } else if (!rest.empty() && (rest.front() == 'b' || rest.front() == 'B')) {
    tonic -= 1;
    rest.remove_prefix(1);
  } else if (starts_with(rest, kUnicodeSharp)) {
    tonic += 1;
    rest.remove_prefix(kUnicodeSharp.size());
  } else if (starts_with(rest, kUnicodeFlat)) {
    tonic -= 1;
    rest.remove_prefix(kUnicodeFlat.size());
  }

  // Separator: nothing ("Am", "Bbmaj"), whitespace ("A minor"), or a colon ("A:min", Harte-style).
  rest = trim_front(rest);
  if (!rest.empty() && rest.front() == ':') {
    rest = trim_front(rest.substr(1));
    if (rest.empty()) not_a_key(text);
  }

  if (rest.empty()) return Key(tonic, Mode::kMajor);  // bare tonic: "C", "Db"
  // A lone "M" is major in chord symbols but could be an upper-cased "m" (minor) in an all-caps label.
  if (rest == "M")
    throw Error("ambiguous key: " + shown(text) + " (\"M\" may mean major or minor; write \"" +
                Key(tonic, Mode::kMajor).name() + "\" or \"" + Key(tonic, Mode::kMinor).name() + "\")");
  if (iequals(rest, "major") || iequals(rest, "maj")) return Key(tonic, Mode::kMajor);
  if (iequals(rest, "minor") || iequals(rest, "min") || iequals(rest, "m")) return Key(tonic, Mode::kMinor);
  if (iequals(rest, "other") || iequals(rest, "modal")) return Key(tonic, Mode::kOther);
  not_a_key(text);
}

}  // namespace

Key Key::parse(std::string_view text) {
  const int index = canonical_index(text);
  if (index >= 0) return kKeysByIndex[static_cast<size_t>(index)];
  return parse_grammar(text);
}

Key Key::from_gtzan(int value) {
  if (value == -1) return Key();
  if (value < 0 || value >= kNumClasses)
    throw Error("GTZAN key value " + std::to_string(value) + " out of range (expected 0..23, or -1 for no key)");
  // Kraft's GTZAN-key labels count from A (pitch class 9).
  return Key(9 + value % 12, value < 12 ? Mode::kMajor : Mode::kMinor);
}

Key Key::from_index(int index) {
  if (index == -1) return Key();
  if (index < 0 || index >= kNumClasses)
    throw Error("key index " + std::to_string(index) + " out of range (expected 0..23, or -1 for no key)");
  return Key(index % 12, index < 12 ? Mode::kMajor : Mode::kMinor);
}

int Key::tonic() const {
  if (!has_key_) throw Error("Key::tonic() called on \"no key\" (X)", ExitCode::kInternal);
  return tonic_;
}

Mode Key::mode() const {
  if (!has_key_) throw Error("Key::mode() called on \"no key\" (X)", ExitCode::kInternal);
  return mode_;
}

Key Key::transposed(int semitones) const {
  if (!has_key_) return Key();
  return Key(mod12(static_cast<long long>(tonic_) + semitones), mode_);
}

std::string Key::name() const {
  if (!has_key_) return "X";
  return std::string(kSharpNames[static_cast<size_t>(tonic_)]) + " " + mode_name(mode_);
}

bool Key::operator==(const Key& o) const {
  if (has_key_ != o.has_key_) return false;
  if (!has_key_) return true;
  return tonic_ == o.tonic_ && mode_ == o.mode_;
}

std::string mode_name(Mode mode) {
  switch (mode) {
    case Mode::kMajor: return "major";
    case Mode::kMinor: return "minor";
    case Mode::kOther: return "other";
  }
  return "other";
}

std::string relation_name(KeyRelation r) {
  switch (r) {
    case KeyRelation::kCorrect: return "correct";
    case KeyRelation::kFifth: return "fifth";
    case KeyRelation::kRelative: return "relative";
    case KeyRelation::kParallel: return "parallel";
    case KeyRelation::kOther: return "other";
  }
  return "other";
}

double relation_score(KeyRelation r) {
  switch (r) {
    case KeyRelation::kCorrect: return 1.0;
    case KeyRelation::kFifth: return 0.5;
    case KeyRelation::kRelative: return 0.3;
    case KeyRelation::kParallel: return 0.2;
    case KeyRelation::kOther: return 0.0;
  }
  return 0.0;
}

// The checks and their order follow mir_eval.key.weighted_score line by line; mode "other" takes part
// in every comparison as a third mode, exactly as the string comparisons there do.
KeyRelation key_relation(const Key& reference, const Key& estimate, const ScoreOptions& options) {
  if (reference == estimate) return KeyRelation::kCorrect;  // includes X vs X
  if (reference.is_none() || estimate.is_none()) return KeyRelation::kOther;
  const Mode ref_mode = reference.mode();
  const Mode est_mode = estimate.mode();
  const int up = mod12(estimate.tonic() - reference.tonic());  // semitones from reference up to estimate
  if (est_mode == ref_mode && up == 7) return KeyRelation::kFifth;
  if (options.allow_descending_fifths && est_mode == ref_mode && up == 5) return KeyRelation::kFifth;
  // Only the reference's mode must be major (minor); the estimate's may be minor, major or "other".
  if (est_mode != ref_mode && ref_mode == Mode::kMajor && up == 9) return KeyRelation::kRelative;
  if (est_mode != ref_mode && ref_mode == Mode::kMinor && up == 3) return KeyRelation::kRelative;
  if (est_mode != ref_mode && up == 0) return KeyRelation::kParallel;
  return KeyRelation::kOther;
}

namespace {

// True for ScoreOptions{}, the options weighted_score's table is filled with: a new option must be
// checked here too.
bool is_default(const ScoreOptions& options) { return !options.allow_descending_fifths; }

using ScoreTable = std::array<std::array<double, Key::kNumClasses>, Key::kNumClasses>;

// weighted_score of every pair of the 24 major/minor keys (reference, estimate) under the default
// options, filled from key_relation itself so that it cannot disagree with the rules. Out of line,
// like parse_grammar, so that the lookup pays nothing for it.
[[gnu::noinline]] ScoreTable make_score_table() {
  ScoreTable table{};
  for (int r = 0; r < Key::kNumClasses; ++r)
    for (int e = 0; e < Key::kNumClasses; ++e)
      table[r][e] = relation_score(key_relation(Key::from_index(r), Key::from_index(e)));
  return table;
}

}  // namespace

double weighted_score(const Key& reference, const Key& estimate, const ScoreOptions& options) {
  // The 24 x 24 major/minor pairs under the default options (all that P1 and most datasets score)
  // are one lookup; "no key", mode "other" and the descending-fifths option take the rules.
  static const ScoreTable kTable = make_score_table();
  const int r = reference.index(), e = estimate.index();
  if (r >= 0 && e >= 0 && is_default(options))
    return kTable[static_cast<size_t>(r)][static_cast<size_t>(e)];
  return relation_score(key_relation(reference, estimate, options));
}

Key read_key_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open key file " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error("cannot read key file " + path.string());
  const std::string text = buffer.str();
  std::string_view content = text;
  static constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (starts_with(content, kBom)) content.remove_prefix(kBom.size());

  Key key;
  int key_line = 0;
  int line_number = 0;
  while (!content.empty()) {
    ++line_number;
    const size_t end = content.find('\n');
    const std::string_view raw = content.substr(0, end);
    content = end == std::string_view::npos ? std::string_view() : content.substr(end + 1);
    const std::string_view line = trim(raw);  // also drops the CR of CRLF files
    if (line.empty() || line.front() == '#') continue;
    const std::string where = path.string() + ":" + std::to_string(line_number) + ": ";
    if (key_line != 0)
      throw Error(where + "a second key line " + shown(line) +
                  " (a key file holds one key; the first is on line " + std::to_string(key_line) + ")");
    try {
      key = Key::parse(line);
    } catch (const Error& e) {
      throw Error(where + e.what());
    }
    key_line = line_number;
  }
  if (key_line == 0)
    throw Error(path.string() + ": no key line (" +
                (line_number == 0 ? std::string("the file is empty") : "only blank lines and comments") + ")");
  return key;
}

}  // namespace mcpt::datasets
