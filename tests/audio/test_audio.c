/*
 * test_audio.c - scribe_audio_decode over every accepted container, the
 * failure reasons, source callbacks, limits, concurrency and mutated input.
 *
 * Fixtures are generated at run time with the ffmpeg and flite command-line
 * tools into $SCRIBE_TEST_TMP/audio; tests that need a missing tool skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio/audio.h"
#include "core/error.h"

static char dir[1024];
static bool have_ffmpeg, have_flite;
static bool fixtures_ok, speech_ok;

/* Without the tool: skip.  With it, failing to make a fixture is a failure. */
#define NEED_FIXTURES()      \
  do {                       \
    if (!have_ffmpeg) skip(); \
    assert_true(fixtures_ok); \
  } while (0)

/* ---- helpers ----------------------------------------------------------- */

static void path_of(char *out, size_t outlen, const char *name) {
  int n = snprintf(out, outlen, "%s/%s", dir, name);
  assert_true(n > 0 && (size_t)n < outlen);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(cmd)) return -1;
  int rc = system(cmd);
  if (rc != 0) fprintf(stderr, "fixture command failed (%d): %s\n", rc, cmd);
  return rc;
}

#define FF "ffmpeg -nostdin -hide_banner -loglevel error -y"
#define SINE(sec, rate) "-f lavfi -i sine=frequency=440:duration=" #sec ":sample_rate=" #rate

