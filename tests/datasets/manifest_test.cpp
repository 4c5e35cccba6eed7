// Manifests (CSV, TSV, JSON): fields, quoting, BOM/CRLF, relative paths, and errors that name the
// file, the line or JSON index, and the field.
#include <gtest/gtest.h>

#include "datasets/Dataset.h"
#include "datasets/Error.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using namespace mcpt;
using namespace mcpt::datasets;
using mcpt::testutil::TempDir;
using mcpt::testutil::write_text;

namespace {

using mcpt::testutil::error_of;


}  // namespace

TEST(Manifest, CsvWithAllFieldsAnyOrder) {
  TempDir dir("man-csv");
  fs::create_directories(dir / "sub");
  write_text(dir / "sub" / "m.csv",
             "key,path,split,start,end,id,confidence,artist\n"
             "C# minor,audio/a.wav,train,0,30,,,X1\n"
             "Eb major,../b.mp3,validation,10.5,,bee,0.5,\n"
             "Am,c.flac,,,,,,\n"
             "X,d.wav,TEST,,,,,\n");
  write_text(dir / "sub" / "c.flac", "not really audio");
  const Dataset ds = load_manifest(dir / "sub" / "m.csv");
  EXPECT_EQ(ds.type, "manifest");
  EXPECT_EQ(ds.root, dir / "sub");
  ASSERT_EQ(ds.tracks.size(), 4u);

  const Track& a = ds.tracks[0];  // manifest order is kept
  EXPECT_EQ(a.id, "audio/a");     // the path without its extension
  EXPECT_EQ(a.audio, dir / "sub" / "audio" / "a.wav");
  EXPECT_EQ(a.key, Key(1, Mode::kMinor));
  EXPECT_EQ(a.split, "train");
  EXPECT_EQ(a.start, 0.0);
  EXPECT_EQ(a.end, 30.0);
  EXPECT_EQ(a.confidence, -1.0);
  EXPECT_EQ(a.artist, "X1");

  const Track& b = ds.tracks[1];
  EXPECT_EQ(b.id, "bee");
  EXPECT_EQ(b.audio, dir / "b.mp3");  // relative to the manifest's folder, normalised
  EXPECT_EQ(b.split, "valid");
  EXPECT_EQ(b.start, 10.5);
  EXPECT_EQ(b.end, -1.0);
  EXPECT_EQ(b.confidence, 0.5);

  EXPECT_EQ(ds.tracks[2].key, Key(9, Mode::kMinor));
  EXPECT_EQ(ds.tracks[2].split, "");
  EXPECT_TRUE(ds.tracks[3].key.is_none());
  EXPECT_EQ(ds.tracks[3].split, "test");
  EXPECT_EQ(ds.missing_audio, (std::vector<std::string>{"audio/a", "bee", "d"}));
}

TEST(Manifest, QuotedFieldsBomAndCrlf) {
  TempDir dir("man-quote");
  write_text(dir / "m.csv",
             "\xEF\xBB\xBFpath,key,id\r\n"
             "\"Artist, The - Song \"\"Live\"\".wav\",\"F# major\",\"one, two\"\r\n"
             "plain.wav,G minor,\"multi\nline\"\r\n"
             "\r\n");
  const Dataset ds = load_manifest(dir / "m.csv");
  ASSERT_EQ(ds.tracks.size(), 2u);
  EXPECT_EQ(ds.tracks[0].audio, dir / "Artist, The - Song \"Live\".wav");
  EXPECT_EQ(ds.tracks[0].id, "one, two");
  EXPECT_EQ(ds.tracks[0].key, Key(6, Mode::kMajor));
  EXPECT_EQ(ds.tracks[1].id, "multi\nline");
}

TEST(Manifest, TsvByExtensionAndBySniffing) {
  TempDir dir("man-tsv");
  const std::string tsv = "path\tkey\tsplit\na, b.wav\tD minor\tval\n";
  write_text(dir / "m.tsv", tsv);
  write_text(dir / "m.list", tsv);
  for (const char* name : {"m.tsv", "m.list"}) {
    const Dataset ds = load_manifest(dir / name);
    ASSERT_EQ(ds.tracks.size(), 1u) << name;
    EXPECT_EQ(ds.tracks[0].audio, dir / "a, b.wav");
    EXPECT_EQ(ds.tracks[0].split, "valid");
  }
}

