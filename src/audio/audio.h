/*
 * audio.h - decode an uploaded recording into 16 kHz mono 16-bit PCM.
 *
 * Usage:
 *   scribe_audio_params p = scribe_audio_default_params();
 *   p.max_seconds = 2 * 3600;
 *   scribe_audio *a = NULL;
 *   char err[256];
 *   int rc = scribe_audio_decode_file("upload.bin", &p, &a, err, sizeof err);
 *   if (rc == SCRIBE_OK) {
 *     use(a->samples, a->nsamples, a->sample_rate);   // mono int16
 *     scribe_audio_free(a);
 *   } else {
 *     show_user(err);              // short reason, never file content
 *   }
 *
 * The container is recognised from the bytes (never from a file name or a
 * declared MIME type) and must be one of an allowlist of audio containers:
 * WebM/Matroska, Ogg, MP4/MOV (also fragmented, and with the index at the
 * end), MP3, WAV, FLAC and ADTS AAC.  The first audio stream is decoded;
 * other streams are ignored.  Channels are downmixed to mono and resampled
 * with libswresample.
 *
 * Errors (negative SCRIBE_E*; `err` gets a short user-facing reason):
 *   SCRIBE_ENOAUDIO   empty input, or nothing decoded ("empty file",
 *                     "no audio samples")
 *   SCRIBE_EBADAUDIO  not an allowed audio format, no audio stream, unknown
 *                     codec, or a stream too damaged to yield at least one
 *                     second (a damaged stream that yields more is returned
 *                     as far as it decodes)
 *   SCRIBE_ETOOLONG   more than max_seconds of audio; detected while
 *                     decoding, which then stops (memory stays bounded by
 *                     max_seconds * sample_rate samples)
 *   SCRIBE_ECANCELED  the progress callback returned nonzero
 *   SCRIBE_EINVAL     bad arguments or parameters
 *   SCRIBE_ENOMEM     allocation failed
 *   any code a source callback returned: a negative return of read, or a
 *   transient one (scribe_err_transient) of seek, is passed through as is,
 *   so SCRIBE_EIO stays a retryable SCRIBE_EIO and not SCRIBE_EBADAUDIO.
 *
 * Thread safety: calls with different sources may run concurrently.  The
 * first call silences FFmpeg's own logging process-wide (it could print
 * container metadata such as titles or names).
 */
#ifndef SCRIBE_AUDIO_H
#define SCRIBE_AUDIO_H

#include <stddef.h>
#include <stdint.h>

/* A byte source the decoder reads from.  A seek callback is needed for
 * containers whose index is at the end (MP4 without faststart): such a file
 * cannot be decoded from a pipe.  The callbacks are called only from the
 * thread that calls scribe_audio_decode, and never after it returns. */
typedef struct scribe_audio_source {
  void *user_data;
  /* Reads up to n bytes into buf.  Returns the number read (at most n),
   * 0 at the end, or a negative SCRIBE_E* code (passed through to the
   * caller of scribe_audio_decode). */
  long (*read)(void *user_data, void *buf, size_t n);
  /* Like lseek (whence SEEK_SET/SEEK_CUR/SEEK_END): returns the new offset
   * or a negative SCRIBE_E* code.  May be NULL when not seekable.  Seeks
   * asked for by damaged files may fail with a permanent code such as
   * SCRIBE_EINVAL: that is treated as damage; transient codes abort. */
  int64_t (*seek)(void *user_data, int64_t offset, int whence);
  int64_t size; /* total bytes, or -1 when unknown */
} scribe_audio_source;

typedef struct scribe_audio_params {
  /* Fail with SCRIBE_ETOOLONG past this many seconds (default 4 h).  A few
   * milliseconds (up to 50) of resampler slack are tolerated. */
  double max_seconds;
  /* Output sample rate in Hz, 8000..48000 (default 16000). */
  int sample_rate;
  /* Optional.  Called from the decoding thread every few dozen packets with
   * the fraction of the input read so far (0 when the size is unknown) and
   * once with 1.0 at the end; a nonzero return stops decoding with
   * SCRIBE_ECANCELED. */
  int (*progress)(void *user_data, double fraction);
  void *user_data; /* passed to progress */
} scribe_audio_params;

/* Decoded audio, owned by the caller: free with scribe_audio_free. */
typedef struct scribe_audio {
  int16_t *samples;  /* nsamples mono samples (never NULL on success) */
  size_t nsamples;   /* > 0 on success */
  int sample_rate;   /* params.sample_rate */
  int channels;      /* always 1 */
  double duration;   /* seconds: nsamples / sample_rate */
  char format[32];   /* container found by content: "webm", "matroska",
                        "ogg", "mp4", "mov", "mp3", "wav", "flac", "aac" */
  char codec[32];    /* codec of the decoded stream, e.g. "opus", "aac" */
} scribe_audio;

/* Default parameters: 4 h limit, 16000 Hz, no progress callback. */
scribe_audio_params scribe_audio_default_params(void);

/* Decodes src.  p may be NULL for the defaults.  On success returns
 * SCRIBE_OK and stores a new scribe_audio in *out; on failure returns a
 * negative code (see above), leaves *out NULL and writes a short reason
 * into err (when errlen > 0).  The source is read from its current
 * position, which should be offset 0. */
int scribe_audio_decode(const scribe_audio_source *src, const scribe_audio_params *p,
                        scribe_audio **out, char *err, size_t errlen);

/* scribe_audio_decode over the file at path (seekable when the file is).
 * An unopenable file gives SCRIBE_ENOTFOUND (missing) or SCRIBE_EIO. */
int scribe_audio_decode_file(const char *path, const scribe_audio_params *p,
                             scribe_audio **out, char *err, size_t errlen);

/* scribe_audio_decode over len bytes at data (seekable; data is only read
 * during the call and stays the caller's). */
int scribe_audio_decode_memory(const void *data, size_t len, const scribe_audio_params *p,
                               scribe_audio **out, char *err, size_t errlen);

/* Frees a, including its samples.  Accepts NULL. */
void scribe_audio_free(scribe_audio *a);

/* Makes sure the decoder can run.  The `scribe` program keeps FFmpeg out of
 * processes that never decode (an API server with no workers): it loads the
 * decoder module (libscribe-audio.so, next to the program) on first use,
 * and this call loads it ahead of time so a missing module stops a worker
 * at start with a clear message.  Linked statically (tests, other
 * programs) it does nothing and returns SCRIBE_OK. */
int scribe_audio_preload(char *err, size_t errlen);

#endif
