// Synthetic corpus: composes short tonal pieces (chord progression, bass, melody, optional drums)
// from a seed, renders them offline with the FluidSynth library and writes mono 16-bit WAVs, a
// manifest and synth.json. Every random choice comes from a per-track std::mt19937_64 mapped to
// choices by our own arithmetic, and each track gets a fresh synthesizer, so the bytes depend on the
// options and the SoundFont only (not on the standard library or the thread count).
#include "datasets/Synthetic.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <tuple>
#include <vector>

#include <fluidsynth.h>
#include <fmt/format.h>
#include <sndfile.h>

#include "datasets/Error.h"
#include "datasets/Key.h"
#include "datasets/TextTable.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mcpt::datasets {

namespace {

// Bump when the music or the file layout changes, so that corpora from older code re-render.
constexpr int kGeneratorVersion = 1;
constexpr double kPeak = 0.8912509381337456;  // -1 dBFS
constexpr const char* kManifest = "manifest.csv";
constexpr const char* kInfo = "synth.json";
constexpr const char* kMarker = ".render.json";  // present while a render is under way

// ---------------------------------------------------------------------------------------------
// Options

const std::vector<std::string> kOptionKeys = {"tracks",      "seed",           "seconds",      "soundfont",
                                              "sample_rate", "valid_fraction", "test_fraction"};

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw Error(fmt::format("{}: {}", path, message));
}

std::string shown(const json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

int edit_distance(const std::string& a, const std::string& b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = int(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diag = row[0];
    row[0] = int(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

template <class T>
void check_range(T value, T lo, T hi, const std::string& path) {
  if (!(value >= lo && value <= hi)) fail(path, fmt::format("{} is out of range [{}, {}]", value, lo, hi));
}

void validate(const SynthOptions& o, const std::string& path) {
  check_range(o.tracks, 24, 100000, path + ".tracks");
  check_range(o.seconds, 2.0, 600.0, path + ".seconds");
  check_range(o.sample_rate, 8000, 96000, path + ".sample_rate");
  check_range(o.valid_fraction, 0.0, 0.5, path + ".valid_fraction");
  check_range(o.test_fraction, 0.0, 0.5, path + ".test_fraction");
  if (!(o.valid_fraction + o.test_fraction < 1.0))
    fail(path, fmt::format("valid_fraction + test_fraction must be < 1, got {}",
                           o.valid_fraction + o.test_fraction));
  if (o.threads < 0) fail(path + ".threads", fmt::format("{} is negative", o.threads));
}

// ---------------------------------------------------------------------------------------------
// Randomness: std::mt19937_64 is specified bit for bit by the standard; the distributions are not,
// so choices are made here.

std::uint64_t mix(std::uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr std::uint64_t kKeyStream = 0x6b65792d6f726465ULL;    // "key-orde"
constexpr std::uint64_t kTrackStream = 0x747261636b000000ULL;  // "track" + index

class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream) : engine_(mix(mix(seed) ^ stream)) {}
  int below(int n) { return static_cast<int>(engine_() % static_cast<std::uint64_t>(n)); }
  int between(int lo, int hi) { return lo + below(hi - lo + 1); }  // inclusive
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return uniform() < p; }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(below(static_cast<int>(v.size())))];
  }

 private:
  std::mt19937_64 engine_;
};

// A seeded order of the 24 keys (0..11 major, 12..23 minor), repeated: any run of consecutive
// tracks holds every key floor(n/24) or ceil(n/24) times, which keeps contiguous splits balanced.
std::array<int, 24> key_order(std::uint64_t seed) {
  std::array<int, 24> order{};
  for (int i = 0; i < 24; ++i) order[size_t(i)] = i;
  Rng rng(seed, kKeyStream);
  for (int i = 23; i > 0; --i) std::swap(order[size_t(i)], order[size_t(rng.below(i + 1))]);
  return order;
}

// ---------------------------------------------------------------------------------------------
// Music

struct Chord {
  int root = 0;            // semitones above the tonic
  std::vector<int> tones;  // semitones above the tonic, stacked from the root
};

Chord chord_named(const std::string& name) {
  auto triad = [](int root, int third, int fifth) { return Chord{root, {root, root + third, root + fifth}}; };
  if (name == "I") return triad(0, 4, 7);
  if (name == "ii") return triad(2, 3, 7);
  if (name == "iii") return triad(4, 3, 7);
  if (name == "IV") return triad(5, 4, 7);
  if (name == "V") return triad(7, 4, 7);  // in minor too: the raised leading tone
  if (name == "V7") return Chord{7, {7, 11, 14, 17}};
  if (name == "vi") return triad(9, 3, 7);
  if (name == "i") return triad(0, 3, 7);
  if (name == "iio") return triad(2, 3, 6);
  if (name == "III") return triad(3, 4, 7);
  if (name == "iv") return triad(5, 3, 7);
  if (name == "VI") return triad(8, 4, 7);
  if (name == "VII") return triad(10, 4, 7);
  throw Error("synthetic corpus: unknown chord " + name, ExitCode::kInternal);
}

// Common progressions; all start on the tonic, and every piece closes with a V-I cadence.
const std::vector<std::string> kMajorProgressions = {"I IV V I",  "I vi IV V",  "I V vi IV",  "I ii V I",
                                                     "I IV I V",  "I vi ii V7", "I iii IV V", "I IV vi V",
                                                     "I ii IV V", "I IV V7 I"};
const std::vector<std::string> kMinorProgressions = {
    "i iv V i",   "i VI III VII", "i iv VII III", "i VI iv V",  "i iio V7 i",
    "i VII VI V", "i iv i V",     "i iv VI V",    "i VI VII i", "i iv V7 i"};

