/*
 * audio_loader.c - the audio API for the `scribe` program, backed by the
 * decoder module libscribe-audio.so (audio_ffmpeg.c with FFmpeg), which is
 * loaded on first use.  An API server that never decodes (workers = 0)
 * thus never maps FFmpeg and its dependency tree (about 18 MB of resident
 * library pages).
 *
 * The module is looked up in $SCRIBE_AUDIO_MODULE, then next to the
 * program (/proc/self/exe), then on the library search path.
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio/audio.h"
#include "core/error.h"
#include "core/log.h"

#define MODULE_NAME "libscribe-audio.so"

typedef struct {
  scribe_audio_params (*default_params)(void);
  int (*decode)(const scribe_audio_source *, const scribe_audio_params *, scribe_audio **, char *,
                size_t);
  int (*decode_file)(const char *, const scribe_audio_params *, scribe_audio **, char *, size_t);
  int (*decode_memory)(const void *, size_t, const scribe_audio_params *, scribe_audio **, char *,
                       size_t);
  void (*free)(scribe_audio *);
  void (*init)(int);
} module_api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static module_api api;
static int load_rc = SCRIBE_EINTERNAL;
static char load_err[512];

static void *try_open(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) snprintf(load_err, sizeof(load_err), "cannot load the audio decoder module: %s",
                   dlerror());
  return h;
}

static void load(void) {
  void *h = NULL;
  const char *env = getenv("SCRIBE_AUDIO_MODULE");
  if (env && *env) h = try_open(env);
  if (!h) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
      exe[n] = '\0';
      char *slash = strrchr(exe, '/');
      if (slash) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%.*s/" MODULE_NAME, (int)(slash - exe), exe);
        if (access(path, R_OK) == 0) h = try_open(path);
      }
    }
  }
  if (!h) h = try_open(MODULE_NAME);
  if (!h) {
    load_rc = SCRIBE_ECONFIG;
    return;
  }
  api.default_params = (scribe_audio_params(*)(void))dlsym(h, "scribe_audio_default_params");
  *(void **)&api.decode = dlsym(h, "scribe_audio_decode");
  *(void **)&api.decode_file = dlsym(h, "scribe_audio_decode_file");
  *(void **)&api.decode_memory = dlsym(h, "scribe_audio_decode_memory");
  *(void **)&api.free = dlsym(h, "scribe_audio_free");
  *(void **)&api.init = dlsym(h, "scribe_audio_module_init");
  if (!api.default_params || !api.decode || !api.decode_file || !api.decode_memory || !api.free ||
      !api.init) {
    snprintf(load_err, sizeof(load_err), "the audio decoder module %s is incomplete", MODULE_NAME);
    load_rc = SCRIBE_ECONFIG;
    return;
  }
  api.init(scribe_log_threshold);
  load_rc = SCRIBE_OK;
  LOG_DEBUG("audio decoder module loaded");
}

static int ready(char *err, size_t errlen) {
  pthread_once(&once, load);
  if (load_rc && err && errlen) snprintf(err, errlen, "%s", load_err);
  return load_rc;
}

int scribe_audio_preload(char *err, size_t errlen) { return ready(err, errlen); }

scribe_audio_params scribe_audio_default_params(void) {
  if (ready(NULL, 0) == SCRIBE_OK) return api.default_params();
  /* Same defaults as the module; decoding will report the load error. */
  scribe_audio_params p;
  memset(&p, 0, sizeof(p));
  p.max_seconds = 4 * 3600;
  p.sample_rate = 16000;
  return p;
}

int scribe_audio_decode(const scribe_audio_source *src, const scribe_audio_params *p,
                        scribe_audio **out, char *err, size_t errlen) {
  int rc = ready(err, errlen);
  return rc ? rc : api.decode(src, p, out, err, errlen);
}

int scribe_audio_decode_file(const char *path, const scribe_audio_params *p, scribe_audio **out,
                             char *err, size_t errlen) {
  int rc = ready(err, errlen);
  return rc ? rc : api.decode_file(path, p, out, err, errlen);
}

int scribe_audio_decode_memory(const void *data, size_t len, const scribe_audio_params *p,
                               scribe_audio **out, char *err, size_t errlen) {
  int rc = ready(err, errlen);
  return rc ? rc : api.decode_memory(data, len, p, out, err, errlen);
}

void scribe_audio_free(scribe_audio *a) {
  if (a && ready(NULL, 0) == SCRIBE_OK) api.free(a);
}
