/*
 * storage_fs.c - backend "fs": one file per object under a root directory.
 *
 * An object with key "audio/abc" lives in <root>/audio/abc.  Every path is
 * resolved relative to a descriptor on the root (openat and friends), and
 * keys were validated by storage.c, so nothing escapes the root.
 *
 * Writes go to a temporary file in the object's own directory, named
 * ".<name>.~tmp.<random>" ('~' is not a key character, so no key can name a
 * temporary file); commit fsyncs it, renames it over the key and fsyncs the
 * directory, so a reader sees the old object or the whole new one, and a
 * committed object survives a crash.  Directories are created on demand
 * (mode 0700, files 0600) and never removed.
 *
 * A crash mid-write leaves a temporary file; create() removes those older
 * than a day (younger ones may belong to another process still writing).
 *
 * Limitation of this backend: a key cannot be both an object and a prefix
 * of other keys ("a" and "a/b"); the second put fails with SCRIBE_EEXISTS.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/error.h"
#include "core/log.h"
#include "storage/storage.h"

#define TMP_MARK ".~tmp."
/* "." + name + TMP_MARK + 16 hex digits + NUL */
#define TMPNAME_MAX (SCRIBE_STORAGE_KEY_MAX + 1 + sizeof(TMP_MARK) + 16 + 1)
/* Temporary files older than this were left by a crash: removed at create. */
#define STALE_TMP_SECONDS (24 * 3600)
/* How deep the stale-file sweep descends. */
#define SWEEP_DEPTH 32
/* Largest single read: keeps the count representable as long everywhere. */
#define READ_MAX ((size_t)1 << 30)

typedef struct fs_storage {
  scribe_storage base;
  int root_fd;
} fs_storage;

typedef struct fs_writer {
  scribe_storage_writer base;
  fs_storage *s;
  int fd;
  int err; /* first write error; commit reports it */
  char key[SCRIBE_STORAGE_KEY_MAX + 1];
  char tmp[TMPNAME_MAX];
} fs_writer;

typedef struct fs_reader {
  scribe_storage_reader base;
  int fd;
} fs_reader;

extern const scribe_storage_backend scribe_storage_fs;

/* errno -> SCRIBE_E*.  Lookups (open/stat/remove) treat a path through a
 * non-directory as absent. */
static int map_errno(int e) {
  switch (e) {
    case 0: return SCRIBE_EIO;
    case ENOENT:
    case ENOTDIR:
    case ELOOP: return SCRIBE_ENOTFOUND;
    case EEXIST:
    case ENOTEMPTY:
    case EISDIR: return SCRIBE_EEXISTS;
    case ENOMEM: return SCRIBE_ENOMEM;
    case ENAMETOOLONG: return SCRIBE_EBADKEY;
    case EMFILE:
    case ENFILE:
    case EAGAIN:
    case EBUSY: return SCRIBE_EAGAIN;
    case EFBIG: return SCRIBE_ETOOBIG;
    case EINVAL: return SCRIBE_EINVAL;
    default: return SCRIBE_EIO; /* ENOSPC, EDQUOT, EIO, EROFS, EACCES, ... */
  }
}

/* Directory part of `path` (a key or temp name) into out; "." when none. */
static void dir_part(const char *path, char *out, size_t outlen) {
  const char *slash = strrchr(path, '/');
  if (!slash) {
    snprintf(out, outlen, ".");
    return;
  }
  snprintf(out, outlen, "%.*s", (int)(slash - path), path);
}

static int fsync_dir_at(int root_fd, const char *dir) {
  int fd = openat(root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return map_errno(errno);
  int rc = SCRIBE_OK;
  if (fsync(fd) != 0 && errno != EINVAL) rc = map_errno(errno);
  close(fd);
  return rc;
}

/* mkdir -p for the directories of `key` below the root.  A directory it
 * creates is made durable by fsyncing its parent. */
static int make_parents(fs_storage *s, const char *key) {
  char prefix[SCRIBE_STORAGE_KEY_MAX + 1];
  char parent[SCRIBE_STORAGE_KEY_MAX + 1];
  for (const char *p = strchr(key, '/'); p; p = strchr(p + 1, '/')) {
    size_t n = (size_t)(p - key);
    memcpy(prefix, key, n);
    prefix[n] = '\0';
    if (mkdirat(s->root_fd, prefix, 0700) == 0) {
      dir_part(prefix, parent, sizeof(parent));
      int rc = fsync_dir_at(s->root_fd, parent);
      if (rc) return rc;
    } else if (errno != EEXIST) {
      return map_errno(errno);
    }
  }
  return SCRIBE_OK;
}

/* mkdir -p for an absolute or relative path of the host file system. */
static int make_root(const char *path) {
  size_t n = strlen(path);
  char *tmp = malloc(n + 1);
  if (!tmp) return ENOMEM;
  memcpy(tmp, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (i < n && tmp[i] != '/') continue;
    char saved = tmp[i];
    tmp[i] = '\0';
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
      int e = errno;
      free(tmp);
      return e;
    }
    tmp[i] = saved;
  }
  free(tmp);
  return 0;
}