std::vector<Chord> progression(const std::string& text) {
  std::vector<Chord> out;
  std::istringstream in(text);
  for (std::string name; in >> name;) out.push_back(chord_named(name));
  return out;
}

// General MIDI programs.
struct Instrument {
  int program;
  bool sustained;  // organ, strings, pads: no arpeggios or repeated hits
};
const std::vector<Instrument> kChordInstruments = {
    {0, false}, {1, false},  {4, false},  {5, false},  {11, false}, {16, true},
    {19, true}, {24, false}, {25, false}, {46, false}, {48, true},  {49, true},
    {50, true}, {52, true},  {88, true},  {89, true},  {90, true}};
const std::vector<int> kMelodyPrograms = {73, 71, 40, 56, 68, 65, 80, 81, 0, 11, 74, 22, 72, 61};

constexpr int kChordChannel = 0, kBassChannel = 1, kMelodyChannel = 2, kDrumChannel = 9;

struct Note {
  double on = 0, off = 0;  // seconds
  int channel = 0, key = 60, velocity = 80;
};

struct Piece {
  std::vector<std::pair<int, int>> programs;  // channel, GM program
  std::vector<std::pair<int, int>> volumes;   // channel, CC7
  std::vector<Note> notes;
};

constexpr std::array<int, 7> kMajorScale = {0, 2, 4, 5, 7, 9, 11};
constexpr std::array<int, 7> kNaturalMinor = {0, 2, 3, 5, 7, 8, 10};
constexpr std::array<int, 7> kHarmonicMinor = {0, 2, 3, 5, 7, 8, 11};

// The melody's scale over a chord: the chord's own seventh degree wins (the raised leading tone
// over V, the subtonic over III and VII), otherwise the track's choice of minor scale.
const std::array<int, 7>& melody_scale(bool minor, bool harmonic, const Chord& c) {
  if (!minor) return kMajorScale;
  for (int t : c.tones) {
    if (t % 12 == 11) return kHarmonicMinor;
    if (t % 12 == 10) return kNaturalMinor;
  }
  return harmonic ? kHarmonicMinor : kNaturalMinor;
}

// MIDI notes in [lo, hi] whose pitch class (relative to the tonic) is in `rel`.
template <class Container>
std::vector<int> notes_with(int tonic, const Container& rel, int lo, int hi) {
  std::vector<int> out;
  for (int n = lo; n <= hi; ++n)
    for (int r : rel)
      if (((n - tonic) % 12 + 12) % 12 == r % 12) {
        out.push_back(n);
        break;
      }
  return out;
}

int velocity(Rng& rng, int base, int accent, int jitter) {
  return std::clamp(base + accent + rng.between(-jitter, jitter), 1, 127);
}

// Closed voicing (some inversion) near `center`, moving as little as possible from `prev`.
std::vector<int> voice_chord(int tonic, const Chord& chord, int center, const std::vector<int>& prev) {
  const size_t size = chord.tones.size();
  std::vector<int> best;
  double best_score = 1e9;
  for (size_t r = 0; r < size; ++r) {
    const int pc = (tonic + chord.tones[r]) % 12;
    for (int low = center - 12; low <= center + 4; ++low) {
      if (low % 12 != pc) continue;
      std::vector<int> v = {low};
      for (size_t j = 1; j < size; ++j) {
        const int want = (tonic + chord.tones[(r + j) % size]) % 12;
        int n = v.back() + 1;
        while (n % 12 != want) ++n;
        v.push_back(n);
      }
      double mean = 0;
      for (int n : v) mean += n;
      mean /= double(size);
      const double off_center = std::abs(mean - center);
      double score = 0.3 * off_center + 5.0 * std::max(0.0, off_center - 6.0);
      if (!prev.empty())
        for (int n : v) {
          int d = 127;
          for (int p : prev) d = std::min(d, std::abs(n - p));
          score += d;
        }
      if (score < best_score) {
        best_score = score;
        best = v;
      }
    }
  }
  return best;
}