static unsigned char *slurp(const char *name, size_t *len) {
  char p[1200];
  path_of(p, sizeof(p), name);
  FILE *f = fopen(p, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  assert_true(n >= 0);
  rewind(f);
  unsigned char *d = malloc((size_t)n + 1);
  assert_non_null(d);
  assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return d;
}

static void spill(const char *name, const void *data, size_t len) {
  char p[1200];
  path_of(p, sizeof(p), name);
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  if (len) assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static uint64_t rng_state;
static uint64_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ULL;
}

static double rms(const scribe_audio *a) {
  double s = 0;
  for (size_t i = 0; i < a->nsamples; i++) s += (double)a->samples[i] * a->samples[i];
  return sqrt(s / (double)a->nsamples);
}

/* Upward zero crossings per second over the middle of the clip: a 440 Hz
 * tone gives ~440, which proves the output rate is what it claims. */
static double tone_hz(const scribe_audio *a) {
  size_t from = a->nsamples / 4, to = a->nsamples * 3 / 4, n = 0;
  for (size_t i = from + 1; i < to; i++)
    if (a->samples[i - 1] < 0 && a->samples[i] >= 0) n++;
  return (double)n * a->sample_rate / (double)(to - from);
}

/* Decodes a fixture file and checks the common properties. */
static scribe_audio *decode_ok(const char *name, double seconds, const char *format) {
  char p[1200], err[256] = "x";
  path_of(p, sizeof(p), name);
  scribe_audio *a = NULL;
  int rc = scribe_audio_decode_file(p, NULL, &a, err, sizeof(err));
  if (rc != SCRIBE_OK) fprintf(stderr, "%s: %s (%s)\n", name, scribe_err_name(rc), err);
  assert_int_equal(rc, SCRIBE_OK);
  assert_non_null(a);
  assert_string_equal(err, "");
  assert_int_equal(a->sample_rate, 16000);
  assert_int_equal(a->channels, 1);
  assert_non_null(a->samples);
  assert_true(a->nsamples > 0);
  assert_true(fabs(a->duration - (double)a->nsamples / 16000.0) < 1e-9);
  if (fabs(a->duration - seconds) > 0.15)
    fprintf(stderr, "%s: duration %.3f, expected %.3f\n", name, a->duration, seconds);
  assert_true(fabs(a->duration - seconds) <= 0.15);
  assert_string_equal(a->format, format);
  return a;
}

static void check_tone(const char *name, const char *format, const char *codec) {
  NEED_FIXTURES();
  scribe_audio *a = decode_ok(name, 3.0, format);
  if (codec) assert_string_equal(a->codec, codec);
  double level = rms(a), hz = tone_hz(a);
  /* lavfi's sine is 1/8 of full scale: RMS ~2900 (stereo downmix keeps it) */
  if (level < 1500 || level > 5000 || fabs(hz - 440) > 10)
    fprintf(stderr, "%s: rms %.0f, %.1f Hz\n", name, level, hz);
  assert_true(level > 1500 && level < 5000);
  assert_true(fabs(hz - 440) <= 10);
  scribe_audio_free(a);
}

static int expect_file_error(const char *name, const scribe_audio_params *p) {
  char path[1200], err[256] = "";
  path_of(path, sizeof(path), name);
  scribe_audio *a = (scribe_audio *)&a; /* must be reset to NULL */
  int rc = scribe_audio_decode_file(path, p, &a, err, sizeof(err));
  assert_true(rc < 0);
  assert_null(a);
  assert_true(strlen(err) > 0);
  return rc;
}

/* ---- a test source over a file, with failure injection ------------------ */

typedef struct {
  FILE *f;
  int64_t pos;
  uint64_t bytes_read;
  int64_t fail_read_at; /* reads at or past this offset fail; -1 = never */
  int fail_seek;        /* nonzero: every seek fails with this code */
  int seeks;
} test_src;

static long ts_read(void *ud, void *buf, size_t n) {
  test_src *t = ud;
  if (t->fail_read_at >= 0 && t->pos + (int64_t)n > t->fail_read_at) return SCRIBE_EIO;
  size_t r = fread(buf, 1, n, t->f);
  if (r == 0 && ferror(t->f)) return SCRIBE_EIO;
  t->pos += (int64_t)r;
  t->bytes_read += r;
  return (long)r;
}

static int64_t ts_seek(void *ud, int64_t off, int whence) {
  test_src *t = ud;
  t->seeks++;
  if (t->fail_seek) return t->fail_seek;
  if (fseeko(t->f, (off_t)off, whence) != 0) return SCRIBE_EINVAL;
  t->pos = (int64_t)ftello(t->f);
  return t->pos;
}

static int decode_src(const char *name, bool seekable, bool sized, int64_t fail_read_at,
                      int fail_seek, const scribe_audio_params *p, scribe_audio **out,
                      test_src *stats) {
  char path[1200], err[256] = "";
  path_of(path, sizeof(path), name);
  test_src t = {fopen(path, "rb"), 0, 0, fail_read_at, fail_seek, 0};
  assert_non_null(t.f);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  scribe_audio_source src = {&t, ts_read, seekable ? ts_seek : NULL,
                             sized ? (int64_t)sb.st_size : -1};
  int rc = scribe_audio_decode(&src, p, out, err, sizeof(err));
  if (rc) assert_true(strlen(err) > 0);
  fclose(t.f);
  if (stats) *stats = t;
  return rc;
}

/* ---- fixtures ---------------------------------------------------------- */

static int make_fixtures(void) {
  int bad = 0;
  bad |= sh(FF " " SINE(3, 44100) " -ac 2 -c:a pcm_s16le '%s/s16_44k_stereo.wav'", dir);
  bad |= sh(FF " " SINE(3, 48000) " -ac 2 -c:a pcm_s24le '%s/s24_48k_stereo.wav'", dir);
  bad |= sh(FF " " SINE(3, 16000) " -c:a pcm_s16le '%s/s16_16k_mono.wav'", dir);
  /* Like Chrome's MediaRecorder: written to a pipe, so no cues/duration. */
  bad |= sh(FF " " SINE(3, 48000) " -c:a libopus -b:a 32k -f webm pipe:1 > '%s/chrome.webm'", dir);
  bad |= sh(FF " " SINE(3, 48000) " -c:a libopus -b:a 32k '%s/tone.ogg'", dir);
  bad |= sh(FF " " SINE(3, 44100) " -c:a aac -b:a 64k '%s/moov_end.mp4'", dir);
  bad |= sh(FF " " SINE(20, 44100) " -c:a aac -b:a 128k '%s/moov_end_long.mp4'", dir);
  bad |= sh(FF " " SINE(3, 44100) " -c:a aac -b:a 64k -movflags frag_keyframe+empty_moov"
               " '%s/frag.mp4'", dir);
  bad |= sh(FF " " SINE(3, 44100) " -ac 2 -c:a libmp3lame -b:a 64k '%s/tone.mp3'", dir);
  bad |= sh(FF " " SINE(3, 44100) " -ac 2 -c:a flac '%s/tone.flac'", dir);
  bad |= sh(FF " " SINE(3, 44100) " -c:a aac -b:a 64k -f adts '%s/tone.aac'", dir);
  bad |= sh(FF " " SINE(3, 22050) " -c:a flac '%s/tone.mkv'", dir);
  bad |= sh(FF " " SINE(3, 44100) " -c:a aac -b:a 64k '%s/tone.mov'", dir);
  bad |= sh(FF " -f lavfi -i testsrc=duration=1:size=64x64:rate=5 -c:v mpeg4 '%s/video.mp4'",
            dir);
  bad |= sh(FF " -f lavfi -i testsrc=duration=2:size=64x64:rate=5 " SINE(2, 44100)
               " -map 0:v -map 1:a -c:v mpeg4 -c:a aac '%s/av.mp4'", dir);
  bad |= sh(FF " " SINE(600, 8000) " -c:a pcm_s16le '%s/long.wav'", dir);
  bad |= sh(FF " " SINE(1, 48000) " -c:a libopus -b:a 24k -f webm pipe:1 > '%s/small.webm'", dir);
  bad |= sh(FF " " SINE(1, 8000) " -c:a pcm_s16le '%s/small.wav'", dir);
  bad |= sh(FF " " SINE(1, 22050) " -c:a aac -b:a 32k '%s/small.mp4'", dir);
  bad |= sh(FF " " SINE(1, 48000) " -c:a libopus -b:a 24k '%s/small.ogg'", dir);
  bad |= sh(FF " " SINE(1, 8000) " -c:a flac '%s/small.flac'", dir);
  bad |= sh(FF " " SINE(1, 22050) " -c:a libmp3lame -b:a 32k '%s/small.mp3'", dir);
  bad |= sh("cp '%s/chrome.webm' '%s/really_webm.mp3'", dir, dir);
  return bad;
}

static int setup(void **state) {
  const char *tmp = getenv("SCRIBE_TEST_TMP");
  if (!tmp || !*tmp) tmp = "/tmp";
  snprintf(dir, sizeof(dir), "%s/audio", tmp);
  if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) return -1;
  have_ffmpeg = system("command -v ffmpeg >/dev/null 2>&1") == 0;
  have_flite = system("command -v flite >/dev/null 2>&1") == 0;
  if (!have_ffmpeg) fprintf(stderr, "ffmpeg CLI not found: fixture tests skip\n");
  if (!have_flite) fprintf(stderr, "flite CLI not found: speech tests skip\n");
  if (have_ffmpeg) fixtures_ok = make_fixtures() == 0;
  if (have_ffmpeg && have_flite) {
    speech_ok =
        sh("flite -voice slt -t 'The patient reports a mild headache since Tuesday and takes"
           " ibuprofen four hundred milligrams twice a day.' -o '%s/speech.wav'", dir) == 0 &&
        sh(FF " -i '%s/speech.wav' -ac 2 -ar 48000 -c:a libopus -f webm pipe:1 >"
              " '%s/speech.webm'", dir, dir) == 0;
  }
  return 0;
}

