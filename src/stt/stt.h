/*
 * stt.h - speech-to-text: one interface, several backends.
 *
 * Usage:
 *
 *   char err[256];
 *   scribe_stt_params p = scribe_stt_default_params();
 *   scribe_stt *stt = scribe_stt_create("pocketsphinx", &p, err, sizeof(err));
 *   if (!stt) { LOG_ERROR("stt: %s", err); return SCRIBE_ECONFIG; }
 *   scribe_stt_result r = {0};
 *   int rc = scribe_stt_transcribe(stt, pcm, nsamples, 16000, progress, ud,
 *                                  &r, err, sizeof(err));
 *   if (rc == SCRIBE_OK)
 *     for (size_t i = 0; i < r.nsegments; i++)
 *       use(r.segments[i].start, r.segments[i].end, r.segments[i].text);
 *   scribe_stt_result_free(&r);
 *   scribe_stt_free(stt);
 *
 * Backends (after curl's vtls and SQLite's VFS): each backend is one file
 * exporting one const scribe_stt_backend (a struct of function pointers with
 * a version field first); the registry in stt.c looks them up by name from a
 * NULL-terminated table.  An unknown name fails and lists what was compiled in.
 *
 * Input audio is 16 kHz mono signed 16-bit PCM.  Output is a list of
 * segments (utterances found between silences) with start/end times in
 * seconds from the start of the audio, in order and not overlapping.
 *
 * Threads: a handle is used by one thread at a time (a worker owns its
 * handle).  Distinct handles may be used from different threads at once.
 * A result depends only on the audio and the parameters, not on what the
 * handle transcribed before.
 * Creating a handle loads the model (about 1 s and ~100 MB for PocketSphinx).
 *
 * Privacy: this layer never logs transcripts or audio, and silences the
 * engines' own logging.
 */
#ifndef SCRIBE_STT_H
#define SCRIBE_STT_H

#include <stddef.h>
#include <stdint.h>

/* Sample rate every backend accepts. */
#define SCRIBE_STT_SAMPLE_RATE 16000

/* Version of scribe_stt_backend that this header describes. */
#define SCRIBE_STT_BACKEND_VERSION 1

/* One utterance.  text is non-empty, NUL-terminated UTF-8, lower case words
 * separated by single spaces, without engine markers (<s>, [NOISE], ...). */
typedef struct scribe_stt_segment {
  double start, end; /* seconds from the start of the audio; start < end */
  char *text;        /* owned by the result */
} scribe_stt_segment;

typedef struct scribe_stt_result {
  scribe_stt_segment *segments; /* nsegments entries, ordered by start */
  size_t nsegments;
  char engine[64]; /* backend name and library version, e.g. "pocketsphinx 5prealpha" */
  char model[256]; /* model name (file names only, never full paths) */
} scribe_stt_result;

/* Frees the segments of r and zeroes it.  r itself is the caller's (usually
 * on the stack).  Accepts NULL and an already freed/zeroed result. */
void scribe_stt_result_free(scribe_stt_result *r);

/* Joins the segment texts of r, one segment per line ("\n" between segments,
 * no trailing newline).  Returns a malloc()ed string the caller free()s ("" for
 * no segments), or NULL when out of memory or r is NULL. */
char *scribe_stt_result_text(const scribe_stt_result *r);

/* Progress: fraction (0..1) of the audio processed so far.  Called at the
 * start (0), periodically (at least every ~1 s of audio processed) and at the
 * end (1), from the thread that called scribe_stt_transcribe().  Return
 * nonzero to cancel: transcribe then returns SCRIBE_ECANCELED promptly. */
typedef int (*scribe_stt_progress_fn)(void *user_data, double fraction);

typedef struct scribe_stt_params {
  /* pocketsphinx: acoustic model (hmm) directory.  NULL or "" = Debian's
   * /usr/share/pocketsphinx/model/en-us/en-us. */
  const char *model_dir;
  /* pocketsphinx: language model and pronunciation dictionary files.
   * NULL or "" = the Debian en-us defaults next to the model dir. */
  const char *lm;
  const char *dict;
  /* pocketsphinx: domain adaptation.  A medical pronunciation dictionary is
   * added to dict, and a consultation language model is interpolated with lm
   * (see docs/speech.md).  0 = on when its files are found (else the stock
   * model, with a warning), 1 = on (create fails if the files are missing),
   * -1 = off. */
  int domain;
  /* pocketsphinx: directory holding the domain files (medical.dict,
   * consult.lm); NULL or "" = the one the build generated them in. */
  const char *domain_dir;
  int threads; /* decoding threads for backends that use them; 0 = backend default */

  /* Remote backends ("openai": any OpenAI-compatible
   * /v1/audio/transcriptions server).  NULL/"" and 0 = defaults. */
  const char *url;        /* base URL, e.g. "http://127.0.0.1:9000/v1" (required) */
  const char *api_key;    /* sent as "Authorization: Bearer"; NULL/"" = $SCRIBE_STT_API_KEY,
                           * then $OPENAI_API_KEY, then none.  Never logged. */
  const char *model_name; /* "model" form field; default "whisper-1" */
  const char *language;   /* ISO-639-1 hint ("en"); default none (server detects) */
  const char *prompt;     /* "prompt" form field (vocabulary hints); default none */
  int timeout_ms;         /* whole request, per chunk; default 300000 */
  int connect_timeout_ms; /* default 10000 (never more than timeout_ms) */
  int max_retries;        /* retries of a chunk on 429/5xx/timeouts/connection errors;
                           * default 4; negative = none */
  int retry_base_ms;      /* first backoff delay, doubling per retry; default 1000 */
  double chunk_seconds;   /* longest audio sent in one request; default 600 */
} scribe_stt_params;

