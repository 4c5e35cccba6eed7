// Tests for datasets/Synthetic: options from JSON, determinism (seed, thread count), key and split
// balance, real tonal audio (a DFT chroma agrees with the labelled key), resuming and wiping.
#include "datasets/Synthetic.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "datasets/Error.h"
#include "datasets/Key.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace mcpt;
using namespace mcpt::datasets;

namespace {

// ---- helpers ------------------------------------------------------------------------------------

std::uint64_t file_hash(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::uint64_t h = 0xcbf29ce484222325ull;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h ^= static_cast<unsigned char>(buf[i]);
      h *= 0x100000001b3ull;
    }
  }
  return h;
}

struct Wav {
  int format = 0, channels = 0, sample_rate = 0, bits = 0;
  std::vector<float> samples;
};

// A small RIFF reader, independent of the library under test.
Wav read_wav(const fs::path& p) {
  const std::string bytes = testutil::read_text(p);
  auto u32 = [&](size_t at) {
    std::uint32_t v = 0;
    std::memcpy(&v, bytes.data() + at, 4);
    return v;
  };
  auto u16 = [&](size_t at) {
    std::uint16_t v = 0;
    std::memcpy(&v, bytes.data() + at, 2);
    return v;
  };
  Wav w;
  if (bytes.size() < 12 || bytes.compare(0, 4, "RIFF") != 0 || bytes.compare(8, 4, "WAVE") != 0) return w;
  for (size_t at = 12; at + 8 <= bytes.size();) {
    const std::string id = bytes.substr(at, 4);
    const size_t size = u32(at + 4);
    if (id == "fmt ") {
      w.format = u16(at + 8);
      w.channels = u16(at + 10);
      w.sample_rate = static_cast<int>(u32(at + 12));
      w.bits = u16(at + 22);
    } else if (id == "data") {
      const size_t n = std::min(size, bytes.size() - at - 8) / 2;
      w.samples.resize(n);
      for (size_t i = 0; i < n; ++i) {
        std::int16_t s = 0;
        std::memcpy(&s, bytes.data() + at + 8 + 2 * i, 2);
        w.samples[i] = float(s) / 32768.0f;
      }
    }
    at += 8 + size + (size & 1);
  }
  return w;
}

// Chroma from Hann-windowed DFT bins at the equal-tempered pitches A2..C7, then the Krumhansl-
// Kessler profile with the highest correlation. A plain baseline: it is easily fooled by a strong
// dominant, which is why the test asks for a clear majority, not all.
Key estimate_key(const std::vector<float>& x, int sample_rate) {
  std::array<double, 12> chroma{};
  constexpr int kFrame = 4096;
  std::vector<double> window(kFrame);
  for (int n = 0; n < kFrame; ++n) window[size_t(n)] = 0.5 - 0.5 * std::cos(2 * M_PI * n / kFrame);
  for (int pitch = 45; pitch <= 96; ++pitch) {
    const double w = 2 * M_PI * 440.0 * std::pow(2.0, (pitch - 69) / 12.0) / sample_rate;
    const double cw = std::cos(w), sw = std::sin(w);
    for (size_t start = 0; start + kFrame <= x.size(); start += kFrame) {
      double re = 0, im = 0, pr = 1, pi = 0;
      for (int n = 0; n < kFrame; ++n) {
        const double v = x[start + size_t(n)] * window[size_t(n)];
        re += v * pr;
        im += v * pi;
        const double t = pr * cw - pi * sw;
        pi = pr * sw + pi * cw;
        pr = t;
      }
      chroma[size_t(pitch % 12)] += std::sqrt(re * re + im * im);
    }
  }
  static const double kMajor[12] = {6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88};
  static const double kMinor[12] = {6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17};
  int best = 0;
  double best_r = -2;
  for (int k = 0; k < 24; ++k) {
    const double* profile = k < 12 ? kMajor : kMinor;
    double mx = 0, my = 0;
    for (int i = 0; i < 12; ++i) {
      mx += chroma[size_t(i)];
      my += profile[(i - k % 12 + 12) % 12];
    }
    mx /= 12;
    my /= 12;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < 12; ++i) {
      const double a = chroma[size_t(i)] - mx, b = profile[(i - k % 12 + 12) % 12] - my;
      sxy += a * b;
      sxx += a * a;
      syy += b * b;
    }
    const double r = sxy / std::sqrt(sxx * syy + 1e-30);
    if (r > best_r) {
      best_r = r;
      best = k;
    }
  }
  return Key::from_index(best);
}

