/*
 * test_storage_contract.c - the object storage contract, run against every
 * compiled-in backend (scribe_storage_names()).  A new backend adds a case
 * to make_params() and must pass the same tests unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>

#include "../storage/contract_util.h"
#include "../storage/s3_env.h"
#include "core/error.h"
#include "storage/storage.h"

static const char *g_backend; /* backend under test */
static char *g_root;          /* this run's temporary directory */
static int g_seq;

typedef struct fixture {
  char dir[512];
  scribe_storage *s;
} fixture;

/* Parameters for `backend` keeping its data under dir; false to skip a
 * backend this suite does not know how to configure. */
static bool make_params(const char *backend, const char *dir, scribe_storage_params *p) {
  *p = scribe_storage_default_params();
  if (strcmp(backend, "fs") == 0) {
    p->root = dir;
    return true;
  }
  if (strcmp(backend, "s3") == 0) {
    /* The fixture's s3rver behind the SigV4-checking proxy (or a real
     * bucket named by SCRIBE_TEST_S3_*); each fixture gets its own prefix
     * made of the last two components of dir (run directory / test). */
    static s3_test_env env;
    static int loaded; /* 0 unknown, 1 yes, -1 no */
    static char prefix[256];
    if (!loaded) loaded = s3_test_env_load(&env) ? 1 : -1;
    if (loaded < 0) return false;
    const char *end = dir + strlen(dir), *a = end;
    int slashes = 0;
    while (a > dir && slashes < 2)
      if (*--a == '/') slashes++;
    if (*a == '/') a++;
    snprintf(prefix, sizeof(prefix), "contract/%s/", a);
    p->s3_endpoint = env.endpoint;
    p->s3_bucket = env.bucket;
    p->s3_region = env.region[0] ? env.region : NULL;
    p->s3_access_key = env.access_key;
    p->s3_secret_key = env.secret_key;
    p->s3_prefix = prefix;
    p->s3_path_style = true;
    return true;
  }
  return false;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f) return -1;
  snprintf(f->dir, sizeof(f->dir), "%s/t%d", g_root, ++g_seq);
  scribe_storage_params p;
  if (!make_params(g_backend, f->dir, &p)) return -1;
  char err[256];
  f->s = scribe_storage_create(g_backend, &p, err, sizeof(err));
  if (!f->s) {
    fprintf(stderr, "create %s: %s\n", g_backend, err);
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  scribe_storage_free(f->s);
  tu_rmtree(f->dir);
  free(f);
  return 0;
}

static int put(scribe_storage *s, const char *key, const void *data, size_t len) {
  scribe_storage_writer *w = NULL;
  int rc = scribe_storage_put_begin(s, key, &w);
  if (rc) return rc;
  rc = scribe_storage_write(w, data, len);
  if (rc) {
    scribe_storage_abort(w);
    return rc;
  }
  return scribe_storage_commit(w);
}

/* Reads the whole object into a malloc'd buffer (NUL-terminated). */
static int get(scribe_storage *s, const char *key, char **out, size_t *len) {
  scribe_storage_reader *r = NULL;
  uint64_t size = 0;
  int rc = scribe_storage_open(s, key, &r, &size);
  if (rc) return rc;
  char *buf = malloc((size_t)size + 1);
  size_t got = 0;
  for (;;) {
    long n = scribe_storage_read(r, buf + got, (size_t)size + 1 - got);
    if (n < 0) {
      free(buf);
      scribe_storage_close(r);
      return (int)n;
    }
    if (n == 0) break;
    got += (size_t)n;
    if (got > size) break;
  }
  scribe_storage_close(r);
  buf[got < size ? got : size] = '\0';
  assert_int_equal(got, size);
  *out = buf;
  *len = got;
  return SCRIBE_OK;
}

/* Counts regular files under dir whose name contains `needle`. */
static int count_files(const char *dir, const char *needle) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) n += count_files(path, needle);
    else if (!needle || strstr(e->d_name, needle)) n++;
  }
  closedir(d);
  return n;
}

/* ---- tests ------------------------------------------------------------ */