Piece compose(int tonic, bool minor, double seconds, Rng& rng) {
  Piece piece;
  std::vector<Note>& notes = piece.notes;

  const int bpm = rng.between(70, 140);
  const int bar = rng.chance(0.25) ? 3 : 4;  // beats per bar
  const int chord_beats = (bar == 4 && rng.chance(0.25)) ? 2 : bar;
  const double beat = 60.0 / bpm;
  const double tail = std::clamp(0.12 * seconds, 0.3, 1.5);  // left for the last chord to ring out
  const double end = (seconds - tail) / beat;                // in beats
  // The final tonic chord takes what is left: between half a slot and one and a half.
  const int slots = std::max(1, static_cast<int>(std::lround(end / chord_beats)));
  auto slot_start = [&](int k) { return double(k * chord_beats); };
  auto slot_end = [&](int k) { return k + 1 == slots ? end : double((k + 1) * chord_beats); };
  const double body_end = slot_start(slots - 1);  // the final tonic chord starts here
  auto add = [&](int channel, int key, double on_beats, double off_beats, int vel) {
    notes.push_back(Note{on_beats * beat, off_beats * beat, channel, key, vel});
  };

  // Harmony: a progression cycled, closed by a cadence: predominant - V (or V7) - I.
  const std::vector<Chord> prog = progression(rng.pick(minor ? kMinorProgressions : kMajorProgressions));
  const Chord tonic_chord = prog.front();
  std::vector<Chord> seq;
  for (int k = 0; k < slots; ++k) seq.push_back(prog[size_t(k) % prog.size()]);
  if (slots >= 4) {
    // The chord the progression puts before its V, else IV/ii (major) or iv/VI (minor).
    Chord pre = chord_named(minor ? (rng.chance(0.5) ? "iv" : "VI") : (rng.chance(0.5) ? "IV" : "ii"));
    for (size_t k = 1; k < prog.size(); ++k)
      if (prog[k].root == 7 && prog[k - 1].root != 0) pre = prog[k - 1];
    seq[size_t(slots - 3)] = pre;
  }
  if (slots >= 3) seq[size_t(slots - 2)] = chord_named(rng.chance(0.5) ? "V7" : "V");
  seq.back() = tonic_chord;
  auto chord_at = [&](double t) -> const Chord& {
    return seq[size_t(std::min(slots - 1, static_cast<int>(t / chord_beats)))];
  };

  // Chords.
  const Instrument chord_inst = rng.pick(kChordInstruments);
  enum { kSustain, kHalf, kBeats, kArpeggio };
  const int comp = chord_inst.sustained ? rng.below(2) : rng.below(4);
  const int chord_center = rng.between(57, 67);
  const int chord_vel = rng.between(55, 85);
  const double chord_len = 0.55 + 0.4 * rng.uniform();  // articulation of repeated hits
  piece.programs.push_back({kChordChannel, chord_inst.program});
  piece.volumes.push_back({kChordChannel, rng.between(85, 110)});
  std::vector<int> voicing;
  for (int k = 0; k < slots; ++k) {
    voicing = voice_chord(tonic, seq[size_t(k)], chord_center, voicing);
    const double s = slot_start(k), e = slot_end(k);
    if (k + 1 == slots || comp == kSustain) {
      const int v = velocity(rng, chord_vel, 0, 6);
      for (int n : voicing) add(kChordChannel, n, s, e - 0.05, v);
    } else if (comp == kHalf || comp == kBeats) {
      const double step = comp == kBeats ? 1.0 : (bar == 4 ? 2.0 : 3.0);
      for (double t = s; t < e - 1e-9; t += step) {
        const int v = velocity(rng, chord_vel, std::fmod(t, bar) == 0 ? 8 : 0, 6);
        for (int n : voicing) add(kChordChannel, n, t, std::min(e, t + step * chord_len), v);
      }
    } else {  // arpeggio in eighths, up or up-down, letting each note ring a little
      std::vector<int> arp = voicing;
      arp.push_back(voicing.front() + 12);
      const bool updown = rng.chance(0.5);
      int i = 0;
      for (double t = s; t < e - 1e-9; t += 0.5, ++i) {
        const size_t n = arp.size();
        size_t j = size_t(i) % (updown ? 2 * n - 2 : n);
        if (j >= n) j = 2 * n - 2 - j;
        add(kChordChannel, arp[j], t, std::min(e, t + 1.0), velocity(rng, chord_vel, i % 2 == 0 ? 6 : 0, 6));
      }
    }
  }

  // Bass: roots and fifths around octave 2.
  piece.programs.push_back({kBassChannel, rng.between(32, 39)});
  piece.volumes.push_back({kBassChannel, rng.between(95, 120)});
  const int bass_low = rng.chance(0.35) ? 31 : 36;
  const int bass_style = rng.below(4);
  const int bass_vel = rng.between(70, 100);
  const double bass_len = rng.chance(0.3) ? 0.6 : 0.92;
  for (int k = 0; k < slots; ++k) {
    const int pc = (tonic + seq[size_t(k)].root) % 12;
    const int root = bass_low + ((pc - bass_low) % 12 + 12) % 12;
    const int fifth = root + 7 > bass_low + 14 ? root - 5 : root + 7;
    const double s = slot_start(k), e = slot_end(k);
    if (k + 1 == slots || bass_style == 0) {
      add(kBassChannel, root, s, e - 0.05, velocity(rng, bass_vel, 6, 6));
      continue;
    }
    for (int b = 0; s + b < e - 1e-9; ++b) {
      int n = root;
      if (bass_style == 2) n = (b == chord_beats / 2 && b > 0) || (chord_beats == 3 && b == 2) ? fifth : root;
      if (bass_style == 3) n = std::array<int, 4>{root, fifth, root + 12, fifth}[size_t(b % 4)];
      add(kBassChannel, n, s + b, std::min(e, s + b + bass_len), velocity(rng, bass_vel, b == 0 ? 8 : 0, 8));
    }
  }

  // Melody: chord tones on strong beats, steps in the scale between them, home on the tonic.
  piece.programs.push_back({kMelodyChannel, rng.pick(kMelodyPrograms)});
  piece.volumes.push_back({kMelodyChannel, rng.between(100, 124)});
  const int center = std::min(chord_center + rng.between(7, 14), 81);  // above the chords
  const int lo = center - 8, hi = center + 9;
  const bool harmonic = rng.chance(0.5);
  const double p_eighths = 0.15 + 0.45 * rng.uniform();
  const double p_long = 0.1 + 0.25 * rng.uniform();
  const double p_rest = 0.03 + 0.07 * rng.uniform();
  const double legato = 0.7 + 0.28 * rng.uniform();
  const int mel_vel = rng.between(80, 105);
  struct Onset {
    double t, len;
  };
  std::vector<Onset> rhythm;
  for (int t = (slots > 3 && rng.chance(0.3)) ? bar : 0; t < body_end;) {
    const int in_bar = t % bar;
    const bool room = t + 2 <= body_end && in_bar + 2 <= bar;
    if (in_bar == bar - 1 && (t / bar) % 4 == 3 && rng.chance(0.5)) {  // breathe at phrase ends
      t += 1;
    } else if (room && rng.chance(p_long)) {
      if (rng.chance(0.5)) {
        rhythm.push_back({double(t), 2.0});
      } else {
        rhythm.push_back({double(t), 1.5});
        rhythm.push_back({t + 1.5, 0.5});
      }
      t += 2;
    } else if (rng.chance(p_eighths)) {
      rhythm.push_back({double(t), 0.5});
      rhythm.push_back({t + 0.5, 0.5});
      t += 1;
    } else {
      rhythm.push_back({double(t), 1.0});
      t += 1;
    }
  }
  auto nearest = [](std::vector<int> pool, int to, bool second) {
    std::stable_sort(pool.begin(), pool.end(),
                     [&](int a, int b) { return std::abs(a - to) < std::abs(b - to); });
    return pool[second && pool.size() > 1 ? 1 : 0];
  };
  int prev = nearest(notes_with(tonic, tonic_chord.tones, lo, hi), center, false);
  int dir = rng.chance(0.5) ? 1 : -1;
  for (size_t i = 0; i < rhythm.size(); ++i) {
    const double t = rhythm[i].t;
    if (i > 0 && rng.chance(p_rest)) continue;
    const Chord& chord = chord_at(t);
    const int in_bar = static_cast<int>(std::fmod(t, bar));
    const bool strong = t == std::floor(t) && (in_bar == 0 || (bar == 4 && in_bar == 2));
    int n;
    if (i == 0 || strong) {
      n = nearest(notes_with(tonic, chord.tones, lo, hi), prev, rng.chance(0.3));
    } else {
      const std::vector<int> scale = notes_with(tonic, melody_scale(minor, harmonic, chord), lo, hi);
      int idx = static_cast<int>(std::lower_bound(scale.begin(), scale.end(), prev) - scale.begin());
      const int mid = static_cast<int>(scale.size()) / 2;
      const double r = rng.uniform();
      const int step = r < 0.65 ? 1 : r < 0.82 ? 2 : 0;
      if (idx > mid + 4)
        dir = rng.chance(0.85) ? -1 : 1;
      else if (idx < mid - 4)
        dir = rng.chance(0.85) ? 1 : -1;
      else if (!rng.chance(0.65))
        dir = -dir;
      idx += dir * step;
      if (idx < 0 || idx >= static_cast<int>(scale.size())) {
        dir = -dir;
        idx = std::clamp(idx, 0, static_cast<int>(scale.size()) - 1);
      }
      n = scale[size_t(idx)];
    }
    add(kMelodyChannel, n, t, t + rhythm[i].len * legato, velocity(rng, mel_vel, strong ? 8 : 0, 8));
    prev = n;
  }
  const int home = nearest(notes_with(tonic, std::array<int, 1>{0}, lo - 3, hi + 3), prev, false);
  add(kMelodyChannel, home, body_end, end - 0.05, velocity(rng, mel_vel, 6, 4));

  // Drums in some tracks (GM percussion on channel 10).
  if (rng.chance(0.4)) {
    piece.programs.push_back({kDrumChannel, 0});
    piece.volumes.push_back({kDrumChannel, rng.between(70, 95)});
    const int drum_vel = rng.between(70, 100);
    const bool extra_kick = rng.chance(0.5);
    const int hat = rng.chance(0.8) ? 42 : 51;  // closed hi-hat or ride
    add(kDrumChannel, 49, 0, 0.5, velocity(rng, drum_vel, 0, 6));
    for (double t = 0; t < body_end - 1e-9; t += 0.5) {
      const double in_bar = std::fmod(t, bar);
      add(kDrumChannel, hat, t, t + 0.25,
          velocity(rng, drum_vel - 25, in_bar == std::floor(in_bar) ? 8 : 0, 8));
      const bool kick = in_bar == 0 || (bar == 4 && in_bar == 2) || (extra_kick && bar == 4 && in_bar == 2.5);
      const bool snare = bar == 4 ? (in_bar == 1 || in_bar == 3) : in_bar == 2;
      if (kick) add(kDrumChannel, 36, t, t + 0.25, velocity(rng, drum_vel, 0, 6));
      if (snare) add(kDrumChannel, 38, t, t + 0.25, velocity(rng, drum_vel - 5, 0, 6));
    }
    add(kDrumChannel, 49, body_end, body_end + 1, velocity(rng, drum_vel, 0, 6));
    add(kDrumChannel, 36, body_end, body_end + 0.5, velocity(rng, drum_vel, 0, 6));
  }
  return piece;
}

