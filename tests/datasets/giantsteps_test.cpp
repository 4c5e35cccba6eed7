// GiantSteps Key and GiantSteps MTG Key loaders on the real annotation files in tests/data
// (see tests/data/PROVENANCE.md): exact counts, every trap in the MTG labels, the grouped split.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "datasets/Audio.h"
#include "datasets/Dataset.h"
#include "datasets/Error.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using namespace mcpt;
using namespace mcpt::datasets;
using mcpt::testutil::TempDir;

namespace {

fs::path gs_key_root() { return testutil::test_data() / "giantsteps-key"; }
fs::path mtg_root() { return testutil::test_data() / "giantsteps-mtg-key"; }

std::map<std::string, int> reasons(const Dataset& ds) {
  std::map<std::string, int> n;
  for (const auto& e : ds.excluded) ++n[e.reason];
  return n;
}

const Exclusion* find_excluded(const Dataset& ds, const std::string& id) {
  for (const auto& e : ds.excluded)
    if (e.id == id) return &e;
  return nullptr;
}

const Track* find_track(const Dataset& ds, const std::string& id) {
  for (const auto& t : ds.tracks)
    if (t.id == id) return &t;
  return nullptr;
}

using mcpt::testutil::error_of;

// Stand-in audio: a short MP3 in the annotated key at the path the loader expects.
void write_stand_in(const Track& t) {
  fs::create_directories(t.audio.parent_path());
  write_audio(t.audio, testutil::key_chords(t.key, 1.0, 22050), AudioFormat::kMp3);
}

}  // namespace

// ---- GiantSteps Key ------------------------------------------------------------------------------

TEST(GiantStepsKey, LoadsAll604TracksWithProvenanceCounts) {
  const Dataset ds = load_giantsteps_key(gs_key_root());
  EXPECT_EQ(ds.type, "giantsteps-key");
  ASSERT_EQ(ds.tracks.size(), 604u);
  EXPECT_TRUE(ds.excluded.empty());

  std::map<std::string, int> modes, tonics;
  const char* flats[12] = {"C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"};  // the files' spelling
  std::set<std::string> ids;
  for (const auto& t : ds.tracks) {
    ++modes[mode_name(t.key.mode())];
    ++tonics[flats[t.key.tonic()]];
    ids.insert(t.id);
    EXPECT_EQ(t.split, "test");
    EXPECT_EQ(t.confidence, -1.0);
    EXPECT_EQ(t.audio, gs_key_root() / "audio" / (t.id + ".LOFI.mp3"));
  }
  EXPECT_EQ(ids.size(), 604u);
  EXPECT_EQ(modes, (std::map<std::string, int>{{"minor", 511}, {"major", 93}}));
  EXPECT_EQ(tonics, (std::map<std::string, int>{{"F", 82}, {"G", 70}, {"C", 68}, {"A", 65}, {"E", 58}, {"D", 50},
                                                {"Eb", 45}, {"B", 37}, {"Gb", 36}, {"Ab", 34}, {"Bb", 33}, {"Db", 26}}));
  // Sorted numerically by id.
  for (size_t i = 1; i < ds.tracks.size(); ++i)
    EXPECT_LT(std::stoll(ds.tracks[i - 1].id), std::stoll(ds.tracks[i].id));
}

TEST(GiantStepsKey, MissingAudioIsListedAndShrinksAsAudioAppears) {
  TempDir dir("gskey");
  fs::copy(gs_key_root(), dir.path(), fs::copy_options::recursive);
  Dataset ds = load_giantsteps_key(dir.path());
  ASSERT_EQ(ds.tracks.size(), 604u);
  EXPECT_EQ(ds.missing_audio.size(), 604u);  // no audio folder at all

  std::set<std::string> made;
  for (size_t i = 0; i < ds.tracks.size(); i += 150) {  // 5 ids across the list
    write_stand_in(ds.tracks[i]);
    made.insert(ds.tracks[i].id);
  }
  ASSERT_EQ(made.size(), 5u);
  ds = load_giantsteps_key(dir.path());
  EXPECT_EQ(ds.tracks.size(), 604u);
  EXPECT_EQ(ds.missing_audio.size(), 599u);
  for (const auto& id : ds.missing_audio) EXPECT_EQ(made.count(id), 0u) << id;

  // The stand-in decodes, in the annotated key's length.
  const Track* t = find_track(ds, *made.begin());
  ASSERT_NE(t, nullptr);
  EXPECT_NEAR(probe_audio(t->audio).duration(), 1.0, 0.1);
}

