// The embedding cache: round trip, keys that change with the audio file, and corrupted entries that
// are detected, counted and never returned.
#include <fstream>

#include <gtest/gtest.h>

#include "harness/EmbeddingCache.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using mcpt::harness::EmbeddingCache;

namespace {
mcpt::probes::Matrix sample() {
  mcpt::probes::Matrix m(3, 4);
  for (size_t i = 0; i < m.data.size(); ++i) m.data[i] = 0.25f * float(i) - 1.0f;
  return m;
}
}  // namespace

TEST(EmbeddingCache, RoundTripAndMiss) {
  mcpt::testutil::TempDir dir("cache");
  mcpt::testutil::write_text(dir / "a.wav", "audio bytes");
  EmbeddingCache cache(dir / "cache");
  const auto key = EmbeddingCache::key_for("0123456789abcdef0123", dir / "a.wav", 0.0, -1.0, "mean");
  EXPECT_FALSE(cache.get(key).has_value());
  cache.put(key, sample());
  const auto got = cache.get(key);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->rows, 3);
  EXPECT_EQ(got->cols, 4);
  EXPECT_EQ(got->data, sample().data);
  EXPECT_EQ(cache.hits(), 1);
  EXPECT_EQ(cache.misses(), 1);
}

TEST(EmbeddingCache, KeyChangesWithFileWindowPoolingAndFingerprint) {
  mcpt::testutil::TempDir dir("cachekey");
  mcpt::testutil::write_text(dir / "a.wav", "audio bytes");
  const auto k = EmbeddingCache::key_for("fp-one-0123456789", dir / "a.wav", 0.0, -1.0, "mean");
  EXPECT_EQ(k, EmbeddingCache::key_for("fp-one-0123456789", dir / "a.wav", 0.0, -1.0, "mean"));
  EXPECT_NE(k, EmbeddingCache::key_for("fp-two-0123456789", dir / "a.wav", 0.0, -1.0, "mean"));
  EXPECT_NE(k, EmbeddingCache::key_for("fp-one-0123456789", dir / "a.wav", 1.0, -1.0, "mean"));
  EXPECT_NE(k, EmbeddingCache::key_for("fp-one-0123456789", dir / "a.wav", 0.0, -1.0, "mean+std"));
  mcpt::testutil::write_text(dir / "a.wav", "other, longer audio bytes");  // the file changed
  EXPECT_NE(k, EmbeddingCache::key_for("fp-one-0123456789", dir / "a.wav", 0.0, -1.0, "mean"));
}

TEST(EmbeddingCache, KeyFollowsAudioContentNotPath) {
  mcpt::testutil::TempDir dir("cachecontent");
  mcpt::testutil::write_text(dir / "a.wav", "audio bytes one");
  mcpt::testutil::write_text(dir / "copy" / "b.wav", "audio bytes one");
  const auto k = EmbeddingCache::key_for("fp-one-0123456789", dir / "a.wav", 0.0, -1.0, "mean");
  // The same bytes elsewhere (a moved or re-downloaded dataset) hit the same entry.
  EXPECT_EQ(k, EmbeddingCache::key_for("fp-one-0123456789", dir / "copy" / "b.wav", 0.0, -1.0, "mean"));
  // Same size, different bytes: a different entry.
  mcpt::testutil::write_text(dir / "copy" / "b.wav", "audio bytes two");
  EXPECT_NE(k, EmbeddingCache::key_for("fp-one-0123456789", dir / "copy" / "b.wav", 0.0, -1.0, "mean"));
}

TEST(EmbeddingCache, CorruptedEntryIsNeverReturned) {
  mcpt::testutil::TempDir dir("cachebad");
  mcpt::testutil::write_text(dir / "a.wav", "audio bytes");
  EmbeddingCache cache(dir / "cache");
  const auto key = EmbeddingCache::key_for("0123456789abcdef0123", dir / "a.wav", 0.0, -1.0, "mean");
  cache.put(key, sample());
  fs::path entry;
  for (const auto& e : fs::recursive_directory_iterator(dir / "cache"))
    if (e.is_regular_file()) entry = e.path();
  ASSERT_FALSE(entry.empty());
  {  // flip one byte of the stored floats
    std::fstream f(entry, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8 + 16 + 5);
    f.put('\x7f');
  }
  EXPECT_FALSE(cache.get(key).has_value());
  EXPECT_EQ(cache.corrupted(), 1);
  EXPECT_FALSE(fs::exists(entry)) << "a corrupted entry is removed so it is recomputed";
  cache.put(key, sample());  // truncated entry
  fs::resize_file(entry, fs::file_size(entry) - 3);
  EXPECT_FALSE(cache.get(key).has_value());
  EXPECT_EQ(cache.corrupted(), 2);
}

TEST(EmbeddingCache, DisabledCacheStoresNothing) {
  EmbeddingCache cache{fs::path()};
  EXPECT_FALSE(cache.enabled());
  cache.put("x/y", sample());
  EXPECT_FALSE(cache.get("x/y").has_value());
}