// ---------------------------------------------------------------------------------------------
// Rendering

void quiet_fluidsynth() {
  static std::once_flag once;
  std::call_once(once, [] {
    fluid_set_log_function(FLUID_WARN, nullptr, nullptr);
    fluid_set_log_function(FLUID_INFO, nullptr, nullptr);
    fluid_set_log_function(FLUID_DBG, nullptr, nullptr);
  });
}

// FluidSynth's sample cache, shared by every synth in the process, is not safe to load into and
// unload from on several threads at once: with compressed (.sf3) fonts a render thread's load then
// fails now and then ("cannot load it") and "Trying to free sample data not found in cache" is
// logged. Loading and deleting synths one at a time costs little (the samples stay cached).
std::mutex& soundfont_mutex() {
  static std::mutex m;
  return m;
}

struct SettingsDeleter {
  void operator()(fluid_settings_t* s) const { delete_fluid_settings(s); }
};
struct SynthDeleter {
  void operator()(fluid_synth_t* s) const {
    std::lock_guard<std::mutex> lock(soundfont_mutex());
    delete_fluid_synth(s);
  }
};
using SettingsPtr = std::unique_ptr<fluid_settings_t, SettingsDeleter>;
using SynthPtr = std::unique_ptr<fluid_synth_t, SynthDeleter>;