static void test_registry(void **state) {
  char names[256], err[256];
  scribe_storage_names(names, sizeof(names));
  assert_non_null(strstr(names, g_backend));
  assert_non_null(scribe_storage_find(g_backend));
  assert_null(scribe_storage_find("no-such-backend"));
  scribe_storage_params p = scribe_storage_default_params();
  assert_null(scribe_storage_create("no-such-backend", &p, err, sizeof(err)));
  assert_non_null(strstr(err, g_backend)); /* lists what is compiled in */
  fixture *f = *state;
  assert_string_equal(scribe_storage_name(f->s), g_backend);
  scribe_storage_free(NULL);
  scribe_storage_abort(NULL);
  scribe_storage_close(NULL);
}

static void test_roundtrip(void **state) {
  fixture *f = *state;
  assert_int_equal(put(f->s, "audio/2024/a-1.webm", "hello world", 11), SCRIBE_OK);
  uint64_t size = 0;
  assert_int_equal(scribe_storage_stat(f->s, "audio/2024/a-1.webm", &size), SCRIBE_OK);
  assert_int_equal(size, 11);
  char *data;
  size_t len;
  assert_int_equal(get(f->s, "audio/2024/a-1.webm", &data, &len), SCRIBE_OK);
  assert_int_equal(len, 11);
  assert_memory_equal(data, "hello world", 11);
  free(data);

  /* Empty object, several writes, binary data with NULs. */
  scribe_storage_writer *w;
  assert_int_equal(scribe_storage_put_begin(f->s, "empty", &w), SCRIBE_OK);
  assert_int_equal(scribe_storage_commit(w), SCRIBE_OK);
  assert_int_equal(scribe_storage_stat(f->s, "empty", &size), SCRIBE_OK);
  assert_int_equal(size, 0);
  assert_int_equal(get(f->s, "empty", &data, &len), SCRIBE_OK);
  assert_int_equal(len, 0);
  free(data);

  const unsigned char bin[] = {0, 1, 2, 0, 255, 254, 0};
  assert_int_equal(scribe_storage_put_begin(f->s, "bin/x", &w), SCRIBE_OK);
  for (int i = 0; i < 3; i++) assert_int_equal(scribe_storage_write(w, bin, sizeof(bin)), 0);
  assert_int_equal(scribe_storage_write(w, bin, 0), SCRIBE_OK);
  assert_int_equal(scribe_storage_commit(w), SCRIBE_OK);
  assert_int_equal(get(f->s, "bin/x", &data, &len), SCRIBE_OK);
  assert_int_equal(len, 3 * sizeof(bin));
  for (int i = 0; i < 3; i++) assert_memory_equal(data + i * sizeof(bin), bin, sizeof(bin));
  free(data);
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

static void test_stream_large(void **state) {
  fixture *f = *state;
  enum { CHUNK = 64 * 1024, TOTAL = 64 * 1024 * 1024 };
  unsigned char *buf = malloc(CHUNK);
  assert_non_null(buf);
  memset(buf, 0, CHUNK); /* touch it before measuring */
  long rss0 = tu_rss_kb();
  uint64_t seed = 0x9E3779B97F4A7C15ULL, h_write = 1469598103934665603ULL;
  scribe_storage_writer *w;
  assert_int_equal(scribe_storage_put_begin(f->s, "big/object.bin", &w), SCRIBE_OK);
  for (size_t done = 0; done < TOTAL; done += CHUNK) {
    for (size_t i = 0; i < CHUNK; i += 8) {
      uint64_t v = xorshift(&seed);
      memcpy(buf + i, &v, 8);
    }
    h_write = fnv1a(h_write, buf, CHUNK);
    assert_int_equal(scribe_storage_write(w, buf, CHUNK), SCRIBE_OK);
  }
  assert_int_equal(scribe_storage_commit(w), SCRIBE_OK);
  long rss1 = tu_rss_kb();

  scribe_storage_reader *r;
  uint64_t size = 0, total = 0, h_read = 1469598103934665603ULL;
  assert_int_equal(scribe_storage_open(f->s, "big/object.bin", &r, &size), SCRIBE_OK);
  assert_int_equal(size, TOTAL);
  long n;
  while ((n = scribe_storage_read(r, buf, CHUNK)) > 0) {
    h_read = fnv1a(h_read, buf, (size_t)n);
    total += (uint64_t)n;
  }
  assert_int_equal(n, 0);
  scribe_storage_close(r);
  long rss2 = tu_rss_kb();
  assert_int_equal(total, TOTAL);
  assert_true(h_read == h_write);
  if (rss0 > 0) {
    fprintf(stderr, "# rss kB: before %ld, after write %ld, after read %ld\n", rss0, rss1, rss2);
    assert_true(rss1 - rss0 < 16 * 1024);
    assert_true(rss2 - rss0 < 16 * 1024);
  }
  free(buf);
  assert_int_equal(scribe_storage_remove(f->s, "big/object.bin"), SCRIBE_OK);
}

static void test_atomic(void **state) {
  fixture *f = *state;
  uint64_t size;
  scribe_storage_reader *r = NULL;
  scribe_storage_writer *w;

  /* A new object is invisible until commit. */
  assert_int_equal(scribe_storage_put_begin(f->s, "new/obj", &w), SCRIBE_OK);
  assert_int_equal(scribe_storage_write(w, "partial", 7), SCRIBE_OK);
  assert_int_equal(scribe_storage_stat(f->s, "new/obj", &size), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_storage_open(f->s, "new/obj", &r, &size), SCRIBE_ENOTFOUND);
  assert_null(r);
  assert_int_equal(scribe_storage_commit(w), SCRIBE_OK);
  assert_int_equal(scribe_storage_stat(f->s, "new/obj", &size), SCRIBE_OK);
  assert_int_equal(size, 7);

  /* Abort leaves nothing, for a new key and for an existing one. */
  assert_int_equal(scribe_storage_put_begin(f->s, "new/aborted", &w), SCRIBE_OK);
  assert_int_equal(scribe_storage_write(w, "junk", 4), SCRIBE_OK);
  scribe_storage_abort(w);
  assert_int_equal(scribe_storage_stat(f->s, "new/aborted", &size), SCRIBE_ENOTFOUND);

  assert_int_equal(scribe_storage_put_begin(f->s, "new/obj", &w), SCRIBE_OK);
  assert_int_equal(scribe_storage_write(w, "replacement", 11), SCRIBE_OK);
  /* While the replacement is being written, readers see the old object. */
  char *data;
  size_t len;
  assert_int_equal(get(f->s, "new/obj", &data, &len), SCRIBE_OK);
  assert_string_equal(data, "partial");
  free(data);
  scribe_storage_abort(w);
  assert_int_equal(get(f->s, "new/obj", &data, &len), SCRIBE_OK);
  assert_string_equal(data, "partial");
  free(data);

  /* Two writers of one key: the last commit wins, whole. */
  scribe_storage_writer *w1, *w2;
  assert_int_equal(scribe_storage_put_begin(f->s, "race", &w1), SCRIBE_OK);
  assert_int_equal(scribe_storage_put_begin(f->s, "race", &w2), SCRIBE_OK);
  assert_int_equal(scribe_storage_write(w1, "one-one-one", 11), SCRIBE_OK);
  assert_int_equal(scribe_storage_write(w2, "two", 3), SCRIBE_OK);
  assert_int_equal(scribe_storage_commit(w1), SCRIBE_OK);
  assert_int_equal(scribe_storage_commit(w2), SCRIBE_OK);
  assert_int_equal(get(f->s, "race", &data, &len), SCRIBE_OK);
  assert_string_equal(data, "two");
  free(data);

  if (strcmp(g_backend, "fs") == 0) {
    /* No temporary file is left behind; only the committed objects exist. */
    assert_int_equal(count_files(f->dir, "tmp"), 0);
    assert_int_equal(count_files(f->dir, NULL), 2);
    struct stat st;
    char path[1024];
    snprintf(path, sizeof(path), "%s/new/obj", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof(path), "%s/new", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
  }
}

/* fs only: temporary files left by a crash are removed once old enough. */
static void test_fs_stale_temp(void **state) {
  fixture *f = *state;
  if (strcmp(g_backend, "fs") != 0) skip();
  assert_int_equal(put(f->s, "d/obj", "x", 1), SCRIBE_OK);
  char stale[700], fresh[700];
  snprintf(stale, sizeof(stale), "%s/d/.obj.~tmp.0123456789abcdef", f->dir);
  snprintf(fresh, sizeof(fresh), "%s/.other.~tmp.fedcba9876543210", f->dir);
  FILE *fp = fopen(stale, "w");
  assert_non_null(fp);
  fclose(fp);
  fp = fopen(fresh, "w");
  assert_non_null(fp);
  fclose(fp);
  struct timespec old[2] = {{time(NULL) - 2 * 86400, 0}, {time(NULL) - 2 * 86400, 0}};
  assert_int_equal(utimensat(AT_FDCWD, stale, old, 0), 0);
  scribe_storage_free(f->s);
  scribe_storage_params p;
  assert_true(make_params(g_backend, f->dir, &p));
  f->s = scribe_storage_create(g_backend, &p, NULL, 0);
  assert_non_null(f->s);
  struct stat st;
  assert_int_not_equal(stat(stale, &st), 0);
  assert_int_equal(stat(fresh, &st), 0); /* may belong to a writer still running */
  uint64_t size;
  assert_int_equal(scribe_storage_stat(f->s, "d/obj", &size), SCRIBE_OK);
}

static void test_bad_keys(void **state) {
  fixture *f = *state;
  char too_long[SCRIBE_STORAGE_KEY_MAX + 2];
  memset(too_long, 'a', sizeof(too_long) - 1);
  too_long[sizeof(too_long) - 1] = '\0';
  const char *bad[] = {
      "../x", "/abs", "a/../b", "", "a//b", "a/./b", "a/b/", ".", "..", "x/..",
      "a\nb", "a\x01" "b", "a\\b", "a b", "a:b", "a?b", "caf\xc3\xa9", too_long,
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const char *k = bad[i];
    assert_false(scribe_storage_key_valid(k));
    scribe_storage_writer *w = (scribe_storage_writer *)1;
    scribe_storage_reader *r = (scribe_storage_reader *)1;
    uint64_t size;
    assert_int_equal(scribe_storage_put_begin(f->s, k, &w), SCRIBE_EBADKEY);
    assert_null(w);
    assert_int_equal(scribe_storage_open(f->s, k, &r, &size), SCRIBE_EBADKEY);
    assert_null(r);
    assert_int_equal(scribe_storage_stat(f->s, k, &size), SCRIBE_EBADKEY);
    assert_int_equal(scribe_storage_remove(f->s, k), SCRIBE_EBADKEY);
  }
  assert_false(scribe_storage_key_valid(NULL));
  assert_int_equal(scribe_storage_stat(f->s, NULL, NULL), SCRIBE_EBADKEY);

  /* Valid ones, up to the maximum length. */
  char longest[SCRIBE_STORAGE_KEY_MAX + 1];
  for (size_t i = 0; i < SCRIBE_STORAGE_KEY_MAX; i++) longest[i] = (i % 101 == 100) ? '/' : 'k';
  longest[SCRIBE_STORAGE_KEY_MAX] = '\0';
  const char *good[] = {"a", "b/c", "A-z_0.9", ".hidden", "d/..b", "...", "x/y/z/w", longest};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    assert_true(scribe_storage_key_valid(good[i]));
    assert_int_equal(put(f->s, good[i], "v", 1), SCRIBE_OK);
    uint64_t size = 0;
    assert_int_equal(scribe_storage_stat(f->s, good[i], &size), SCRIBE_OK);
    assert_int_equal(size, 1);
  }
  if (strcmp(g_backend, "fs") == 0) {
    /* Nothing was created outside the root. */
    char parent[600];
    snprintf(parent, sizeof(parent), "%s/../x", f->dir);
    struct stat st;
    assert_int_not_equal(stat(parent, &st), 0);
  }
}

static void test_seek_read(void **state) {
  fixture *f = *state;
  unsigned char data[1000];
  for (int i = 0; i < 1000; i++) data[i] = (unsigned char)(i % 251);
  assert_int_equal(put(f->s, "seek/me", data, sizeof(data)), SCRIBE_OK);
  scribe_storage_reader *r;
  uint64_t size;
  unsigned char buf[200];
  assert_int_equal(scribe_storage_open(f->s, "seek/me", &r, &size), SCRIBE_OK);
  assert_int_equal(size, 1000);
  assert_int_equal(scribe_storage_seek(r, 100, SEEK_SET), 100);
  assert_int_equal(scribe_storage_read(r, buf, 10), 10);
  assert_memory_equal(buf, data + 100, 10);
  assert_int_equal(scribe_storage_seek(r, 10, SEEK_CUR), 120);
  assert_int_equal(scribe_storage_read(r, buf, 5), 5);
  assert_memory_equal(buf, data + 120, 5);
  assert_int_equal(scribe_storage_seek(r, 0, SEEK_CUR), 125);
  assert_int_equal(scribe_storage_seek(r, -5, SEEK_END), 995);
  long n = scribe_storage_read(r, buf, sizeof(buf));
  assert_int_equal(n, 5);
  assert_memory_equal(buf, data + 995, 5);
  assert_int_equal(scribe_storage_read(r, buf, sizeof(buf)), 0);
  assert_int_equal(scribe_storage_read(r, buf, sizeof(buf)), 0);
  assert_int_equal(scribe_storage_seek(r, 0, SEEK_END), 1000);
  assert_int_equal(scribe_storage_seek(r, 0, SEEK_SET), 0);
  /* Reads may return less than asked; a loop gets everything. */
  size_t got = 0;
  unsigned char all[1000];
  while ((n = scribe_storage_read(r, all + got, sizeof(all) - got)) > 0) got += (size_t)n;
  assert_int_equal(got, 1000);
  assert_memory_equal(all, data, 1000);
  /* Past the end: allowed, reads return 0.  Before the start: EINVAL. */
  assert_int_equal(scribe_storage_seek(r, 5000, SEEK_SET), 5000);
  assert_int_equal(scribe_storage_read(r, buf, 10), 0);
  assert_true(scribe_storage_seek(r, -1, SEEK_SET) < 0);
  assert_int_equal(scribe_storage_seek(r, -2000, SEEK_END), SCRIBE_EINVAL);
  assert_int_equal(scribe_storage_seek(r, 0, 42), SCRIBE_EINVAL);
  assert_int_equal(scribe_storage_read(r, buf, 0), 0);
  scribe_storage_close(r);
}

static void test_stat_remove(void **state) {
  fixture *f = *state;
  uint64_t size = 7;
  scribe_storage_reader *r;
  assert_int_equal(scribe_storage_stat(f->s, "missing", &size), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_storage_open(f->s, "missing/deeper", &r, &size), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_storage_remove(f->s, "missing"), SCRIBE_ENOTFOUND);
  assert_int_equal(put(f->s, "dir/file", "abc", 3), SCRIBE_OK);
  /* A key prefix is not an object. */
  assert_int_equal(scribe_storage_stat(f->s, "dir", &size), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_storage_open(f->s, "dir", &r, &size), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_storage_remove(f->s, "dir"), SCRIBE_ENOTFOUND);
  /* A path through an object is not an object either. */
  assert_int_equal(scribe_storage_stat(f->s, "dir/file/x", &size), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_storage_stat(f->s, "dir/file", &size), SCRIBE_OK);
  assert_int_equal(size, 3);
  assert_int_equal(scribe_storage_stat(f->s, "dir/file", NULL), SCRIBE_OK);
  assert_int_equal(scribe_storage_remove(f->s, "dir/file"), SCRIBE_OK);
  assert_int_equal(scribe_storage_stat(f->s, "dir/file", &size), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_storage_remove(f->s, "dir/file"), SCRIBE_ENOTFOUND);
  /* The key can be written again. */
  assert_int_equal(put(f->s, "dir/file", "x", 1), SCRIBE_OK);
  assert_int_equal(scribe_storage_stat(f->s, "dir/file", &size), SCRIBE_OK);
  assert_int_equal(size, 1);
  /* A reader keeps working after its object is removed. */
  assert_int_equal(put(f->s, "gone", "still here", 10), SCRIBE_OK);
  assert_int_equal(scribe_storage_open(f->s, "gone", &r, &size), SCRIBE_OK);
  assert_int_equal(scribe_storage_remove(f->s, "gone"), SCRIBE_OK);
  char buf[32];
  assert_int_equal(scribe_storage_read(r, buf, sizeof(buf)), 10);
  assert_memory_equal(buf, "still here", 10);
  scribe_storage_close(r);
}

static void test_overwrite(void **state) {
  fixture *f = *state;
  char *data;
  size_t len;
  uint64_t size;
  assert_int_equal(put(f->s, "k", "a fairly long first version", 27), SCRIBE_OK);
  assert_int_equal(put(f->s, "k", "second", 6), SCRIBE_OK);
  assert_int_equal(scribe_storage_stat(f->s, "k", &size), SCRIBE_OK);
  assert_int_equal(size, 6);
  assert_int_equal(get(f->s, "k", &data, &len), SCRIBE_OK);
  assert_int_equal(len, 6);
  assert_string_equal(data, "second");
  free(data);
  /* A reader opened before an overwrite keeps reading a whole version. */
  scribe_storage_reader *r;
  assert_int_equal(scribe_storage_open(f->s, "k", &r, &size), SCRIBE_OK);
  assert_int_equal(put(f->s, "k", "third!!", 7), SCRIBE_OK);
  char buf[32];
  long n = scribe_storage_read(r, buf, sizeof(buf));
  assert_true(n == 6 || n == 7);
  assert_true(n == 6 ? !memcmp(buf, "second", 6) : !memcmp(buf, "third!!", 7));
  scribe_storage_close(r);
}

static void test_bad_args(void **state) {
  fixture *f = *state;
  scribe_storage_writer *w;
  assert_int_equal(scribe_storage_put_begin(NULL, "k", &w), SCRIBE_EINVAL);
  assert_int_equal(scribe_storage_put_begin(f->s, "k", NULL), SCRIBE_EINVAL);
  assert_int_equal(scribe_storage_write(NULL, "x", 1), SCRIBE_EINVAL);
  assert_int_equal(scribe_storage_commit(NULL), SCRIBE_EINVAL);
  assert_int_equal(scribe_storage_read(NULL, NULL, 0), SCRIBE_EINVAL);
  assert_int_equal(scribe_storage_seek(NULL, 0, SEEK_SET), SCRIBE_EINVAL);
  assert_int_equal(scribe_storage_put_begin(f->s, "k", &w), SCRIBE_OK);
  assert_int_equal(scribe_storage_write(w, NULL, 1), SCRIBE_EINVAL);
  scribe_storage_abort(w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_large, setup, teardown),
      cmocka_unit_test_setup_teardown(test_atomic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fs_stale_temp, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_seek_read, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stat_remove, setup, teardown),
      cmocka_unit_test_setup_teardown(test_overwrite, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
  };
  g_root = tu_mkdtemp("storage-contract");
  if (!g_root) return 1;
  char names[256];
  const char *list[16];
  scribe_storage_names(names, sizeof(names));
  int n = tu_split_names(names, list, 16), failed = 0;
  for (int i = 0; i < n; i++) {
    scribe_storage_params p;
    if (!make_params(list[i], g_root, &p)) {
      fprintf(stderr, "# storage backend %s: no test parameters, skipped\n", list[i]);
      continue;
    }
    g_backend = list[i];
    failed += cmocka_run_group_tests_name(list[i], tests, NULL, NULL);
  }
  tu_rmtree(g_root);
  free(g_root);
  return failed ? 1 : 0;
}
