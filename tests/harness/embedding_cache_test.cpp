// The embedding cache: round trip, keys that change with the audio file, and corrupted entries that
// are detected, counted and never returned.
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <fmt/format.h>

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

// A process killed while it wrote an entry leaves its temporary file (entry.emb.tmp-<host>-<pid>-<n>).
// remove_stale_temporaries() deletes those of processes of this host that are gone, and keeps those of
// live processes (a concurrent run or shard is writing them) and of other hosts (a shared cache).
TEST(EmbeddingCache, StaleTemporariesOfDeadProcessesAreRemoved) {
  mcpt::testutil::TempDir dir("cachetmp");
  mcpt::testutil::write_text(dir / "a.wav", "audio bytes");
  EmbeddingCache cache(dir / "cache");
  const auto key = EmbeddingCache::key_for("0123456789abcdef0123", dir / "a.wav", 0.0, -1.0, "mean");
  cache.put(key, sample());
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ::waitpid(dead, nullptr, 0);
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  const fs::path folder = dir / "cache" / "0123456789abcdef";
  const fs::path stale = folder / fmt::format("x.emb.tmp-{}-{}-0", host, dead);
  const fs::path old_style = folder / fmt::format("y.emb.tmp-{}-3", dead);  // before host names
  const fs::path live = folder / fmt::format("z.emb.tmp-{}-{}-0", host, ::getpid());
  const fs::path other_host = folder / fmt::format("w.emb.tmp-other-node-{}-0", dead);
  for (const auto& p : {stale, old_style, live, other_host}) mcpt::testutil::write_text(p, "half an entry");
  EXPECT_EQ(cache.remove_stale_temporaries(), 2);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_FALSE(fs::exists(old_style));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other_host));
  EXPECT_TRUE(cache.get(key).has_value()) << "entries are kept";
  // The temporaries this process writes carry its host and pid, so the rule above applies to them.
  EXPECT_EQ(EmbeddingCache::temporary_prefix("e.emb"), fmt::format("e.emb.tmp-{}-{}-", host, ::getpid()));
}