// A fresh synthesizer with the SoundFont loaded. FluidSynth caches sample data between synths,
// so this costs tens of milliseconds; a fresh synth per track keeps tracks independent of each other.
struct Synth {
  SettingsPtr settings;
  SynthPtr synth;
};

// The synth before its settings (a plain assignment would delete the settings first).
void release(Synth& s) {
  s.synth.reset();
  s.settings.reset();
}

// True for SoundFont version 3 (compressed samples): the "ifil" chunk, first in the INFO list,
// holds the major version.
bool soundfont_is_compressed(const fs::path& soundfont) {
  char head[64] = {};
  std::ifstream in(soundfont, std::ios::binary);
  in.read(head, sizeof head);
  const std::string h(head, size_t(in.gcount()));
  const auto at = h.find("ifil");
  if (at == std::string::npos || at + 10 > h.size()) return false;
  const auto major = std::uint16_t(std::uint8_t(h[at + 8]) | (std::uint8_t(h[at + 9]) << 8));
  return major >= 3;
}

Synth make_synth(const fs::path& soundfont, int sample_rate) {
  quiet_fluidsynth();
  Synth s;
  s.settings.reset(new_fluid_settings());
  if (!s.settings) throw Error("FluidSynth: cannot create settings", ExitCode::kInternal);
  fluid_settings_t* st = s.settings.get();
  if (fluid_settings_setnum(st, "synth.sample-rate", sample_rate) != FLUID_OK)
    throw Error(fmt::format("FluidSynth: sample rate {} not supported", sample_rate));
  fluid_settings_setint(st, "synth.reverb.active", 0);
  fluid_settings_setint(st, "synth.chorus.active", 0);
  fluid_settings_setint(st, "synth.cpu-cores", 1);
  fluid_settings_setint(st, "synth.threadsafe-api", 0);
  fluid_settings_setint(st, "synth.lock-memory", 0);
  // A compressed SoundFont (SF3: Ogg Vorbis samples) is decoded in full at every load, 1.4 CPU-s
  // per track for FluidR3Mono_GM.sf3; loaded dynamically, only the samples of the programs a track
  // selects are decoded (2.3-12x less CPU for `synth` with that font, the same bytes in our checks,
  // docs/performance.md "Synthetic corpus with a compressed SoundFont"). SF2 sample data is shared between synths by FluidSynth's
  // cache, so it stays loaded in full: dynamic loading changes a few samples of its renders.
  fluid_settings_setint(st, "synth.dynamic-sample-loading", soundfont_is_compressed(soundfont) ? 1 : 0);
  fluid_settings_setint(st, "synth.polyphony", 256);
  fluid_settings_setnum(st, "synth.gain", 0.2);
  s.synth.reset(new_fluid_synth(st));
  if (!s.synth) throw Error("FluidSynth: cannot create a synthesizer", ExitCode::kInternal);
  // FluidSynth prints its own complaints about a file that is not RIFF at all; say it more plainly.
  char magic[4] = {};
  std::ifstream(soundfont, std::ios::binary).read(magic, 4);
  if (std::string(magic, 4) != "RIFF")
    throw Error(fmt::format("soundfont {}: not a SoundFont 2 file (no RIFF header)", soundfont.string()));
  int loaded;
  {
    std::lock_guard<std::mutex> lock(soundfont_mutex());
    loaded = fluid_synth_sfload(s.synth.get(), soundfont.c_str(), 1);
  }
  if (loaded == FLUID_FAILED)
    throw Error(
        fmt::format("soundfont {}: FluidSynth cannot load it (not a SoundFont 2 file?)", soundfont.string()));
  return s;
}