/* ---- formats ------------------------------------------------------------ */

static void test_wav_s16_44k_stereo(void **state) {
  check_tone("s16_44k_stereo.wav", "wav", "pcm_s16le");
}
static void test_wav_s24_48k_stereo(void **state) {
  check_tone("s24_48k_stereo.wav", "wav", "pcm_s24le");
}
static void test_wav_16k_mono(void **state) { check_tone("s16_16k_mono.wav", "wav", "pcm_s16le"); }
static void test_webm_opus_no_duration(void **state) {
  check_tone("chrome.webm", "webm", "opus");
}
static void test_ogg_opus(void **state) { check_tone("tone.ogg", "ogg", "opus"); }
static void test_mp3(void **state) { check_tone("tone.mp3", "mp3", "mp3"); }
static void test_flac(void **state) { check_tone("tone.flac", "flac", "flac"); }
static void test_adts_aac(void **state) { check_tone("tone.aac", "aac", "aac"); }
static void test_matroska_flac(void **state) { check_tone("tone.mkv", "matroska", "flac"); }
static void test_quicktime(void **state) { check_tone("tone.mov", "mov", "aac"); }
static void test_mp4_fragmented(void **state) { check_tone("frag.mp4", "mp4", "aac"); }

static void test_mp4_moov_at_end(void **state) {
  NEED_FIXTURES();
  /* The fixture really has its index after the media data. */
  size_t len;
  unsigned char *d = slurp("moov_end.mp4", &len);
  long mdat = -1, moov = -1;
  for (size_t o = 0; o + 8 <= len;) {
    size_t sz = (size_t)d[o] << 24 | (size_t)d[o + 1] << 16 | (size_t)d[o + 2] << 8 | d[o + 3];
    if (!memcmp(d + o + 4, "mdat", 4)) mdat = (long)o;
    if (!memcmp(d + o + 4, "moov", 4)) moov = (long)o;
    if (sz < 8) break;
    o += sz;
  }
  free(d);
  assert_true(mdat >= 0 && moov > mdat);
  check_tone("moov_end.mp4", "mp4", "aac");

  /* Through a source callback (a file larger than the I/O buffer, so the
   * index really is reached by seeking): with and without a known size. */
  scribe_audio *a = NULL;
  test_src st;
  assert_int_equal(decode_src("moov_end_long.mp4", true, true, -1, 0, NULL, &a, &st),
                   SCRIBE_OK);
  assert_true(st.seeks > 0);
  assert_true(fabs(a->duration - 20.0) < 0.15);
  assert_string_equal(a->format, "mp4");
  scribe_audio_free(a);
  a = NULL;
  assert_int_equal(decode_src("moov_end_long.mp4", true, false, -1, 0, NULL, &a, NULL),
                   SCRIBE_OK);
  assert_true(fabs(a->duration - 20.0) < 0.15);
  scribe_audio_free(a);
  a = NULL;
  /* From a pipe it cannot work: a clean failure, not a crash. */
  assert_int_equal(decode_src("moov_end_long.mp4", false, false, -1, 0, NULL, &a, NULL),
                   SCRIBE_EBADAUDIO);
  assert_null(a);
}