/* Removes temporary files older than `before` under the directory dir_fd
 * (which it closes); returns how many were removed. */
static int sweep_stale(int dir_fd, time_t before, int depth) {
  DIR *d = fdopendir(dir_fd);
  if (!d) {
    close(dir_fd);
    return 0;
  }
  int removed = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode) && depth < SWEEP_DEPTH) {
      int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      if (sub >= 0) removed += sweep_stale(sub, before, depth + 1);
    } else if (S_ISREG(st.st_mode) && strstr(e->d_name, TMP_MARK) && st.st_mtime < before) {
      if (unlinkat(dirfd(d), e->d_name, 0) == 0) removed++;
    }
  }
  closedir(d);
  return removed;
}

static scribe_storage *fs_create(const scribe_storage_params *p, char *err, size_t errlen) {
  if (!p->root || !p->root[0]) {
    snprintf(err, errlen, "storage fs: root directory is not set");
    return NULL;
  }
  int e = make_root(p->root);
  if (e) {
    snprintf(err, errlen, "storage fs: cannot create root %s: %s", p->root, strerror(e));
    return NULL;
  }
  int fd = open(p->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "storage fs: cannot open root %s: %s", p->root, strerror(errno));
    return NULL;
  }
  fs_storage *s = calloc(1, sizeof(*s));
  if (!s) {
    close(fd);
    snprintf(err, errlen, "storage fs: out of memory");
    return NULL;
  }
  s->base.backend = &scribe_storage_fs;
  s->root_fd = fd;
  int sweep_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sweep_fd >= 0) {
    int n = sweep_stale(sweep_fd, time(NULL) - STALE_TMP_SECONDS, 0);
    if (n) LOG_INFO("storage fs: removed %d stale temporary file(s)", n);
  }
  return &s->base;
}

static void fs_free(scribe_storage *base) {
  fs_storage *s = (fs_storage *)base;
  if (s->root_fd >= 0) close(s->root_fd);
  free(s);
}

static int fs_put_begin(scribe_storage *base, const char *key, scribe_storage_writer **out) {
  fs_storage *s = (fs_storage *)base;
  int rc = make_parents(s, key);
  if (rc) return rc;
  fs_writer *w = calloc(1, sizeof(*w));
  if (!w) return SCRIBE_ENOMEM;
  w->base.backend = &scribe_storage_fs;
  w->s = s;
  w->fd = -1;
  snprintf(w->key, sizeof(w->key), "%s", key);
  const char *slash = strrchr(key, '/');
  int dlen = slash ? (int)(slash - key + 1) : 0;
  const char *name = key + dlen;
  for (int attempt = 0; attempt < 8; attempt++) {
    char rnd[17];
    rc = scribe_random_hex(rnd, sizeof(rnd), 8);
    if (rc) goto fail;
    int n = snprintf(w->tmp, sizeof(w->tmp), "%.*s.%s%s%s", dlen, key, name, TMP_MARK, rnd);
    if (n < 0 || (size_t)n >= sizeof(w->tmp)) {
      rc = SCRIBE_EBADKEY;
      goto fail;
    }
    w->fd = openat(s->root_fd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                   0600);
    if (w->fd >= 0) break;
    if (errno != EEXIST) {
      rc = map_errno(errno);
      if (rc == SCRIBE_ENOTFOUND) rc = SCRIBE_EEXISTS; /* a parent is a file */
      goto fail;
    }
  }
  if (w->fd < 0) {
    rc = SCRIBE_EIO;
    goto fail;
  }
  *out = &w->base;
  return SCRIBE_OK;

fail:
  free(w);
  return rc;
}

static int fs_write(scribe_storage_writer *base, const void *data, size_t len) {
  fs_writer *w = (fs_writer *)base;
  if (w->err) return w->err;
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(w->fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      w->err = map_errno(errno);
      if (w->err == SCRIBE_EINVAL || w->err == SCRIBE_EEXISTS) w->err = SCRIBE_EIO;
      return w->err;
    }
    p += n;
    len -= (size_t)n;
  }
  return SCRIBE_OK;
}

static void writer_discard(fs_writer *w) {
  if (w->fd >= 0) close(w->fd);
  if (w->tmp[0] && unlinkat(w->s->root_fd, w->tmp, 0) != 0 && errno != ENOENT)
    LOG_WARN("storage fs: cannot remove temporary file: %s", strerror(errno));
  free(w);
}

