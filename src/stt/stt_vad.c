/*
 * stt_vad.c - energy-based voice activity detection for the stt backends.
 *
 * The audio is cut into short frames; each frame's energy (dBFS, DC removed)
 * is compared with a threshold derived from the recording itself: a level
 * `threshold_db` above the noise floor (the 10th percentile of frame
 * energies), but no higher than halfway between the floor and the loud
 * frames (95th percentile), and never below `floor_dbfs`.  Speech frames
 * closer together than `min_silence_s` form one utterance; utterances with
 * too little speech are dropped, long ones are cut at their quietest 100 ms,
 * and each keeps up to `pad_s` of the surrounding pause as context.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "stt/stt.h"

#define HIST_MIN_DB (-120.0)
#define HIST_BINS 480 /* 0.25 dB bins from -120 to 0 dBFS */

scribe_stt_vad_params scribe_stt_vad_default_params(void) {
  scribe_stt_vad_params p;
  memset(&p, 0, sizeof(p));
  p.sample_rate = SCRIBE_STT_SAMPLE_RATE;
  p.frame_ms = 10;
  p.min_silence_s = 0.4;
  p.max_span_s = 25;
  p.min_speech_s = 0.12;
  p.pad_s = 0.15;
  p.threshold_db = 12;
  p.floor_dbfs = -55;
  return p;
}

static float frame_db(const int16_t *x, size_t n) {
  double sum = 0, sq = 0;
  for (size_t i = 0; i < n; i++) {
    sum += x[i];
    sq += (double)x[i] * x[i];
  }
  double mean = sum / (double)n;
  double power = sq / (double)n - mean * mean;
  if (power < 0) power = 0;
  return (float)(10.0 * log10(power / (32768.0 * 32768.0) + 1e-13)); /* >= -130 dB */
}

/* The energy (dB) below which fraction q of the frames lie. */
static double percentile(const size_t *hist, size_t total, double q) {
  size_t want = (size_t)(q * (double)total), seen = 0;
  for (size_t b = 0; b < HIST_BINS; b++) {
    seen += hist[b];
    if (seen > want) return HIST_MIN_DB + (double)b * (-HIST_MIN_DB / HIST_BINS);
  }
  return 0;
}

static int push_span(scribe_stt_span **spans, size_t *n, size_t *cap, size_t start, size_t end) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 16;
    if (c > SIZE_MAX / sizeof(**spans)) return SCRIBE_ENOMEM;
    scribe_stt_span *s = realloc(*spans, c * sizeof(*s));
    if (!s) return SCRIBE_ENOMEM;
    *spans = s;
    *cap = c;
  }
  (*spans)[*n].start = start;
  (*spans)[*n].end = end;
  (*n)++;
  return SCRIBE_OK;
}

/* The frame in [lo, hi) that starts the quietest window of w frames. */
static size_t quietest(const float *db, size_t lo, size_t hi, size_t w) {
  size_t best = lo + (hi - lo) / 2;
  double best_e = INFINITY;
  for (size_t f = lo; f + w <= hi; f++) {
    double e = 0;
    for (size_t k = 0; k < w; k++) e += pow(10.0, db[f + k] / 10.0);
    if (e < best_e) {
      best_e = e;
      best = f + w / 2;
    }
  }
  return best;
}