static void test_webm_from_pipe(void **state) {
  NEED_FIXTURES();
  scribe_audio *a = NULL;
  assert_int_equal(decode_src("chrome.webm", false, false, -1, 0, NULL, &a, NULL), SCRIBE_OK);
  assert_true(fabs(a->duration - 3.0) < 0.15);
  assert_string_equal(a->format, "webm");
  scribe_audio_free(a);
}

/* EBML variable-length integer at d[*o]: the value (with its length marker
 * when `id`), advancing *o. */
static uint64_t ebml_vint(const unsigned char *d, size_t len, size_t *o, bool id) {
  assert_true(*o < len);
  unsigned char b = d[*o];
  int n = 1;
  while (n <= 8 && !(b & (0x80 >> (n - 1)))) n++;
  assert_true(n <= 8 && *o + (size_t)n <= len);
  uint64_t v = id ? b : (uint64_t)(b & (0xFF >> n));
  for (int k = 1; k < n; k++) v = v << 8 | d[*o + (size_t)k];
  *o += (size_t)n;
  return v;
}

/* Chrome's MediaRecorder writes live WebM: unknown-size Segment (ffmpeg to a
 * pipe does that too) and unknown-size Clusters (rewritten here). */
static void test_webm_unknown_size_clusters(void **state) {
  NEED_FIXTURES();
  size_t len, o = 0, w = 0, clusters = 0;
  unsigned char *d = slurp("chrome.webm", &len);
  unsigned char *out = malloc(len + 1024);
  assert_non_null(out);
  ebml_vint(d, len, &o, true); /* EBML header: copy whole */
  o += (size_t)ebml_vint(d, len, &o, false);
  ebml_vint(d, len, &o, true); /* Segment: copy the head, walk its children */
  uint64_t seg = ebml_vint(d, len, &o, false);
  assert_true(seg == 0xFFFFFFFFFFFFFFULL); /* unknown size, as from a pipe */
  memcpy(out, d, o);
  w = o;
  while (o < len) {
    size_t start = o;
    uint64_t id = ebml_vint(d, len, &o, true);
    size_t idlen = o - start;
    uint64_t size = ebml_vint(d, len, &o, false);
    assert_true(size <= len - o);
    memcpy(out + w, d + start, idlen);
    w += idlen;
    if (id == 0x1F43B675) { /* Cluster */
      static const unsigned char unknown[8] = {1, 255, 255, 255, 255, 255, 255, 255};
      memcpy(out + w, unknown, 8);
      w += 8;
      clusters++;
    } else {
      memcpy(out + w, d + start + idlen, o - start - idlen);
      w += o - start - idlen;
    }
    memcpy(out + w, d + o, (size_t)size);
    w += (size_t)size;
    o += (size_t)size;
    assert_true(w <= len + 1024 - 16);
  }
  assert_true(clusters >= 1);
  spill("live.webm", out, w);
  free(out);
  free(d);
  check_tone("live.webm", "webm", "opus");
}