struct Row {
  std::string path, key, split;
};

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<Row> read_manifest(const fs::path& dir) {
  std::vector<Row> rows;
  const auto lines = read_lines(dir / "manifest.csv");
  for (size_t i = 1; i < lines.size(); ++i) {
    std::stringstream ss(lines[i]);
    Row r;
    std::getline(ss, r.path, ',');
    std::getline(ss, r.key, ',');
    std::getline(ss, r.split, ',');
    rows.push_back(r);
  }
  return rows;
}

std::map<std::string, std::uint64_t> hashes(const fs::path& dir) {
  std::map<std::string, std::uint64_t> h;
  for (const auto& r : read_manifest(dir)) h[r.path] = file_hash(dir / r.path);
  return h;
}

SynthOptions small(std::uint64_t seed) {
  SynthOptions o;
  o.tracks = 48;
  o.seed = seed;
  o.seconds = 4;
  o.sample_rate = 16000;
  o.valid_fraction = 0.25;  // 12 tracks
  o.test_fraction = 0.5;    // 24 tracks: every key once
  return o;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// ---- options ------------------------------------------------------------------------------------

const std::string kPath = "suite.datasets.synth";

TEST(SynthOptions, DefaultsAndRoundTrip) {
  const SynthOptions d = SynthOptions::from_json(json::object(), kPath);
  EXPECT_EQ(d.tracks, 96);
  EXPECT_EQ(d.seed, 1u);
  EXPECT_EQ(d.seconds, 20.0);
  EXPECT_EQ(d.sample_rate, 22050);
  EXPECT_TRUE(d.soundfont.empty());

  const json j = {{"type", "synthetic"},  {"root", "data/synth"},  {"tracks", 240},
                  {"seed", 42},           {"seconds", 7.5},        {"soundfont", "/x/y.sf2"},
                  {"sample_rate", 16000}, {"valid_fraction", 0.1}, {"test_fraction", 0.2}};
  const SynthOptions o = SynthOptions::from_json(j, kPath);
  EXPECT_EQ(o.tracks, 240);
  EXPECT_EQ(o.seed, 42u);
  EXPECT_EQ(o.seconds, 7.5);
  EXPECT_EQ(o.soundfont, fs::path("/x/y.sf2"));
  EXPECT_EQ(o.sample_rate, 16000);
  EXPECT_EQ(o.valid_fraction, 0.1);
  EXPECT_EQ(o.test_fraction, 0.2);
  const json back = o.to_json();
  EXPECT_FALSE(back.contains("type"));
  EXPECT_EQ(SynthOptions::from_json(back, kPath).to_json(), back);
}

TEST(SynthOptions, UnknownKeyNamesPathAndKnownKeys) {
  const std::string e = error_of([] { SynthOptions::from_json({{"trakcs", 10}}, kPath); });
  EXPECT_NE(e.find("suite.datasets.synth.trakcs: unknown key"), std::string::npos) << e;
  EXPECT_NE(e.find("known: tracks, seed, seconds"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean \"tracks\""), std::string::npos) << e;
}

TEST(SynthOptions, WrongTypesNamePath) {
  EXPECT_EQ(error_of([] {
              SynthOptions::from_json({{"tracks", "ten"}}, kPath);
            }),
            "suite.datasets.synth.tracks: expected integer, got \"ten\"");
  EXPECT_EQ(error_of([] {
              SynthOptions::from_json({{"tracks", 96.5}}, kPath);
            }),
            "suite.datasets.synth.tracks: expected integer, got 96.5");
  EXPECT_NE(error_of([] {
              SynthOptions::from_json({{"seed", -1}}, kPath);
            }).find("suite.datasets.synth.seed:"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              SynthOptions::from_json({{"seconds", "long"}}, kPath);
            }).find("suite.datasets.synth.seconds: expected number"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              SynthOptions::from_json({{"soundfont", 3}}, kPath);
            }).find("suite.datasets.synth.soundfont: expected string"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              SynthOptions::from_json(json::array(), kPath);
            }).find("suite.datasets.synth: expected object"),
            std::string::npos);
}