int scribe_stt_vad(const int16_t *pcm, size_t nsamples, const scribe_stt_vad_params *p,
                   scribe_stt_span **spans, size_t *nspans) {
  if (!spans || !nspans) return SCRIBE_EINVAL;
  *spans = NULL;
  *nspans = 0;
  if (!p || p->sample_rate <= 0 || !(p->frame_ms >= 1 && p->frame_ms <= 100) ||
      !(p->min_silence_s >= 0) || !(p->pad_s >= 0) || !(p->min_speech_s >= 0) ||
      !(p->max_span_s >= 1 && p->max_span_s > 2 * p->pad_s + 2 * p->frame_ms / 1000.0))
    return SCRIBE_EINVAL;
  if (!pcm && nsamples) return SCRIBE_EINVAL;
  size_t flen = (size_t)((double)p->sample_rate * p->frame_ms / 1000.0);
  if (flen == 0) return SCRIBE_EINVAL;
  size_t nframes = nsamples / flen + (nsamples % flen ? 1 : 0);
  if (nframes == 0) return SCRIBE_OK;
  if (nframes > SIZE_MAX / sizeof(float)) return SCRIBE_ENOMEM;

  int rc = SCRIBE_ENOMEM;
  scribe_stt_span *out = NULL;
  size_t nout = 0, cap = 0;
  float *db = malloc(nframes * sizeof(*db));
  size_t *hist = calloc(HIST_BINS, sizeof(*hist));
  if (!db || !hist) goto fail;

  for (size_t f = 0; f < nframes; f++) {
    size_t a = f * flen, n = nsamples - a < flen ? nsamples - a : flen;
    db[f] = frame_db(pcm + a, n);
    double bin = (db[f] - HIST_MIN_DB) / (-HIST_MIN_DB / HIST_BINS);
    size_t b = bin <= 0 ? 0 : bin >= HIST_BINS - 1 ? HIST_BINS - 1 : (size_t)bin;
    hist[b]++;
  }
  double noise = percentile(hist, nframes, 0.10), loud = percentile(hist, nframes, 0.95);
  double thr = noise + p->threshold_db;
  if (thr > (noise + loud) / 2) thr = (noise + loud) / 2;
  if (thr < p->floor_dbfs) thr = p->floor_dbfs;

  double fps = 1000.0 / p->frame_ms;
  size_t min_gap = (size_t)ceil(p->min_silence_s * fps);
  size_t min_speech = (size_t)ceil(p->min_speech_s * fps);
  size_t pad = (size_t)(p->pad_s * fps);
  size_t max_len = (size_t)((p->max_span_s - 2 * p->pad_s) * fps); /* padding included */
  size_t prev_end = 0; /* end frame (exclusive, padded) of the previous span */

  size_t f = 0;
  while (f < nframes) {
    while (f < nframes && db[f] <= thr) f++;
    if (f == nframes) break;
    /* An utterance: speech frames with gaps shorter than min_gap. */
    size_t first = f, last = f, speech = 0;
    while (f < nframes) {
      if (db[f] > thr) {
        last = f;
        speech++;
      } else if (f - last >= min_gap) {
        break;
      }
      f++;
    }
    if (speech < min_speech) continue;
    size_t start = first, end = last + 1;
    /* Padding, within the pause before (up to its middle) and after. */
    size_t room = start - prev_end;
    size_t before = room / 2 < pad ? room / 2 : pad;
    if (prev_end == 0) before = start < pad ? start : pad; /* nothing before */
    start -= before;
    size_t after = nframes - end < pad ? nframes - end : pad;
    if (after > min_gap / 2) after = min_gap / 2; /* leave half the pause for the next */
    end += after;
    /* Cut utterances longer than max_len at their quietest 100 ms. */
    while (end - start > max_len) {
      size_t w = (size_t)(0.1 * fps) ? (size_t)(0.1 * fps) : 1;
      size_t cut = quietest(db, start + max_len / 2, start + max_len, w);
      if (cut <= start) cut = start + max_len;
      rc = push_span(&out, &nout, &cap, start * flen, cut * flen);
      if (rc) goto fail;
      start = cut;
    }
    rc = push_span(&out, &nout, &cap, start * flen, end * flen < nsamples ? end * flen : nsamples);
    if (rc) goto fail;
    prev_end = end;
  }
  free(db);
  free(hist);
  if (!nout) {
    free(out);
    out = NULL;
  }
  *spans = out;
  *nspans = nout;
  return SCRIBE_OK;

fail:
  free(db);
  free(hist);
  free(out);
  return rc;
}