TEST(GiantStepsKey, ErrorsNameThePathAndTheExpectedLayout) {
  TempDir dir("gskey-err");
  std::string msg = error_of([&] { load_giantsteps_key(dir / "nowhere"); });
  EXPECT_NE(msg.find((dir / "nowhere").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("annotations/key/<ID>.LOFI.key"), std::string::npos) << msg;

  msg = error_of([&] { load_giantsteps_key(dir.path()); });  // root exists, annotations do not
  EXPECT_NE(msg.find("annotations folder not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find((dir / "annotations" / "key").string()), std::string::npos) << msg;

  fs::create_directories(dir / "annotations" / "key");
  msg = error_of([&] { load_giantsteps_key(dir.path()); });
  EXPECT_NE(msg.find("no *.key files"), std::string::npos) << msg;

  testutil::write_text(dir / "annotations" / "key" / "1.LOFI.key", "C minor");
  testutil::write_text(dir / "annotations" / "key" / "2.LOFI.key", "H major");
  msg = error_of([&] { load_giantsteps_key(dir.path()); });
  EXPECT_NE(msg.find((dir / "annotations" / "key" / "2.LOFI.key").string() + ":1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("H major"), std::string::npos) << msg;
}

// ---- GiantSteps MTG Key ----------------------------------------------------------------------------
//
// Expected counts, from tests/data/PROVENANCE.md (1486 rows) and checked with a one-off Python count.
// Labels are checked before confidence, so each unusable label has its own reason at any threshold:
//   multiple keys 63 (contain '/'), no key 72 ('-'), empty key 1 (' ', ID 4311630),
//   ambiguous key 1 ('A-A# minor', ID 297150)                          -> 137 whatever min_confidence
//   single keys: 1347 clean + 2 trailing space = 1349 (C=2: 1157+2 = 1159, C=1: 174, C=0: 16)
//   min_confidence 2: usable 1159, low confidence 174 + 16 = 190
//   min_confidence 1: usable 1159 + 174 = 1333, low confidence 16
//   min_confidence 0: usable 1349, low confidence 0
// Each sums to 1486.

TEST(GiantStepsMtgKey, DefaultOptionsCountEveryExclusionReason) {
  const Dataset ds = load_giantsteps_mtg_key(mtg_root());
  EXPECT_EQ(ds.type, "giantsteps-mtg-key");
  EXPECT_EQ(ds.tracks.size(), 1159u);
  EXPECT_EQ(reasons(ds), (std::map<std::string, int>{{"multiple keys", 63},
                                                      {"no key", 72},
                                                      {"empty key", 1},
                                                      {"ambiguous key", 1},
                                                      {"low confidence", 190}}));
  EXPECT_EQ(ds.tracks.size() + ds.excluded.size(), 1486u);
  for (const auto& t : ds.tracks) {
    EXPECT_EQ(t.confidence, 2.0);
    EXPECT_FALSE(t.key.is_none());
    EXPECT_TRUE(t.split == "train" || t.split == "valid") << t.split;
  }
  EXPECT_EQ(ds.missing_audio.size(), 1159u);
}

TEST(GiantStepsMtgKey, LowerConfidenceThresholds) {
  MtgKeyOptions o;
  o.min_confidence = 1;
  Dataset ds = load_giantsteps_mtg_key(mtg_root(), o);
  EXPECT_EQ(ds.tracks.size(), 1333u);
  EXPECT_EQ(reasons(ds), (std::map<std::string, int>{{"multiple keys", 63},
                                                      {"no key", 72},
                                                      {"empty key", 1},
                                                      {"ambiguous key", 1},
                                                      {"low confidence", 16}}));
  o.min_confidence = 0;
  ds = load_giantsteps_mtg_key(mtg_root(), o);
  EXPECT_EQ(ds.tracks.size(), 1349u);
  EXPECT_EQ(reasons(ds), (std::map<std::string, int>{
                             {"multiple keys", 63}, {"no key", 72}, {"empty key", 1}, {"ambiguous key", 1}}));
  std::map<std::string, int> modes;
  for (const auto& t : ds.tracks) ++modes[mode_name(t.key.mode())];
  EXPECT_EQ(modes, (std::map<std::string, int>{{"minor", 920}, {"major", 429}}));  // 427 + 2 trailing-space majors
}

TEST(GiantStepsMtgKey, TrapsAreHandled) {
  const Dataset ds = load_giantsteps_mtg_key(mtg_root());
  const Track* b = find_track(ds, "4970565");  // "B major "
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->key, Key::parse("B major"));
  const Track* cs = find_track(ds, "6105589");  // "C# major "
  ASSERT_NE(cs, nullptr);
  EXPECT_EQ(cs->key, Key::parse("C# major"));

  const Exclusion* space = find_excluded(ds, "4311630");
  ASSERT_NE(space, nullptr);
  EXPECT_EQ(space->reason, "empty key");
  EXPECT_EQ(space->detail, " ");
  const Exclusion* range = find_excluded(ds, "297150");
  ASSERT_NE(range, nullptr);
  EXPECT_EQ(range->reason, "ambiguous key");
  EXPECT_EQ(range->detail, "A-A# minor");

  // Spot checks: a C=1 single key, a '/' label, a '-' label.
  const Track* first = find_track(ds, "5061");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->key, Key::parse("D# minor"));
  EXPECT_EQ(first->artist, "Philippe Van Mullem");
}

TEST(GiantStepsMtgKey, SplitIsGroupedByArtistAndSeeded) {
  const Dataset a = load_giantsteps_mtg_key(mtg_root());
  std::map<std::string, std::set<std::string>> splits_of_artist;
  size_t n_valid = 0;
  for (const auto& t : a.tracks) {
    EXPECT_FALSE(t.artist.empty()) << t.id;  // every id is in beatport_metadata.txt
    splits_of_artist[t.artist].insert(t.split);
    n_valid += t.split == "valid";
  }
  for (const auto& [artist, s] : splits_of_artist) EXPECT_EQ(s.size(), 1u) << artist;
  EXPECT_EQ(a.split("valid").size(), n_valid);
  EXPECT_EQ(a.split("train").size() + n_valid, a.tracks.size());
  EXPECT_EQ(a.split("").size(), a.tracks.size());
  EXPECT_NEAR(double(n_valid) / double(a.tracks.size()), 0.1, 0.01);

  const Dataset again = load_giantsteps_mtg_key(mtg_root());
  for (size_t i = 0; i < a.tracks.size(); ++i) ASSERT_EQ(a.tracks[i].split, again.tracks[i].split);

  MtgKeyOptions o;
  o.split_seed = 2;
  const Dataset other = load_giantsteps_mtg_key(mtg_root(), o);
  size_t differ = 0;
  for (size_t i = 0; i < a.tracks.size(); ++i) differ += a.tracks[i].split != other.tracks[i].split;
  EXPECT_GT(differ, 50u);

  o.split_seed = 1;
  o.valid_fraction = 0.25;
  const Dataset quarter = load_giantsteps_mtg_key(mtg_root(), o);
  EXPECT_NEAR(double(quarter.split("valid").size()) / double(quarter.tracks.size()), 0.25, 0.01);
  o.valid_fraction = 0.0;
  EXPECT_TRUE(load_giantsteps_mtg_key(mtg_root(), o).split("valid").empty());
}

namespace {

// A small MTG-layout folder with the given annotation and metadata text.
void write_mtg(const fs::path& root, const std::string& annotations, const std::string& metadata) {
  fs::create_directories(root / "annotations");
  testutil::write_text(root / "annotations" / "annotations.txt", annotations);
  testutil::write_text(root / "annotations" / "beatport_metadata.txt", metadata);
}

const char* kMeta = "ID\tARTIST\tSONG TITLE\n1\tA\tx\n2\tA\ty\n3\tB, C\tz\n";

}  // namespace

TEST(GiantStepsMtgKey, ToleratesCrlfBomBlankLinesAndUnknownArtists) {
  TempDir dir("mtg-crlf");
  write_mtg(dir.path(), "\xEF\xBB\xBFID\tMANUAL KEY\tC\r\n1\tA minor\t2\r\n2\tBb major \t2\r\n4\tC major\t2\r\n\r\n\r\n",
            "\xEF\xBB\xBF" + std::string(kMeta));
  const Dataset ds = load_giantsteps_mtg_key(dir.path());
  ASSERT_EQ(ds.tracks.size(), 3u);
  EXPECT_EQ(ds.tracks[0].id, "1");
  EXPECT_EQ(ds.tracks[1].key, Key::parse("A# major"));
  EXPECT_EQ(ds.tracks[0].artist, "A");
  EXPECT_EQ(ds.tracks[2].id, "4");
  EXPECT_EQ(ds.tracks[2].artist, "");  // not in the metadata: its own group
  EXPECT_EQ(ds.tracks[0].split, ds.tracks[1].split);  // same artist
}

TEST(GiantStepsMtgKey, ErrorsNameFileAndLine) {
  TempDir dir("mtg-err");
  std::string msg = error_of([&] { load_giantsteps_mtg_key(dir / "nowhere"); });
  EXPECT_NE(msg.find((dir / "nowhere").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("annotations/annotations.txt"), std::string::npos) << msg;

  msg = error_of([&] { load_giantsteps_mtg_key(dir.path()); });
  EXPECT_NE(msg.find("annotations folder not found"), std::string::npos) << msg;

  const fs::path ann = dir / "annotations" / "annotations.txt";
  write_mtg(dir.path(), "ID\tMANUAL KEY\tC\n1\tA minor\t2\n2\tB minor\n", kMeta);
  msg = error_of([&] { load_giantsteps_mtg_key(dir.path()); });
  EXPECT_NE(msg.find(ann.string() + ":3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got 2"), std::string::npos) << msg;

  write_mtg(dir.path(), "ID\tMANUAL KEY\tC\n1\tA minor\ttwo\n", kMeta);
  msg = error_of([&] { load_giantsteps_mtg_key(dir.path()); });
  EXPECT_NE(msg.find(ann.string() + ":2: C:"), std::string::npos) << msg;

  write_mtg(dir.path(), "ID\tMANUAL KEY\tC\n1\tA minor\t2\n1\tB minor\t2\n", kMeta);
  msg = error_of([&] { load_giantsteps_mtg_key(dir.path()); });
  EXPECT_NE(msg.find(ann.string() + ":3: ID: duplicate id \"1\" (first on line 2)"), std::string::npos) << msg;

  write_mtg(dir.path(), "ID\tMANUAL KEY\tC\n1\tH minor\t2\n", kMeta);
  msg = error_of([&] { load_giantsteps_mtg_key(dir.path()); });
  EXPECT_NE(msg.find(ann.string() + ":2: MANUAL KEY:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("H minor"), std::string::npos) << msg;

  write_mtg(dir.path(), "ID\tKEY\tC\n1\tA minor\t2\n", kMeta);
  msg = error_of([&] { load_giantsteps_mtg_key(dir.path()); });
  EXPECT_NE(msg.find(ann.string() + ":1: header has no \"MANUAL KEY\" column"), std::string::npos) << msg;

  const fs::path meta = dir / "annotations" / "beatport_metadata.txt";
  write_mtg(dir.path(), "ID\tMANUAL KEY\tC\n1\tA minor\t2\n", "ID\tARTIST\tSONG TITLE\n1\tA\n");
  msg = error_of([&] { load_giantsteps_mtg_key(dir.path()); });
  EXPECT_NE(msg.find(meta.string() + ":2:"), std::string::npos) << msg;

  fs::remove(meta);
  msg = error_of([&] { load_giantsteps_mtg_key(dir.path()); });
  EXPECT_NE(msg.find(meta.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
}