TEST(SynthOptions, OutOfRangeNamesPath) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"tracks", 10}}, "suite.datasets.synth.tracks: 10 is out of range [24, 100000]"},
      {{{"tracks", 100001}}, "suite.datasets.synth.tracks:"},
      {{{"seconds", 1}}, "suite.datasets.synth.seconds:"},
      {{{"seconds", 601}}, "suite.datasets.synth.seconds:"},
      {{{"sample_rate", 4000}}, "suite.datasets.synth.sample_rate:"},
      {{{"valid_fraction", 0.6}}, "suite.datasets.synth.valid_fraction:"},
      {{{"test_fraction", -0.1}}, "suite.datasets.synth.test_fraction:"},
      {{{"valid_fraction", 0.5}, {"test_fraction", 0.5}},
       "suite.datasets.synth: valid_fraction + test_fraction"},
  };
  for (const auto& [j, want] : cases) {
    const std::string e = error_of([&] { SynthOptions::from_json(j, kPath); });
    EXPECT_EQ(e.rfind(want, 0), 0u) << j.dump() << " -> " << e;
  }
}

// ---- SoundFont ----------------------------------------------------------------------------------

class EnvGuard {
 public:
  explicit EnvGuard(const char* name) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v, had_ = true;
  }
  ~EnvGuard() {
    if (had_)
      setenv(name_, old_.c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(SynthSoundFont, DefaultSearchAndEnvironment) {
  EnvGuard guard("MCPT_SOUNDFONT");
  unsetenv("MCPT_SOUNDFONT");
  const fs::path d = default_soundfont();
  EXPECT_TRUE(fs::is_regular_file(d)) << d;

  testutil::TempDir tmp("synth-sf");
  testutil::write_text(tmp / "my.sf2", "x");
  setenv("MCPT_SOUNDFONT", (tmp / "my.sf2").c_str(), 1);
  EXPECT_EQ(default_soundfont(), tmp / "my.sf2");
  setenv("MCPT_SOUNDFONT", (tmp / "gone.sf2").c_str(), 1);
  const std::string e = error_of([] { default_soundfont(); });
  EXPECT_NE(e.find((tmp / "gone.sf2").string()), std::string::npos) << e;
}

TEST(SynthSoundFont, MissingOrInvalidFileIsNamed) {
  testutil::TempDir tmp("synth-sf");
  SynthOptions o = small(1);
  o.soundfont = tmp / "missing.sf2";
  std::string e = error_of([&] { render_synthetic_corpus(tmp / "out", o); });
  EXPECT_NE(e.find((tmp / "missing.sf2").string()), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(tmp / "out"));

  testutil::write_text(tmp / "fake.sf2", "this is not a SoundFont");
  o.soundfont = tmp / "fake.sf2";
  e = error_of([&] { render_synthetic_corpus(tmp / "out", o); });
  EXPECT_NE(e.find((tmp / "fake.sf2").string()), std::string::npos) << e;
  EXPECT_FALSE(synthetic_corpus_complete(tmp / "out", o));
}

// ---- a rendered corpus, shared by the tests below -------------------------------------------------

class SyntheticCorpus : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testutil::TempDir("synth-corpus");
    render_synthetic_corpus(dir_->path(), small(7), [](int done, int total) {
      progress_calls_++;
      last_done_ = done;
      last_total_ = total;
    });
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static const fs::path& dir() { return dir_->path(); }

  static testutil::TempDir* dir_;
  static int progress_calls_, last_done_, last_total_;
};
testutil::TempDir* SyntheticCorpus::dir_ = nullptr;
int SyntheticCorpus::progress_calls_ = 0;
int SyntheticCorpus::last_done_ = 0;
int SyntheticCorpus::last_total_ = 0;

TEST_F(SyntheticCorpus, CompleteWithProgress) {
  EXPECT_TRUE(synthetic_corpus_complete(dir(), small(7)));
  EXPECT_FALSE(synthetic_corpus_complete(dir(), small(8)));
  EXPECT_GE(progress_calls_, 2);
  EXPECT_EQ(last_done_, 48);
  EXPECT_EQ(last_total_, 48);
  EXPECT_FALSE(fs::exists(dir() / ".render.json"));
}

TEST_F(SyntheticCorpus, ManifestFormat) {
  const auto lines = read_lines(dir() / "manifest.csv");
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "path,key,split");
  const auto rows = read_manifest(dir());
  ASSERT_EQ(rows.size(), 48u);
  std::set<std::string> paths;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    EXPECT_EQ(r.path, fmt::format("synth-{:04}.wav", i + 1));
    EXPECT_TRUE(fs::path(r.path).is_relative());
    EXPECT_TRUE(fs::is_regular_file(dir() / r.path)) << r.path;
    EXPECT_EQ(Key::parse(r.key).name(), r.key);
    EXPECT_TRUE(r.split == "train" || r.split == "valid" || r.split == "test") << r.split;
    paths.insert(r.path);
  }
  EXPECT_EQ(paths.size(), rows.size());

  std::ifstream in(dir() / "synth.json");
  const json info = json::parse(in);
  EXPECT_EQ(info.at("options"), small(7).to_json());
  const fs::path sf = info.at("soundfont").at("path").get<std::string>();
  EXPECT_TRUE(sf.is_absolute());
  EXPECT_EQ(info.at("soundfont").at("size").get<std::uintmax_t>(), fs::file_size(sf));
  EXPECT_FALSE(info.at("fluidsynth_version").get<std::string>().empty());
}