static void test_first_audio_stream_of_video(void **state) {
  NEED_FIXTURES();
  scribe_audio *a = decode_ok("av.mp4", 2.0, "mp4");
  assert_string_equal(a->codec, "aac");
  scribe_audio_free(a);
}

static void test_misleading_extension(void **state) {
  NEED_FIXTURES();
  scribe_audio *a = decode_ok("really_webm.mp3", 3.0, "webm");
  scribe_audio_free(a);
}

static void test_speech_formats(void **state) {
  if (!have_ffmpeg || !have_flite) skip();
  assert_true(speech_ok);
  char p[1200], err[256];
  scribe_audio *wav = NULL, *webm = NULL;
  path_of(p, sizeof(p), "speech.wav");
  assert_int_equal(scribe_audio_decode_file(p, NULL, &wav, err, sizeof(err)), SCRIBE_OK);
  path_of(p, sizeof(p), "speech.webm");
  assert_int_equal(scribe_audio_decode_file(p, NULL, &webm, err, sizeof(err)), SCRIBE_OK);
  assert_string_equal(wav->format, "wav");
  assert_string_equal(webm->format, "webm");
  assert_true(wav->duration > 2.0);
  assert_true(fabs(wav->duration - webm->duration) < 0.1);
  assert_true(rms(wav) > 300);
  assert_true(rms(webm) > 300);
  scribe_audio_free(wav);
  scribe_audio_free(webm);
}

/* ---- failures ----------------------------------------------------------- */

static void test_empty(void **state) {
  char err[256];
  scribe_audio *a = NULL;
  spill("empty.webm", "", 0);
  assert_int_equal(expect_file_error("empty.webm", NULL), SCRIBE_ENOAUDIO);
  assert_int_equal(scribe_audio_decode_memory("", 0, NULL, &a, err, sizeof(err)),
                   SCRIBE_ENOAUDIO);
  assert_string_equal(err, "empty file");
  /* size unknown: found empty by reading */
  assert_int_equal(decode_src("empty.webm", false, false, -1, 0, NULL, &a, NULL),
                   SCRIBE_ENOAUDIO);
  assert_null(a);
}

static void test_not_audio(void **state) {
  char err[256];
  scribe_audio *a = NULL;
  static const char text[] =
      "Patient: Jane Example, DOB 1970-01-01.\nComplains of headache.\n";
  spill("notes.wav", text, sizeof(text) - 1);
  assert_int_equal(expect_file_error("notes.wav", NULL), SCRIBE_EBADAUDIO);
  assert_int_equal(scribe_audio_decode_memory(text, sizeof(text) - 1, NULL, &a, err,
                                              sizeof(err)),
                   SCRIBE_EBADAUDIO);
  assert_string_equal(err, "not a recognised audio format");
  assert_null(strstr(err, "Jane"));

  static const unsigned char png[] = {
      0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
      0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xde, 0, 0, 0, 0,
      'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
  spill("image.mp3", png, sizeof(png));
  assert_int_equal(expect_file_error("image.mp3", NULL), SCRIBE_EBADAUDIO);

  size_t sizes[] = {1, 100, 4096, 65536, 3u << 20};
  rng_state = 0x5eed;
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    unsigned char *r = malloc(sizes[k]);
    assert_non_null(r);
    for (size_t i = 0; i < sizes[k]; i++) r[i] = (unsigned char)(rnd() >> 56);
    int rc = scribe_audio_decode_memory(r, sizes[k], NULL, &a, err, sizeof(err));
    if (rc != SCRIBE_EBADAUDIO)
      fprintf(stderr, "random %zu bytes: %s (%s)\n", sizes[k], scribe_err_name(rc), err);
    assert_int_equal(rc, SCRIBE_EBADAUDIO);
    assert_null(a);
    free(r);
  }
}

static void test_no_audio_stream(void **state) {
  NEED_FIXTURES();
  char p[1200], err[256];
  scribe_audio *a = NULL;
  path_of(p, sizeof(p), "video.mp4");
  assert_int_equal(scribe_audio_decode_file(p, NULL, &a, err, sizeof(err)), SCRIBE_EBADAUDIO);
  assert_string_equal(err, "the file contains no audio stream");
}