static int fs_commit(scribe_storage_writer *base) {
  fs_writer *w = (fs_writer *)base;
  int rc = w->err;
  if (rc) goto fail;
  if (fsync(w->fd) != 0) {
    rc = map_errno(errno);
    goto fail;
  }
  int fd = w->fd;
  w->fd = -1;
  if (close(fd) != 0 && errno != EINTR) {
    rc = map_errno(errno);
    goto fail;
  }
  if (renameat(w->s->root_fd, w->tmp, w->s->root_fd, w->key) != 0) {
    rc = map_errno(errno);
    if (rc == SCRIBE_ENOTFOUND) rc = SCRIBE_EIO; /* the temp file vanished */
    goto fail;
  }
  w->tmp[0] = '\0'; /* renamed: nothing to clean up */
  char dir[SCRIBE_STORAGE_KEY_MAX + 1];
  dir_part(w->key, dir, sizeof(dir));
  rc = fsync_dir_at(w->s->root_fd, dir);
  free(w);
  return rc;

fail:
  writer_discard(w);
  return rc;
}

static void fs_abort(scribe_storage_writer *base) { writer_discard((fs_writer *)base); }

static int fs_open(scribe_storage *base, const char *key, scribe_storage_reader **out,
                   uint64_t *size) {
  fs_storage *s = (fs_storage *)base;
  int fd = openat(s->root_fd, key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  int rc;
  if (fd < 0) {
    rc = map_errno(errno);
    return rc == SCRIBE_EEXISTS ? SCRIBE_ENOTFOUND : rc;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    rc = map_errno(errno);
    goto fail;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = SCRIBE_ENOTFOUND;
    goto fail;
  }
  fs_reader *r = calloc(1, sizeof(*r));
  if (!r) {
    rc = SCRIBE_ENOMEM;
    goto fail;
  }
  r->base.backend = &scribe_storage_fs;
  r->fd = fd;
  *size = (uint64_t)st.st_size;
  *out = &r->base;
  return SCRIBE_OK;

fail:
  close(fd);
  return rc;
}

static long fs_read(scribe_storage_reader *base, void *buf, size_t n) {
  fs_reader *r = (fs_reader *)base;
  if (n > READ_MAX) n = READ_MAX;
  for (;;) {
    ssize_t got = read(r->fd, buf, n);
    if (got >= 0) return (long)got;
    if (errno != EINTR) {
      int rc = map_errno(errno);
      return rc == SCRIBE_EEXISTS || rc == SCRIBE_ENOTFOUND ? SCRIBE_EIO : rc;
    }
  }
}

static int64_t fs_seek(scribe_storage_reader *base, int64_t offset, int whence) {
  fs_reader *r = (fs_reader *)base;
  off_t pos = lseek(r->fd, (off_t)offset, whence);
  if (pos < 0) return errno == EINVAL ? SCRIBE_EINVAL : map_errno(errno);
  return (int64_t)pos;
}

static void fs_close(scribe_storage_reader *base) {
  fs_reader *r = (fs_reader *)base;
  close(r->fd);
  free(r);
}

static int fs_stat(scribe_storage *base, const char *key, uint64_t *size) {
  fs_storage *s = (fs_storage *)base;
  struct stat st;
  if (fstatat(s->root_fd, key, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    int rc = map_errno(errno);
    return rc == SCRIBE_EEXISTS ? SCRIBE_ENOTFOUND : rc;
  }
  if (!S_ISREG(st.st_mode)) return SCRIBE_ENOTFOUND;
  *size = (uint64_t)st.st_size;
  return SCRIBE_OK;
}

static int fs_remove(scribe_storage *base, const char *key) {
  fs_storage *s = (fs_storage *)base;
  if (unlinkat(s->root_fd, key, 0) != 0) {
    int e = errno;
    if (e == EISDIR || e == EPERM) {
      /* Linux answers EISDIR for a directory; POSIX allows EPERM. */
      struct stat st;
      if (fstatat(s->root_fd, key, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
        return SCRIBE_ENOTFOUND;
    }
    return map_errno(e);
  }
  /* Make the deletion durable: deleted audio must not come back. */
  char dir[SCRIBE_STORAGE_KEY_MAX + 1];
  dir_part(key, dir, sizeof(dir));
  return fsync_dir_at(s->root_fd, dir);
}

const scribe_storage_backend scribe_storage_fs = {
    .version = 1,
    .name = "fs",
    .create = fs_create,
    .free = fs_free,
    .put_begin = fs_put_begin,
    .write = fs_write,
    .commit = fs_commit,
    .abort = fs_abort,
    .open = fs_open,
    .read = fs_read,
    .seek = fs_seek,
    .close = fs_close,
    .stat = fs_stat,
    .remove = fs_remove,
};