TEST_F(SyntheticCorpus, KeysAndSplitsBalanced) {
  const auto rows = read_manifest(dir());
  std::map<std::string, int> per_key;
  std::map<std::string, std::map<std::string, int>> per_split;
  for (const auto& r : rows) {
    per_key[r.key]++;
    per_split[r.split][r.key]++;
  }
  EXPECT_EQ(per_key.size(), 24u);
  for (const auto& [key, n] : per_key) EXPECT_EQ(n, 2) << key;

  // Fractions: 48 * 0.25 = 12 valid, 48 * 0.5 = 24 test, 12 train.
  auto count = [&](const std::string& s) {
    int n = 0;
    for (const auto& [k, c] : per_split[s]) n += c;
    return n;
  };
  EXPECT_EQ(count("valid"), 12);
  EXPECT_EQ(count("test"), 24);
  EXPECT_EQ(count("train"), 12);
  EXPECT_EQ(per_split["test"].size(), 24u);  // >= 24 tracks: every key
  for (const auto& [split, keys] : per_split)
    for (const auto& [key, n] : keys) EXPECT_EQ(n, 1) << split << " " << key;  // as even as it can be
}

TEST_F(SyntheticCorpus, AudioIsTonalMusicInTheLabelledKey) {
  int agree = 0, related = 0;
  const auto rows = read_manifest(dir());
  for (const auto& r : rows) {
    const Wav w = read_wav(dir() / r.path);
    ASSERT_EQ(w.format, 1) << r.path;  // PCM
    ASSERT_EQ(w.channels, 1);
    ASSERT_EQ(w.bits, 16);
    ASSERT_EQ(w.sample_rate, 16000);
    ASSERT_EQ(w.samples.size(), 4u * 16000u);
    double peak = 0, energy = 0;
    for (float s : w.samples) {
      peak = std::max(peak, double(std::abs(s)));
      energy += double(s) * s;
    }
    const double rms = std::sqrt(energy / double(w.samples.size()));
    EXPECT_NEAR(20 * std::log10(peak), -1.0, 0.2) << r.path;
    EXPECT_GT(20 * std::log10(rms), -35.0) << r.path;

    const Key label = Key::parse(r.key), est = estimate_key(w.samples, w.sample_rate);
    agree += est == label;
    related += key_relation(label, est) != KeyRelation::kOther;
  }
  const double n = double(rows.size());
  EXPECT_GE(agree / n, 0.7) << agree << " of " << n;
  EXPECT_GE(related / n, 0.9) << related << " of " << n;
}

TEST_F(SyntheticCorpus, SameBytesWithOneThreadResumeAndWipe) {
  testutil::TempDir tmp("synth-again");
  SynthOptions o = small(7);
  o.threads = 1;
  render_synthetic_corpus(tmp.path(), o);
  const auto want = hashes(dir());
  ASSERT_EQ(want.size(), 48u);
  EXPECT_EQ(hashes(tmp.path()), want);
  EXPECT_EQ(testutil::read_text(tmp / "manifest.csv"), testutil::read_text(dir() / "manifest.csv"));

  // A lost file makes the corpus incomplete; a re-render restores the same bytes, rendering only it.
  fs::remove(tmp / "synth-0017.wav");
  EXPECT_FALSE(synthetic_corpus_complete(tmp.path(), o));
  int first_done = -1;
  render_synthetic_corpus(tmp.path(), o, [&](int done, int) {
    if (first_done < 0) first_done = done;
  });
  EXPECT_EQ(first_done, 47);
  EXPECT_TRUE(synthetic_corpus_complete(tmp.path(), o));
  EXPECT_EQ(hashes(tmp.path()), want);

  // A render killed before its manifest: only synth.json missing reads as incomplete.
  fs::remove(tmp / "synth.json");
  EXPECT_FALSE(synthetic_corpus_complete(tmp.path(), o));
  render_synthetic_corpus(tmp.path(), o);
  EXPECT_TRUE(synthetic_corpus_complete(tmp.path(), o));

  // Other options: the old tracks go (a file of ours that is not a track stays), the new seed gives
  // different audio for every track.
  testutil::write_text(tmp / "notes.txt", "mine");
  SynthOptions other = o;
  other.seed = 8;
  render_synthetic_corpus(tmp.path(), other);
  EXPECT_TRUE(synthetic_corpus_complete(tmp.path(), other));
  EXPECT_FALSE(synthetic_corpus_complete(tmp.path(), o));
  EXPECT_TRUE(fs::exists(tmp / "notes.txt"));
  const auto changed = hashes(tmp.path());
  ASSERT_EQ(changed.size(), 48u);
  for (const auto& [path, h] : changed) EXPECT_NE(h, want.at(path)) << path;
}