static void test_truncated(void **state) {
  NEED_FIXTURES();
  char err[256];
  scribe_audio *a = NULL;
  size_t len;
  unsigned char *d = slurp("chrome.webm", &len);
  /* only the header: nothing decodable */
  int rc = scribe_audio_decode_memory(d, 200, NULL, &a, err, sizeof(err));
  assert_int_equal(rc, SCRIBE_EBADAUDIO);
  assert_null(a);
  /* 60%: keep what decodes */
  rc = scribe_audio_decode_memory(d, len * 6 / 10, NULL, &a, err, sizeof(err));
  assert_int_equal(rc, SCRIBE_OK);
  assert_true(a->duration > 1.2 && a->duration < 2.6);
  scribe_audio_free(a);
  a = NULL;
  free(d);

  /* MP4 cut before its index: nothing to go on */
  d = slurp("moov_end.mp4", &len);
  rc = scribe_audio_decode_memory(d, len / 2, NULL, &a, err, sizeof(err));
  assert_int_equal(rc, SCRIBE_EBADAUDIO);
  free(d);

  /* WAV cut in the middle of its data */
  d = slurp("s16_44k_stereo.wav", &len);
  rc = scribe_audio_decode_memory(d, len / 2 + 1, NULL, &a, err, sizeof(err));
  assert_int_equal(rc, SCRIBE_OK);
  assert_true(fabs(a->duration - 1.5) < 0.1);
  scribe_audio_free(a);
  free(d);
}

static void test_too_long(void **state) {
  NEED_FIXTURES();
  scribe_audio_params p = scribe_audio_default_params();
  p.max_seconds = 1.0;
  assert_int_equal(expect_file_error("chrome.webm", &p), SCRIBE_ETOOLONG);
  assert_int_equal(expect_file_error("tone.flac", &p), SCRIBE_ETOOLONG);
  p.max_seconds = 3.5;
  scribe_audio *a = NULL;
  char path[1200], err[256];
  path_of(path, sizeof(path), "tone.mp3");
  assert_int_equal(scribe_audio_decode_file(path, &p, &a, err, sizeof(err)), SCRIBE_OK);
  scribe_audio_free(a);
  a = NULL;

  /* 10 minutes (9.6 MB) against a 5 s limit: stops after reading little. */
  p.max_seconds = 5;
  test_src st;
  assert_int_equal(decode_src("long.wav", true, true, -1, 0, &p, &a, &st), SCRIBE_ETOOLONG);
  assert_null(a);
  assert_true(st.bytes_read < 1024 * 1024);
}

static void test_source_errors(void **state) {
  NEED_FIXTURES();
  scribe_audio *a = NULL;
  /* a failing read is passed through as is, wherever it happens */
  assert_int_equal(decode_src("chrome.webm", true, true, 0, 0, NULL, &a, NULL), SCRIBE_EIO);
  assert_int_equal(decode_src("chrome.webm", false, false, 9000, 0, NULL, &a, NULL),
                   SCRIBE_EIO);
  assert_int_equal(decode_src("long.wav", true, true, 2 << 20, 0, NULL, &a, NULL), SCRIBE_EIO);
  assert_int_equal(decode_src("moov_end_long.mp4", true, true, 100000, 0, NULL, &a, NULL),
                   SCRIBE_EIO);
  /* so is a transient seek failure */
  assert_int_equal(decode_src("moov_end_long.mp4", true, true, -1, SCRIBE_EIO, NULL, &a, NULL),
                   SCRIBE_EIO);
  /* a permanent one is the file's fault (here: the index is unreachable) */
  assert_int_equal(
      decode_src("moov_end_long.mp4", true, true, -1, SCRIBE_EINVAL, NULL, &a, NULL),
      SCRIBE_EBADAUDIO);
  assert_null(a);
}

static int cancel_after;
static double last_fraction;
static int progress_calls;
static int on_progress(void *ud, double f) {
  assert_ptr_equal(ud, &cancel_after);
  assert_true(f >= last_fraction && f <= 1.0);
  last_fraction = f;
  return ++progress_calls >= cancel_after;
}