/* All fields NULL/0: every backend's defaults. */
scribe_stt_params scribe_stt_default_params(void);

typedef struct scribe_stt scribe_stt;

/* The methods of one backend.  Backends fill in every field; callers go
 * through the scribe_stt_* functions below rather than call these directly. */
typedef struct scribe_stt_backend {
  int version;      /* SCRIBE_STT_BACKEND_VERSION */
  const char *name; /* registry name, e.g. "pocketsphinx" */
  /* Loads the model.  Returns NULL and writes a reason to err on failure. */
  scribe_stt *(*create)(const scribe_stt_params *p, char *err, size_t errlen);
  void (*free)(scribe_stt *stt); /* accepts NULL */
  /* As scribe_stt_transcribe(); called with checked arguments and a zeroed out. */
  int (*transcribe)(scribe_stt *stt, const int16_t *pcm, size_t nsamples, int sample_rate,
                    scribe_stt_progress_fn progress, void *user_data, scribe_stt_result *out,
                    char *err, size_t errlen);
} scribe_stt_backend;

/* A handle.  Backends allocate a larger struct whose first member is this one
 * (their private state follows); callers treat it as opaque. */
struct scribe_stt {
  const scribe_stt_backend *backend;
};

/* The backend called name, or NULL when none is compiled in. */
const scribe_stt_backend *scribe_stt_find(const char *name);

/* The i-th compiled-in backend (0-based), or NULL when i is past the end.
 * For listing and for tests that run against every backend. */
const scribe_stt_backend *scribe_stt_backend_at(size_t i);

/* Writes the compiled-in backend names, comma separated ("pocketsphinx"),
 * to buf (always NUL-terminated when len > 0; truncated if too small). */
void scribe_stt_names(char *buf, size_t len);

/* Creates an engine of backend `name` with params p (NULL = defaults).
 * Returns NULL on failure with a reason in err: an unknown name (the message
 * lists the compiled-in names), a missing model file (the message names the
 * path), or a model that fails to load.  Free with scribe_stt_free(). */
scribe_stt *scribe_stt_create(const char *name, const scribe_stt_params *p, char *err,
                              size_t errlen);

/* Transcribes nsamples of 16 kHz mono PCM.  `out` is overwritten (it need not
 * be initialised); on SCRIBE_OK it holds the segments (possibly none, e.g. for
 * silence or nsamples == 0) and the caller frees it with
 * scribe_stt_result_free().  On error out is left zeroed and err (may be NULL)
 * says why.  progress may be NULL.
 * Errors: SCRIBE_EINVAL (NULL handle/out, pcm NULL with nsamples > 0, or
 * sample_rate != 16000), SCRIBE_ECANCELED (progress returned nonzero),
 * SCRIBE_ENOMEM, SCRIBE_EINTERNAL (the engine failed).
 * One thread at a time per handle. */
int scribe_stt_transcribe(scribe_stt *stt, const int16_t *pcm, size_t nsamples, int sample_rate,
                          scribe_stt_progress_fn progress, void *user_data,
                          scribe_stt_result *out, char *err, size_t errlen);

/* Frees the engine.  Accepts NULL. */
void scribe_stt_free(scribe_stt *stt);

/* The backend name of stt ("pocketsphinx"); "" for NULL. */
const char *scribe_stt_name(const scribe_stt *stt);

/* ---- helpers for backends -------------------------------------------- */

/* Appends a segment to r, copying text[0..len) after cleaning it: engine
 * markers (<s>, </s>, <sil>, [NOISE], ++GARBAGE++, ...) are dropped, an
 * alternate-pronunciation suffix ("word(2)") is stripped, and whitespace is
 * collapsed to single spaces.  A segment whose cleaned text is empty is not
 * added (SCRIBE_OK).  end is raised to start if smaller.
 * Errors: SCRIBE_ENOMEM, SCRIBE_EINVAL (r NULL or text NULL with len > 0). */
int scribe_stt_result_add(scribe_stt_result *r, double start, double end, const char *text,
                          size_t len);

/* A span of audio [start, end) in samples, as found by scribe_stt_vad(). */
typedef struct scribe_stt_span {
  size_t start, end;
} scribe_stt_span;

typedef struct scribe_stt_vad_params {
  int sample_rate;       /* of the input (16000) */
  double frame_ms;       /* analysis frame length (default 10) */
  double min_silence_s;  /* a pause at least this long ends an utterance (default 0.4) */
  double max_span_s;     /* longer utterances are cut at their quietest point (default 25) */
  double min_speech_s;   /* spans with less speech than this are dropped (default 0.12) */
  double pad_s;          /* context kept around each span, within the pause (default 0.15) */
  double threshold_db;   /* speech = frames this far above the noise floor (default 12) */
  double floor_dbfs;     /* frames quieter than this are never speech (default -55) */
} scribe_stt_vad_params;

scribe_stt_vad_params scribe_stt_vad_default_params(void);

/* Energy-based voice activity detection: splits pcm into utterance spans
 * separated by pauses.  Spans are ordered, disjoint, within [0, nsamples),
 * and at most max_span_s long; silence-only input gives no spans.
 * *spans is malloc()ed (the caller free()s it; NULL when *nspans is 0).
 * Errors: SCRIBE_EINVAL (bad params), SCRIBE_ENOMEM. */
int scribe_stt_vad(const int16_t *pcm, size_t nsamples, const scribe_stt_vad_params *p,
                   scribe_stt_span **spans, size_t *nspans);

#endif