SynthOptions tiny(std::uint64_t seed) {
  SynthOptions o = small(seed);
  o.tracks = 24;
  o.seconds = 2;
  o.sample_rate = 8000;
  return o;
}

TEST(SyntheticRender, InterruptedRenderResumes) {
  testutil::TempDir tmp("synth-interrupt");
  const SynthOptions o = tiny(4);
  struct Interrupted {};
  EXPECT_THROW(render_synthetic_corpus(tmp.path(), o,
                                       [](int done, int) {
                                         if (done >= 3) throw Interrupted{};
                                       }),
               Interrupted);
  EXPECT_FALSE(synthetic_corpus_complete(tmp.path(), o));
  EXPECT_FALSE(fs::exists(tmp / "manifest.csv"));
  EXPECT_TRUE(fs::exists(tmp / ".render.json"));
  int first_done = -1, last_done = -1;
  render_synthetic_corpus(tmp.path(), o, [&](int done, int) {
    if (first_done < 0) first_done = done;
    last_done = done;
  });
  EXPECT_GE(first_done, 3);
  EXPECT_EQ(last_done, 24);
  EXPECT_TRUE(synthetic_corpus_complete(tmp.path(), o));

  // The same corpus rendered in one go has the same bytes.
  testutil::TempDir again("synth-interrupt");
  render_synthetic_corpus(again.path(), o);
  EXPECT_EQ(hashes(again.path()), hashes(tmp.path()));

  // Naming the default SoundFont explicitly is the same corpus.
  SynthOptions named = o;
  named.soundfont = default_soundfont();
  EXPECT_TRUE(synthetic_corpus_complete(tmp.path(), named));
}

TEST(SyntheticRender, StaleFilesFromAnUnknownRenderAreNotTrusted) {
  testutil::TempDir tmp("synth-stale");
  const SynthOptions o = tiny(3);
  // A half-finished render by other options left a marker and a track.
  testutil::write_text(tmp / ".render.json", R"({"generator_version": 1, "options": {}})");
  testutil::write_text(tmp / "synth-0001.wav", "not audio");
  testutil::write_text(tmp / ".synth-0002.wav.tmp", "partial");
  render_synthetic_corpus(tmp.path(), o);
  EXPECT_TRUE(synthetic_corpus_complete(tmp.path(), o));
  EXPECT_EQ(read_wav(tmp / "synth-0001.wav").samples.size(), 2u * 8000u);
  EXPECT_FALSE(fs::exists(tmp / ".synth-0002.wav.tmp"));
  EXPECT_FALSE(fs::exists(tmp / ".render.json"));
}

}  // namespace

// A compressed font is loaded dynamically (a preset's samples decoded when it is selected), and each
// render thread hands its last track's synth over to the next so that FluidSynth keeps the samples
// they share decoded. The bytes must not depend on what was cached: one thread (every track after the
// first finds its predecessor's samples), two threads, and a track re-rendered alone (nothing cached)
// give the same files.
TEST(SyntheticRender, CompressedSoundFontSameBytesWhateverWasCached) {
  const fs::path sf3 = "/usr/share/sounds/sf3/FluidR3Mono_GM.sf3";
  if (!fs::exists(sf3)) GTEST_SKIP() << sf3 << " is not installed (Debian's fluidr3mono-gm-soundfont)";
  SynthOptions o = tiny(5);
  o.soundfont = sf3;
  o.threads = 1;
  testutil::TempDir one("synth-sf3-one"), two("synth-sf3-two");
  render_synthetic_corpus(one.path(), o);
  const auto want = hashes(one.path());
  ASSERT_EQ(want.size(), 24u);
  o.threads = 2;
  render_synthetic_corpus(two.path(), o);
  EXPECT_EQ(hashes(two.path()), want);
  for (const char* id : {"synth-0013"}) {
    fs::remove(two / (std::string(id) + ".wav"));
    render_synthetic_corpus(two.path(), o);
    EXPECT_EQ(hashes(two.path()), want) << id << " rendered alone";
  }
}