static void test_progress_and_cancel(void **state) {
  NEED_FIXTURES();
  scribe_audio_params p = scribe_audio_default_params();
  p.progress = on_progress;
  p.user_data = &cancel_after;
  scribe_audio *a = NULL;
  cancel_after = 1000000;
  last_fraction = 0;
  progress_calls = 0;
  assert_int_equal(decode_src("long.wav", true, true, -1, 0, &p, &a, NULL), SCRIBE_OK);
  assert_true(progress_calls > 10);
  assert_true(last_fraction == 1.0);
  assert_true(fabs(a->duration - 600) < 0.1);
  scribe_audio_free(a);
  a = NULL;

  cancel_after = 2;
  last_fraction = 0;
  progress_calls = 0;
  test_src st;
  assert_int_equal(decode_src("long.wav", true, true, -1, 0, &p, &a, &st), SCRIBE_ECANCELED);
  assert_null(a);
  assert_true(st.bytes_read < 2u << 20);
}

static void test_bad_arguments(void **state) {
  char err[256];
  scribe_audio *a = NULL;
  scribe_audio_params p = scribe_audio_default_params();
  assert_int_equal(scribe_audio_decode(NULL, NULL, &a, err, sizeof(err)), SCRIBE_EINVAL);
  assert_int_equal(scribe_audio_decode_memory("x", 1, NULL, NULL, err, sizeof(err)),
                   SCRIBE_EINVAL);
  p.sample_rate = 100;
  assert_int_equal(scribe_audio_decode_memory("x", 1, &p, &a, err, sizeof(err)), SCRIBE_EINVAL);
  p = scribe_audio_default_params();
  p.max_seconds = NAN;
  assert_int_equal(scribe_audio_decode_memory("x", 1, &p, &a, err, sizeof(err)), SCRIBE_EINVAL);
  p.max_seconds = 0;
  assert_int_equal(scribe_audio_decode_memory("x", 1, &p, &a, err, sizeof(err)), SCRIBE_EINVAL);
  assert_int_equal(scribe_audio_decode_file("/nonexistent/x.webm", NULL, &a, err, sizeof(err)),
                   SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_audio_decode_file(dir, NULL, &a, err, 0), SCRIBE_EIO);
  assert_null(a);
  scribe_audio_free(NULL);
  p = scribe_audio_default_params();
  assert_int_equal(p.sample_rate, 16000);
  assert_true(p.max_seconds == 4 * 3600.0);
}

static void test_other_rate(void **state) {
  NEED_FIXTURES();
  scribe_audio_params p = scribe_audio_default_params();
  p.sample_rate = 8000;
  char path[1200], err[256];
  scribe_audio *a = NULL;
  path_of(path, sizeof(path), "tone.ogg");
  assert_int_equal(scribe_audio_decode_file(path, &p, &a, err, sizeof(err)), SCRIBE_OK);
  assert_int_equal(a->sample_rate, 8000);
  assert_true(fabs(a->duration - 3.0) < 0.15);
  assert_true(fabs(tone_hz(a) - 440) < 10);
  scribe_audio_free(a);
}

/* ---- concurrency --------------------------------------------------------- */

static void *worker(void *arg) {
  static const char *const names[] = {"chrome.webm", "tone.mp3", "moov_end.mp4", "tone.ogg"};
  const char *name = names[(intptr_t)arg % 4];
  char p[1200], err[256];
  snprintf(p, sizeof(p), "%s/%s", dir, name);
  for (int i = 0; i < 3; i++) {
    scribe_audio *a = NULL;
    int rc = scribe_audio_decode_file(p, NULL, &a, err, sizeof(err));
    bool ok = rc == SCRIBE_OK && fabs(a->duration - 3.0) < 0.15;
    scribe_audio_free(a);
    if (!ok) return (void *)1;
  }
  return NULL;
}

static void test_concurrent(void **state) {
  NEED_FIXTURES();
  pthread_t t[6];
  for (intptr_t i = 0; i < 6; i++)
    assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)i), 0);
  for (int i = 0; i < 6; i++) {
    void *r = (void *)1;
    assert_int_equal(pthread_join(t[i], &r), 0);
    assert_null(r);
  }
}

/* ---- mutated input --------------------------------------------------------- */