// `previous` is the synth of the render thread's last track, kept alive until this track's presets
// are selected: FluidSynth drops a sample from its cache when no synth holds it, and with dynamic
// loading (SF3) a preset's samples are decoded when it is selected, so handing over synth to synth
// decodes only the samples this track needs and the last one did not (one render thread: 7.5 ->
// ~3 CPU-s for 24 x 2 s with FluidR3Mono_GM.sf3, bench_synth). The cached data are the decoded
// samples themselves, so the rendered bytes do not depend on it. On return `previous` holds this
// track's synth.
std::vector<std::int16_t> render(const Piece& piece, const fs::path& soundfont, int sample_rate,
                                 double seconds, Synth& previous) {
  Synth s = make_synth(soundfont, sample_rate);
  fluid_synth_t* synth = s.synth.get();
  for (const auto& [channel, program] : piece.programs) fluid_synth_program_change(synth, channel, program);
  for (const auto& [channel, volume] : piece.volumes) fluid_synth_cc(synth, channel, 7, volume);
  release(previous);

  auto sample_at = [&](double t) { return static_cast<std::int64_t>(std::llround(t * sample_rate)); };
  const std::int64_t total = sample_at(seconds);
  struct Event {
    std::int64_t time;
    int on;  // noteoffs sort before noteons at the same sample
    int channel, key, velocity;
    bool operator<(const Event& o) const {
      return std::tie(time, on, channel, key, velocity) <
             std::tie(o.time, o.on, o.channel, o.key, o.velocity);
    }
  };
  // A repeated key on a channel cuts the previous one, so its noteoff cannot end the new note.
  std::vector<Note> notes = piece.notes;
  std::stable_sort(notes.begin(), notes.end(), [](const Note& a, const Note& b) {
    return std::tie(a.channel, a.key, a.on) < std::tie(b.channel, b.key, b.on);
  });
  std::vector<Event> events;
  for (size_t i = 0; i < notes.size(); ++i) {
    const Note& n = notes[i];
    const std::int64_t on = sample_at(n.on);
    std::int64_t off = sample_at(n.off);
    if (i + 1 < notes.size() && notes[i + 1].channel == n.channel && notes[i + 1].key == n.key)
      off = std::min(off, sample_at(notes[i + 1].on));
    off = std::min(off, total);
    if (off - on < sample_rate / 50 || on >= total) continue;  // under 20 ms: drop
    events.push_back({on, 1, n.channel, n.key, n.velocity});
    events.push_back({off, 0, n.channel, n.key, 0});
  }
  std::sort(events.begin(), events.end());

  std::vector<float> left(static_cast<size_t>(total), 0.0f), right(static_cast<size_t>(total), 0.0f);
  std::int64_t pos = 0;
  size_t e = 0;
  while (pos < total) {
    while (e < events.size() && events[e].time <= pos) {
      const Event& ev = events[e++];
      if (ev.on)
        fluid_synth_noteon(synth, ev.channel, ev.key, ev.velocity);
      else
        fluid_synth_noteoff(synth, ev.channel, ev.key);
    }
    std::int64_t until = e < events.size() ? std::min(events[e].time, total) : total;
    until = std::min(until, pos + 8192);  // keep each call's length in int range
    const int len = static_cast<int>(until - pos);
    if (fluid_synth_write_float(synth, len, left.data(), int(pos), 1, right.data(), int(pos), 1) != FLUID_OK)
      throw Error("FluidSynth: rendering failed", ExitCode::kInternal);
    pos = until;
  }

  // Mono, peak at -1 dBFS.
  std::vector<float> mono(static_cast<size_t>(total));
  float peak = 0.0f;
  for (size_t i = 0; i < mono.size(); ++i) {
    mono[i] = 0.5f * (left[i] + right[i]);
    peak = std::max(peak, std::abs(mono[i]));
  }
  if (!(peak > 1e-6f) || !std::isfinite(peak))
    throw Error(fmt::format("soundfont {}: rendered silence (does it hold the General MIDI programs?)",
                            soundfont.string()));
  const double gain = kPeak / peak;
  std::vector<std::int16_t> pcm(mono.size());
  for (size_t i = 0; i < mono.size(); ++i)
    pcm[i] = static_cast<std::int16_t>(std::lround(std::clamp(double(mono[i]) * gain, -1.0, 1.0) * 32767.0));
  release(previous);
  previous = std::move(s);
  return pcm;
}

// ---------------------------------------------------------------------------------------------
// Files

fs::path temp_for(const fs::path& path) {
  return path.parent_path() / ("." + path.filename().string() + ".tmp");
}

void write_wav_atomic(const fs::path& path, const std::vector<std::int16_t>& pcm, int sample_rate) {
  const fs::path tmp = temp_for(path);
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &info);
  if (!f) throw Error(fmt::format("{}: cannot write: {}", tmp.string(), sf_strerror(nullptr)));
  const sf_count_t written = sf_write_short(f, pcm.data(), sf_count_t(pcm.size()));
  const std::string why = sf_strerror(f);
  const int closed = sf_close(f);
  std::error_code ec;
  if (written != sf_count_t(pcm.size()) || closed != 0) {
    fs::remove(tmp, ec);
    throw Error(fmt::format("{}: cannot write: {}", tmp.string(), why));
  }
  fs::rename(tmp, path, ec);
  if (ec) throw Error(fmt::format("{}: cannot rename to {}: {}", tmp.string(), path.string(), ec.message()));
}