TEST(Manifest, JsonArrayAndTracksObject) {
  TempDir dir("man-json");
  write_text(dir / "a.json",
             R"([{"path": "x.wav", "key": "B minor", "split": "test", "start": 1, "end": 2.5},
                 {"path": "/abs/y.wav", "key": "Db major", "id": "why", "confidence": 2}])");
  Dataset ds = load_manifest(dir / "a.json");
  ASSERT_EQ(ds.tracks.size(), 2u);
  EXPECT_EQ(ds.tracks[0].audio, dir / "x.wav");
  EXPECT_EQ(ds.tracks[0].id, "x");
  EXPECT_EQ(ds.tracks[0].end, 2.5);
  EXPECT_EQ(ds.tracks[1].audio, fs::path("/abs/y.wav"));
  EXPECT_EQ(ds.tracks[1].key, Key(1, Mode::kMajor));
  EXPECT_EQ(ds.tracks[1].confidence, 2.0);

  write_text(dir / "t.txt", R"({"tracks": [{"path": "x.wav", "key": "E major"}]})");  // sniffed
  ds = load_manifest(dir / "t.txt");
  ASSERT_EQ(ds.tracks.size(), 1u);
  EXPECT_EQ(ds.tracks[0].key, Key(4, Mode::kMajor));
}

TEST(Manifest, ErrorsNameFileLineAndField) {
  TempDir dir("man-err");
  const std::string m = (dir / "m.csv").string();
  auto csv_error = [&](const std::string& text) {
    write_text(dir / "m.csv", text);
    return error_of([&] { load_manifest(dir / "m.csv"); });
  };

  std::string msg = csv_error("path,key\na.wav,C major\n\nb.wav,H major\n");
  EXPECT_HAS(msg, m + ":4: key: not a key: \"H major\"");
  msg = csv_error("path,key\na.wav,C major\na.flac,D major\n");
  EXPECT_HAS(msg, m + ":3: id: duplicate id \"a\" (first at line 2)");
  msg = csv_error("path,key,start,end\na.wav,C major,-1,\n");
  EXPECT_HAS(msg, m + ":2: start: must be >= 0");
  msg = csv_error("path,key,start,end\na.wav,C major,5,5\n");
  EXPECT_HAS(msg, m + ":2: end: must be greater than start");
  msg = csv_error("path,key,start\na.wav,C major,soon\n");
  EXPECT_HAS(msg, m + ":2: start: expected a number, got \"soon\"");
  msg = csv_error("path,key,split\na.wav,C major,holdout\n");
  EXPECT_HAS(msg, m + ":2: split: unknown split \"holdout\"");
  msg = csv_error("path,key\na.wav\n");
  EXPECT_HAS(msg, m + ":2: expected 2 fields");
  msg = csv_error("path,kye\na.wav,C major\n");
  EXPECT_HAS(msg, m + ":1: header: unknown column \"kye\" (did you mean \"key\"?");
  msg = csv_error("key,split\nC major,train\n");
  EXPECT_HAS(msg, m + ":1: header: missing column \"path\"");
  msg = csv_error("path,key\n\"a.wav,C major\n");
  EXPECT_HAS(msg, m + ":2: quoted field is not closed");
  msg = csv_error("path,key\n,C major\n");
  EXPECT_HAS(msg, m + ":2: path: empty");
  msg = csv_error("");
  EXPECT_HAS(msg, "empty manifest");

  const std::string j = (dir / "m.json").string();
  auto json_error = [&](const std::string& text) {
    write_text(dir / "m.json", text);
    return error_of([&] { load_manifest(dir / "m.json"); });
  };
  msg = json_error(R"([{"path": "a.wav", "key": "C major"},)");
  EXPECT_HAS(msg, j + ": invalid JSON");
  msg = json_error(R"({"tracks": [{"path": "a.wav", "key": "C major"}, {"path": "b.wav", "key": "Q"}]})");
  EXPECT_HAS(msg, j + ": tracks[1].key: not a key: \"Q\"");
  msg = json_error(R"([{"path": "a.wav", "key": "C major", "start": "0"}])");
  EXPECT_HAS(msg, j + ": [0].start: expected number, got string \"0\"");
  msg = json_error(R"([{"path": "a.wav"}])");
  EXPECT_HAS(msg, j + ": [0].key: missing");
  msg = json_error(R"([{"path": "a.wav", "key": "C major", "tempo": 120}])");
  EXPECT_HAS(msg, j + ": [0].tempo: unknown field \"tempo\"");
  msg = json_error(R"([{"path": "a.wav", "key": "C major"}, {"path": "b.wav", "key": "C major", "id": "a"}])");
  EXPECT_HAS(msg, j + ": [1].id: duplicate id \"a\" (first at [0])");
  msg = json_error(R"({"trakcs": []})");
  EXPECT_HAS(msg, j + ": unknown key \"trakcs\" (did you mean \"tracks\"?");

  msg = error_of([&] { load_manifest(dir / "absent.csv"); });
  EXPECT_HAS(msg, (dir / "absent.csv").string() + ": file not found");
}