/* SCRIBE_AUDIO_FUZZ_ROUNDS multiplies the rounds for a longer local run. */
static void mutate_and_decode(const char *name, int rounds, uint64_t seed) {
  const char *mul = getenv("SCRIBE_AUDIO_FUZZ_ROUNDS");
  if (mul && atoi(mul) > 0) rounds *= atoi(mul);
  size_t len;
  unsigned char *orig = slurp(name, &len);
  unsigned char *m = malloc(len);
  assert_non_null(m);
  scribe_audio_params p = scribe_audio_default_params();
  p.max_seconds = 30;
  rng_state = seed;
  int counts[4] = {0};
  for (int i = 0; i < rounds; i++) {
    memcpy(m, orig, len);
    size_t n = len;
    switch (rnd() % 5) {
      case 0: /* a few bit flips anywhere */
        for (int k = 1 + (int)(rnd() % 8); k > 0; k--) m[rnd() % n] ^= (unsigned char)(1u << (rnd() % 8));
        break;
      case 1: /* bit flips in the header */
        for (int k = 1 + (int)(rnd() % 4); k > 0; k--) m[rnd() % (n < 256 ? n : 256)] ^= (unsigned char)(1u << (rnd() % 8));
        break;
      case 2: /* truncation */
        n = (size_t)(rnd() % len);
        break;
      case 3: /* a run of random bytes */
      {
        size_t at = (size_t)(rnd() % n), run = 1 + (size_t)(rnd() % 64);
        for (size_t k = at; k < n && k < at + run; k++) m[k] = (unsigned char)(rnd() >> 56);
        break;
      }
      default: /* flips and a cut */
        for (int k = 1 + (int)(rnd() % 16); k > 0; k--) m[rnd() % n] ^= (unsigned char)(1u << (rnd() % 8));
        n = len / 2 + (size_t)(rnd() % (len / 2));
        break;
    }
    scribe_audio *a = NULL;
    char err[256] = "";
    int rc = scribe_audio_decode_memory(m, n, &p, &a, err, sizeof(err));
    if (rc == SCRIBE_OK) {
      assert_non_null(a);
      assert_non_null(a->samples);
      assert_true(a->nsamples > 0 && a->duration <= 30.1);
      assert_int_equal(a->sample_rate, 16000);
      counts[0]++;
    } else {
      assert_null(a);
      assert_true(strlen(err) > 0);
      if (rc != SCRIBE_EBADAUDIO && rc != SCRIBE_ENOAUDIO && rc != SCRIBE_ETOOLONG) {
        spill("mutated-failure.bin", m, n); /* to reproduce */
        fail_msg("%s round %d: unexpected %s (%s)", name, i, scribe_err_name(rc), err);
      }
      counts[rc == SCRIBE_EBADAUDIO ? 1 : rc == SCRIBE_ENOAUDIO ? 2 : 3]++;
    }
    scribe_audio_free(a);
  }
  fprintf(stderr, "%s: %d ok, %d bad, %d no audio, %d too long\n", name, counts[0], counts[1],
          counts[2], counts[3]);
  free(m);
  free(orig);
}

static void test_mutated_webm(void **state) {
  NEED_FIXTURES();
  mutate_and_decode("small.webm", 200, 0xC0FFEE);
}

static void test_mutated_wav(void **state) {
  NEED_FIXTURES();
  mutate_and_decode("small.wav", 200, 0xBADC0DE);
}

static void test_mutated_others(void **state) {
  NEED_FIXTURES();
  mutate_and_decode("small.mp4", 50, 1);
  mutate_and_decode("small.ogg", 50, 2);
  mutate_and_decode("small.flac", 50, 3);
  mutate_and_decode("small.mp3", 50, 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wav_s16_44k_stereo),
      cmocka_unit_test(test_wav_s24_48k_stereo),
      cmocka_unit_test(test_wav_16k_mono),
      cmocka_unit_test(test_webm_opus_no_duration),
      cmocka_unit_test(test_ogg_opus),
      cmocka_unit_test(test_mp3),
      cmocka_unit_test(test_flac),
      cmocka_unit_test(test_adts_aac),
      cmocka_unit_test(test_matroska_flac),
      cmocka_unit_test(test_mp4_fragmented),
      cmocka_unit_test(test_quicktime),
      cmocka_unit_test(test_mp4_moov_at_end),
      cmocka_unit_test(test_webm_from_pipe),
      cmocka_unit_test(test_webm_unknown_size_clusters),
      cmocka_unit_test(test_first_audio_stream_of_video),
      cmocka_unit_test(test_misleading_extension),
      cmocka_unit_test(test_speech_formats),
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_not_audio),
      cmocka_unit_test(test_no_audio_stream),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_too_long),
      cmocka_unit_test(test_source_errors),
      cmocka_unit_test(test_progress_and_cancel),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_other_rate),
      cmocka_unit_test(test_concurrent),
      cmocka_unit_test(test_mutated_webm),
      cmocka_unit_test(test_mutated_wav),
      cmocka_unit_test(test_mutated_others),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