void write_text_atomic(const fs::path& path, const std::string& text) {
  const fs::path tmp = temp_for(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw Error(fmt::format("{}: cannot write", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw Error(fmt::format("{}: cannot rename to {}: {}", tmp.string(), path.string(), ec.message()));
}

json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return nullptr;
  try {
    return json::parse(in);
  } catch (const json::exception&) {
    return nullptr;
  }
}

bool is_track_name(const std::string& name) {
  const std::string prefix = "synth-", suffix = ".wav";
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  for (size_t i = prefix.size(); i < name.size() - suffix.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return false;
  return true;
}

// Removes what a render writes (tracks, manifest, synth.json, marker, temporaries), nothing else.
void remove_outputs(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() > 5 && name.front() == '.' && name.compare(name.size() - 4, 4, ".tmp") == 0)
      name = name.substr(1, name.size() - 5);
    if (is_track_name(name) || name == kManifest || name == kInfo || name == kMarker) {
      std::error_code rm;
      fs::remove(entry.path(), rm);
      if (rm) throw Error(fmt::format("{}: cannot remove: {}", entry.path().string(), rm.message()));
    }
  }
}

struct SoundFontFile {
  fs::path path;  // absolute
  std::uintmax_t size = 0;
};

SoundFontFile resolve_soundfont(const SynthOptions& options) {
  const fs::path given = options.soundfont.empty() ? default_soundfont() : options.soundfont;
  std::error_code ec;
  if (!fs::is_regular_file(given, ec))
    throw Error(fmt::format("soundfont {}: no such file (install timgm6mb-soundfont or pass --soundfont)",
                            given.string()));
  SoundFontFile sf;
  sf.path = fs::absolute(given).lexically_normal();
  sf.size = fs::file_size(sf.path, ec);
  if (ec) throw Error(fmt::format("soundfont {}: {}", sf.path.string(), ec.message()));
  return sf;
}

// What a corpus's bytes depend on (the thread count and FluidSynth's version are left out).
json identity(const SynthOptions& options, const SoundFontFile& sf) {
  return {{"generator_version", kGeneratorVersion},
          {"options", options.to_json()},
          {"soundfont", {{"path", sf.path.string()}, {"size", sf.size}}}};
}

// The options are compared without their "soundfont" text: the resolved file decides, so "" and
// the default's path name the same corpus.
bool same_identity(const json& stored, const json& want) {
  if (!stored.is_object()) return false;
  for (const char* k : {"generator_version", "options", "soundfont"})
    if (!stored.contains(k)) return false;
  json a = stored.at("options"), b = want.at("options");
  if (a.is_object()) a.erase("soundfont");
  b.erase("soundfont");
  return stored.at("generator_version") == want.at("generator_version") && a == b &&
         stored.at("soundfont") == want.at("soundfont");
}

struct Plan {
  std::vector<std::string> ids;
  std::vector<Key> keys;
  std::vector<std::string> splits;
};

Plan plan(const SynthOptions& o) {
  Plan p;
  const int width = std::max(4, static_cast<int>(std::to_string(o.tracks).size()));
  const std::array<int, 24> order = key_order(o.seed);
  // Contiguous runs of the repeated key order: each split holds each key floor or ceil times.
  const int n_valid = static_cast<int>(std::llround(o.tracks * o.valid_fraction));
  const int n_test = static_cast<int>(std::llround(o.tracks * o.test_fraction));
  const int n_train = std::max(0, o.tracks - n_valid - n_test);
  for (int i = 0; i < o.tracks; ++i) {
    p.ids.push_back(fmt::format("synth-{:0{}}", i + 1, width));
    const int k = order[size_t(i % 24)];
    p.keys.emplace_back(k % 12, k < 12 ? Mode::kMajor : Mode::kMinor);
    p.splits.push_back(i < n_train ? "train" : i < n_train + n_valid ? "valid" : "test");
  }
  return p;
}

void render_track(const SynthOptions& o, const fs::path& soundfont, int index, const Key& key,
                  const fs::path& out, Synth& previous) {
  Rng rng(o.seed, kTrackStream + std::uint64_t(index));
  const Piece piece = compose(key.tonic(), key.mode() == Mode::kMinor, o.seconds, rng);
  write_wav_atomic(out, render(piece, soundfont, o.sample_rate, o.seconds, previous), o.sample_rate);
}

}  // namespace

// -----------------------------------------------------------------------------------------------

SynthOptions SynthOptions::from_json(const json& j, const std::string& json_path) {
  SynthOptions o;
  if (j.is_null()) return o;
  if (!j.is_object()) fail(json_path, "expected object, got " + shown(j));
  for (auto it = j.begin(); it != j.end(); ++it) {
    // Not a structured binding: lambdas capturing one are C++20 (clang < 16 rejects them).
    const std::string& key = it.key();
    const json& value = it.value();
    const std::string path = json_path + "." + detail::escaped(key);  // one-line messages
    auto integer = [&]() -> std::int64_t {
      if (!value.is_number_integer()) fail(path, "expected integer, got " + shown(value));
      return value.is_number_unsigned() ? static_cast<std::int64_t>(std::min<std::uint64_t>(
                                              value.get<std::uint64_t>(), std::uint64_t(INT64_MAX)))
                                        : value.get<std::int64_t>();
    };
    auto number = [&]() -> double {
      if (!value.is_number()) fail(path, "expected number, got " + shown(value));
      return value.get<double>();
    };
    if (key == "type" || key == "root") continue;  // the suite's dataset block passes these through
    if (key == "tracks") {
      const std::int64_t v = integer();
      check_range<std::int64_t>(v, 24, 100000, path);
      o.tracks = static_cast<int>(v);
    } else if (key == "seed") {
      if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<std::int64_t>() >= 0))
        fail(path, "expected unsigned integer, got " + shown(value));
      o.seed = value.get<std::uint64_t>();
    } else if (key == "seconds") {
      o.seconds = number();
      check_range(o.seconds, 2.0, 600.0, path);
    } else if (key == "soundfont") {
      if (!value.is_string()) fail(path, "expected string (a .sf2 path), got " + shown(value));
      o.soundfont = value.get<std::string>();
    } else if (key == "sample_rate") {
      const std::int64_t v = integer();
      check_range<std::int64_t>(v, 8000, 96000, path);
      o.sample_rate = static_cast<int>(v);
    } else if (key == "valid_fraction") {
      o.valid_fraction = number();
      check_range(o.valid_fraction, 0.0, 0.5, path);
    } else if (key == "test_fraction") {
      o.test_fraction = number();
      check_range(o.test_fraction, 0.0, 0.5, path);
    } else {
      std::string hint;
      int best = 3;
      for (const auto& k : kOptionKeys)
        if (const int d = edit_distance(key, k); d < best) {
          best = d;
          hint = fmt::format("did you mean \"{}\"? ", k);
        }
      fail(path, fmt::format("unknown key ({}known: {})", hint, join(kOptionKeys)));
    }
  }
  validate(o, json_path);
  return o;
}

json SynthOptions::to_json() const {
  return {{"tracks", tracks},
          {"seed", seed},
          {"seconds", seconds},
          {"soundfont", soundfont.string()},
          {"sample_rate", sample_rate},
          {"valid_fraction", valid_fraction},
          {"test_fraction", test_fraction}};
}

fs::path default_soundfont() {
  std::error_code ec;
  if (const char* env = std::getenv("MCPT_SOUNDFONT"); env && *env) {
    if (!fs::is_regular_file(env, ec)) throw Error(fmt::format("MCPT_SOUNDFONT={}: no such file", env));
    return env;
  }
  for (const char* p : {"/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
                        "/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2"})
    if (fs::is_regular_file(p, ec)) return p;
  throw Error(
      "no General MIDI SoundFont found (looked at $MCPT_SOUNDFONT, /usr/share/sounds/sf2/TimGM6mb.sf2, "
      "default-GM.sf2, FluidR3_GM.sf2, /usr/share/soundfonts/default.sf2): install timgm6mb-soundfont or "
      "pass --soundfont");
}

bool synthetic_corpus_complete(const fs::path& out_dir, const SynthOptions& options) {
  const json info = read_json(out_dir / kInfo);
  if (!info.is_object()) return false;
  bool have_soundfont = true;
  SoundFontFile sf;
  try {
    sf = resolve_soundfont(options);
  } catch (const Error&) {
    have_soundfont = false;  // none on this machine: a copied corpus is still usable, the options decide
  }
  if (have_soundfont ? !same_identity(info, identity(options, sf))
                     : info.value("generator_version", json()) != json(kGeneratorVersion) ||
                           info.value("options", json()) != options.to_json())
    return false;
  std::ifstream in(out_dir / kManifest);
  std::string line;
  if (!std::getline(in, line) || line != "path,key,split") return false;
  int rows = 0;
  std::error_code ec;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const std::string path = line.substr(0, line.find(','));
    if (!fs::is_regular_file(out_dir / path, ec)) return false;
    ++rows;
  }
  return rows == options.tracks;
}

void render_synthetic_corpus(const fs::path& out_dir, const SynthOptions& options,
                             const SynthProgress& progress) {
  validate(options, "synth options");
  const SoundFontFile sf = resolve_soundfont(options);
  if (synthetic_corpus_complete(out_dir, options)) {
    if (progress) progress(options.tracks, options.tracks);
    return;
  }
  make_synth(sf.path, options.sample_rate);  // fails early, before touching the folder, on a bad SoundFont

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw Error(fmt::format("{}: cannot create folder: {}", out_dir.string(), ec.message()));
  const json want = identity(options, sf);
  // Tracks on disk are kept only when a marker says these options wrote them.
  const bool resume =
      same_identity(read_json(out_dir / kMarker), want) || same_identity(read_json(out_dir / kInfo), want);
  if (!resume) remove_outputs(out_dir);
  write_text_atomic(out_dir / kMarker, want.dump(2) + "\n");
  for (const char* name : {kInfo, kManifest}) fs::remove(out_dir / name, ec);

  const Plan p = plan(options);
  std::vector<int> todo;
  for (int i = 0; i < options.tracks; ++i)
    if (!fs::is_regular_file(out_dir / (p.ids[size_t(i)] + ".wav"), ec)) todo.push_back(i);

  const int total = options.tracks;
  int done = total - static_cast<int>(todo.size());
  if (progress) progress(done, total);
  if (!todo.empty()) {
    const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    const int n_threads =
        std::min({options.threads > 0 ? options.threads : cores, cores, static_cast<int>(todo.size())});
    std::atomic<size_t> next{0};
    std::mutex mutex;
    std::condition_variable changed;
    std::exception_ptr error;
    bool stop = false;
    int running = n_threads;
    auto worker = [&] {
      Synth previous;  // the last track's synth (see render)
      for (;;) {
        {
          std::lock_guard<std::mutex> lock(mutex);
          if (stop) break;
        }
        const size_t k = next.fetch_add(1);
        if (k >= todo.size()) break;
        const int i = todo[k];
        try {
          render_track(options, sf.path, i, p.keys[size_t(i)], out_dir / (p.ids[size_t(i)] + ".wav"), previous);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mutex);
          if (!error) error = std::current_exception();
          stop = true;
          break;
        }
        std::lock_guard<std::mutex> lock(mutex);
        ++done;
        changed.notify_all();
      }
      std::lock_guard<std::mutex> lock(mutex);
      --running;
      changed.notify_all();
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < n_threads; ++t) threads.emplace_back(worker);
    {
      std::unique_lock<std::mutex> lock(mutex);
      int reported = done;
      for (;;) {
        changed.wait(lock, [&] { return running == 0 || done != reported; });
        if (done != reported) {
          reported = done;
          if (progress && !stop) {
            lock.unlock();
            try {
              progress(reported, total);
            } catch (...) {  // e.g. an interrupt: stop the workers, then pass it on
              lock.lock();
              if (!error) error = std::current_exception();
              stop = true;
              continue;
            }
            lock.lock();
          }
        } else if (running == 0) {
          break;
        }
      }
    }
    for (auto& t : threads) t.join();
    if (error) std::rethrow_exception(error);
  }

  std::string manifest = "path,key,split\n";
  for (int i = 0; i < total; ++i)
    manifest +=
        fmt::format("{}.wav,{},{}\n", p.ids[size_t(i)], p.keys[size_t(i)].name(), p.splits[size_t(i)]);
  write_text_atomic(out_dir / kManifest, manifest);
  json info = want;
  info["format"] = "mcpt-eval synthetic corpus";
  info["fluidsynth_version"] = fluid_version_str();
  info["tracks"] = total;
  info["files"] = {{"manifest", kManifest}, {"audio", "<id>.wav, mono 16-bit PCM"}};
  write_text_atomic(out_dir / kInfo, info.dump(2) + "\n");
  fs::remove(out_dir / kMarker, ec);
}

}  // namespace mcpt::datasets
