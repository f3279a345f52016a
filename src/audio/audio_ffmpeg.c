/*
 * audio_ffmpeg.c - scribe_audio_decode on FFmpeg (libavformat, libavcodec,
 * libswresample; FFmpeg >= 5.1 channel-layout API).
 *
 * Flow: custom AVIOContext over the caller's source -> probe the content ->
 * check the demuxer against an allowlist -> open the first audio stream's
 * decoder -> decode packet by packet, resampling each frame straight to
 * mono int16 at the output rate into a buffer capped by max_seconds.
 *
 * avformat_find_stream_info() is deliberately not called: it would decode
 * (and open decoders for) every stream, video included, and the allowed
 * containers all describe their audio codec in the header.  The resampler
 * is set up from the first decoded frame instead, and rebuilt if a later
 * frame changes rate, format or channel layout.
 */
#include "audio/audio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libswresample/swresample.h>

#include "core/error.h"
#include "core/log.h"

#define IO_BUF_SIZE 65536
#define HEAD_MAX 64              /* first bytes kept to name the container */
#define MIN_PROBE_SCORE 25       /* AVPROBE_SCORE_RETRY: weaker guesses are noise */
#define MIN_IN_RATE 1000         /* input rates outside this are treated as damage */
#define MAX_IN_RATE 768000
#define MAX_IN_CHANNELS 64       /* libswresample's limit */
#define MIN_OUT_RATE 8000
#define MAX_OUT_RATE 48000
#define MAX_LIMIT_SECONDS (7.0 * 24 * 3600)
#define PROGRESS_EVERY 32        /* packets between progress callbacks */
#define DAMAGED_MIN_SECONDS 1.0  /* a damaged stream must yield this much */
#define MAX_READ_ERRORS 64       /* demuxer errors skipped before giving up */

/* Demuxers we accept (AVInputFormat.name) and what we call the container. */
static const struct {
  const char *demuxer;
  const char *format;
} allowed[] = {
    {"matroska,webm", "matroska"}, /* refined to "webm" by DocType */
    {"ogg", "ogg"},
    {"mov,mp4,m4a,3gp,3g2,mj2", "mp4"}, /* refined to "mov" by brand */
    {"mp3", "mp3"},
    {"wav", "wav"},
    {"flac", "flac"},
    {"aac", "aac"},
};
#define FORMAT_WHITELIST "matroska,webm,ogg,mov,mp4,m4a,3gp,3g2,mj2,mp3,wav,flac,aac"

/* ---- source adapter ---------------------------------------------------- */

typedef struct {
  const scribe_audio_source *src;
  int src_err;            /* first error a source callback returned (sticky) */
  int64_t pos;            /* current offset in the source */
  uint64_t total_read;    /* bytes read, all reads together */
  unsigned char head[HEAD_MAX];
  size_t head_len;        /* bytes of head[] filled from offset 0 on */
  double reported;        /* last progress fraction (never goes back) */
} io_ctx;

static int io_read(void *opaque, uint8_t *buf, int n) {
  io_ctx *c = opaque;
  if (c->src_err) return AVERROR(EIO);
  if (n <= 0) return 0;
  long r = c->src->read(c->src->user_data, buf, (size_t)n);
  if (r < 0) {
    c->src_err = r < INT_MIN ? SCRIBE_EIO : (int)r;
    return AVERROR(EIO);
  }
  if (r == 0) return AVERROR_EOF;
  if (r > n) { /* a broken source: never trust the overrun */
    c->src_err = SCRIBE_EINTERNAL;
    return AVERROR(EIO);
  }
  if (c->pos >= 0 && (uint64_t)c->pos == c->head_len && c->head_len < HEAD_MAX) {
    size_t k = HEAD_MAX - c->head_len;
    if (k > (size_t)r) k = (size_t)r;
    memcpy(c->head + c->head_len, buf, k);
    c->head_len += k;
  }
  c->pos += r;
  c->total_read += (uint64_t)r;
  return (int)r;
}

static int64_t io_seek(void *opaque, int64_t offset, int whence) {
  io_ctx *c = opaque;
  if (c->src_err) return AVERROR(EIO);
  whence &= ~AVSEEK_FORCE;
  if (whence == AVSEEK_SIZE) return c->src->size >= 0 ? c->src->size : AVERROR(ENOSYS);
  if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return AVERROR(EINVAL);
  int64_t r = c->src->seek(c->src->user_data, offset, whence);
  if (r < 0) {
    /* Damaged files ask for impossible offsets: that is not the source's
     * fault.  A transient failure (I/O, timeout) is, and aborts. */
    if (r >= INT_MIN && scribe_err_transient((int)r)) c->src_err = (int)r;
    return AVERROR(EINVAL);
  }
  c->pos = r;
  return r;
}

/* Blocks demuxers from opening other files or URLs (references in MP4 and
 * playlists): only the caller's bytes are ever read. */
static int deny_io_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                        AVDictionary **options) {
  return AVERROR(EPERM);
}

/* ---- output buffer and resampling -------------------------------------- */

typedef struct {
  int out_rate;
  size_t limit;             /* max output samples (max_seconds + slack) */
  int16_t *samples;
  size_t nsamples, cap;
  int16_t *tmp;             /* one frame's converted samples */
  size_t tmp_cap;
  SwrContext *swr;
  AVChannelLayout in_layout;  /* the frame layout swr was built for */
  int in_rate, in_format;
} sink;

static int sink_append(sink *s, const int16_t *x, size_t n) {
  if (n == 0) return SCRIBE_OK;
  if (n > s->limit || s->nsamples > s->limit - n) return SCRIBE_ETOOLONG;
  size_t need = s->nsamples + n;
  if (need > s->cap) {
    size_t cap = s->cap ? s->cap : (size_t)s->out_rate * 16;
    while (cap < need) cap = cap > s->limit / 2 ? s->limit : cap * 2;
    if (cap > s->limit) cap = s->limit;
    int16_t *p = realloc(s->samples, cap * sizeof(*p));
    if (!p) return SCRIBE_ENOMEM;
    s->samples = p;
    s->cap = cap;
  }
  memcpy(s->samples + s->nsamples, x, n * sizeof(*x));
  s->nsamples += n;
  return SCRIBE_OK;
}

/* Converts in_count input samples (NULL/0 = flush) through swr into s. */
static int sink_convert(sink *s, const uint8_t **in, int in_count) {
  for (;;) {
    int max_out = swr_get_out_samples(s->swr, in_count);
    if (max_out < 0) return SCRIBE_EBADAUDIO;
    if (max_out == 0) return SCRIBE_OK;
    /* One frame can never legitimately exceed the whole allowance. */
    if ((size_t)max_out > s->limit) return SCRIBE_ETOOLONG;
    if ((size_t)max_out > s->tmp_cap) {
      int16_t *p = realloc(s->tmp, (size_t)max_out * sizeof(*p));
      if (!p) return SCRIBE_ENOMEM;
      s->tmp = p;
      s->tmp_cap = (size_t)max_out;
    }
    uint8_t *out[1] = {(uint8_t *)s->tmp};
    int n = swr_convert(s->swr, out, max_out, in, in_count);
    if (n < 0) return SCRIBE_EBADAUDIO;
    int rc = sink_append(s, s->tmp, (size_t)n);
    if (rc) return rc;
    if (in) return SCRIBE_OK; /* all input consumed (out had room) */
    if (n == 0) return SCRIBE_OK; /* flush: drained */
  }
}

static void sink_drop_swr(sink *s) {
  swr_free(&s->swr);
  av_channel_layout_uninit(&s->in_layout);
}

static int sink_frame(sink *s, const AVFrame *f) {
  if (f->nb_samples <= 0) return SCRIBE_OK;
  int ch = f->ch_layout.nb_channels;
  if (f->sample_rate < MIN_IN_RATE || f->sample_rate > MAX_IN_RATE || ch <= 0 ||
      ch > MAX_IN_CHANNELS || f->format < 0)
    return SCRIBE_EBADAUDIO;
  if (s->swr && (f->sample_rate != s->in_rate || f->format != s->in_format ||
                 av_channel_layout_compare(&f->ch_layout, &s->in_layout) != 0)) {
    int rc = sink_convert(s, NULL, 0); /* keep what the old setup buffered */
    if (rc) return rc;
    sink_drop_swr(s);
  }
  if (!s->swr) {
    AVChannelLayout in = {0};
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
      av_channel_layout_default(&in, ch); /* e.g. WAV without a channel mask */
    else if (av_channel_layout_copy(&in, &f->ch_layout) < 0)
      return SCRIBE_ENOMEM;
    int r = swr_alloc_set_opts2(&s->swr, &mono, AV_SAMPLE_FMT_S16, s->out_rate, &in,
                                (enum AVSampleFormat)f->format, f->sample_rate, 0, NULL);
    av_channel_layout_uninit(&in);
    if (r < 0 || swr_init(s->swr) < 0) {
      swr_free(&s->swr);
      return SCRIBE_EBADAUDIO;
    }
    if (av_channel_layout_copy(&s->in_layout, &f->ch_layout) < 0) {
      swr_free(&s->swr);
      return SCRIBE_ENOMEM;
    }
    s->in_rate = f->sample_rate;
    s->in_format = f->format;
  }
  return sink_convert(s, (const uint8_t **)f->extended_data, f->nb_samples);
}

/* ---- helpers ------------------------------------------------------------ */

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(int rc, char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

static void quiet_ffmpeg(void) { av_log_set_level(AV_LOG_QUIET); }
static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

/* Container name from the demuxer plus the first bytes of the input. */
static void name_container(const char *base, const io_ctx *io, char *out, size_t outlen) {
  const unsigned char *h = io->head;
  size_t n = io->head_len;
  snprintf(out, outlen, "%s", base);
  if (!strcmp(base, "matroska")) {
    /* EBML header: DocType element 0x4282, then a length vint. */
    for (size_t i = 4; i + 3 < n; i++) {
      if (h[i] != 0x42 || h[i + 1] != 0x82) continue;
      unsigned char b = h[i + 2];
      int len = 1;
      while (len <= 8 && !(b & (0x80 >> (len - 1)))) len++;
      if (len > 8) return;
      uint64_t v = b & (0xFFu >> len);
      size_t p = i + 3;
      for (int k = 1; k < len; k++, p++) {
        if (p >= n) return;
        v = (v << 8) | h[p];
      }
      if (v == 4 && p + 4 <= n && !memcmp(h + p, "webm", 4)) snprintf(out, outlen, "webm");
      return;
    }
  } else if (!strcmp(base, "mp4")) {
    /* A leading ftyp box names the brand: "qt  " is QuickTime, any other
     * is MP4.  Without one (old QuickTime files) it is QuickTime. */
    if (n >= 12 && !memcmp(h + 4, "ftyp", 4)) {
      if (!memcmp(h + 8, "qt  ", 4)) snprintf(out, outlen, "mov");
    } else {
      snprintf(out, outlen, "mov");
    }
  }
}

/* Calls the progress callback with `fraction`, or when it is negative with
 * the share of the source read so far.  Demuxers seek (MP4 reads its index
 * at the end first), so the value is held from going backwards. */
static int report(const scribe_audio_params *p, io_ctx *io, double fraction) {
  if (!p->progress) return 0;
  if (fraction < 0) {
    fraction = 0;
    if (io->src->size > 0) fraction = (double)io->pos / (double)io->src->size;
  }
  if (fraction > 1) fraction = 1;
  if (fraction < io->reported) fraction = io->reported;
  io->reported = fraction;
  return p->progress(p->user_data, fraction);
}

/* ---- decoding ------------------------------------------------------------ */

scribe_audio_params scribe_audio_default_params(void) {
  scribe_audio_params p;
  memset(&p, 0, sizeof(p));
  p.max_seconds = 4 * 3600.0;
  p.sample_rate = 16000;
  return p;
}

/* Receives every frame the decoder has ready into s.  Decode errors and
 * unusable frames are counted in *damaged and skipped; only errors that end
 * the whole decode (too long, out of memory) are returned. */
static int drain(AVCodecContext *cc, AVFrame *frame, sink *s, int *damaged) {
  for (;;) {
    int r = avcodec_receive_frame(cc, frame);
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return SCRIBE_OK;
    if (r < 0) {
      (*damaged)++;
      return SCRIBE_OK;
    }
    int rc = sink_frame(s, frame);
    av_frame_unref(frame);
    if (rc == SCRIBE_EBADAUDIO) {
      (*damaged)++;
      continue;
    }
    if (rc) return rc;
  }
}

int scribe_audio_decode(const scribe_audio_source *src, const scribe_audio_params *params,
                        scribe_audio **out, char *err, size_t errlen) {
  int rc;
  io_ctx io;
  sink s;
  AVIOContext *avio = NULL;
  AVFormatContext *fc = NULL;
  AVCodecContext *cc = NULL;
  AVPacket *pkt = NULL;
  AVFrame *frame = NULL;
  unsigned char *iobuf = NULL;
  scribe_audio *a = NULL;
  int damaged = 0;
  const char *base = NULL;

  memset(&io, 0, sizeof(io));
  memset(&s, 0, sizeof(s));
  if (err && errlen) err[0] = '\0';
  pthread_once(&quiet_once, quiet_ffmpeg);
  if (!out) return fail(SCRIBE_EINVAL, err, errlen, "invalid arguments");
  *out = NULL;
  if (!src || !src->read) return fail(SCRIBE_EINVAL, err, errlen, "invalid arguments");
  scribe_audio_params p = params ? *params : scribe_audio_default_params();
  if (!isfinite(p.max_seconds) || p.max_seconds <= 0 || p.max_seconds > MAX_LIMIT_SECONDS ||
      p.sample_rate < MIN_OUT_RATE || p.sample_rate > MAX_OUT_RATE)
    return fail(SCRIBE_EINVAL, err, errlen, "invalid audio parameters");
  if (src->size == 0) return fail(SCRIBE_ENOAUDIO, err, errlen, "empty file");

  /* The sample cap must fit in size_t bytes (only a concern on 32-bit). */
  if (p.max_seconds * p.sample_rate > (double)(SIZE_MAX / sizeof(int16_t) / 2))
    return fail(SCRIBE_EINVAL, err, errlen, "invalid audio parameters");
  s.out_rate = p.sample_rate;
  s.limit = (size_t)ceil(p.max_seconds * p.sample_rate) + (size_t)p.sample_rate / 20;
  io.src = src;

  iobuf = av_malloc(IO_BUF_SIZE);
  if (!iobuf) goto nomem;
  avio = avio_alloc_context(iobuf, IO_BUF_SIZE, 0, &io, io_read, NULL,
                            src->seek ? io_seek : NULL);
  if (!avio) goto nomem;
  iobuf = NULL; /* owned by avio now (it may reallocate it) */

  /* The format comes from the bytes alone: no file name is passed. */
  const AVInputFormat *ifmt = NULL;
  int score = av_probe_input_buffer2(avio, &ifmt, "", NULL, 0, 0);
  if (io.src_err) goto source_error;
  if (io.total_read == 0) {
    rc = fail(SCRIBE_ENOAUDIO, err, errlen, "empty file");
    goto done;
  }
  if (score >= MIN_PROBE_SCORE && ifmt) {
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
      if (!strcmp(ifmt->name, allowed[i].demuxer)) base = allowed[i].format;
  }
  if (!base) {
    LOG_DEBUG("audio: rejected input (probe=%s score=%d)", ifmt ? ifmt->name : "none", score);
    rc = fail(SCRIBE_EBADAUDIO, err, errlen, "not a recognised audio format");
    goto done;
  }

  fc = avformat_alloc_context();
  if (!fc) goto nomem;
  fc->pb = avio;
  fc->flags |= AVFMT_FLAG_CUSTOM_IO;
  fc->io_open = deny_io_open;
  fc->format_whitelist = av_strdup(FORMAT_WHITELIST);
  if (!fc->format_whitelist) goto nomem;
  int r = avformat_open_input(&fc, NULL, ifmt, NULL); /* frees fc on failure */
  if (io.src_err) goto source_error;
  /* Even ENOMEM here is the file's doing (a header claiming a huge chunk),
   * so every failure is reported as damage, never as a retryable error. */
  if (r < 0) {
    rc = fail(SCRIBE_EBADAUDIO, err, errlen, "damaged or incomplete audio file");
    goto done;
  }

  int idx = -1;
  for (unsigned i = 0; i < fc->nb_streams; i++) {
    if (idx < 0 && fc->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
      idx = (int)i;
    else
      fc->streams[i]->discard = AVDISCARD_ALL;
  }
  if (idx < 0) {
    rc = fail(SCRIBE_EBADAUDIO, err, errlen, "the file contains no audio stream");
    goto done;
  }
  AVStream *st = fc->streams[idx];
  const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
  if (!codec) {
    rc = fail(SCRIBE_EBADAUDIO, err, errlen, "unsupported audio codec");
    goto done;
  }
  cc = avcodec_alloc_context3(codec);
  if (!cc) goto nomem;
  if (avcodec_parameters_to_context(cc, st->codecpar) < 0) goto nomem;
  cc->pkt_timebase = st->time_base;
  cc->thread_count = 1; /* parallelism comes from concurrent jobs */
  if (avcodec_open2(cc, codec, NULL) < 0) {
    rc = fail(SCRIBE_EBADAUDIO, err, errlen, "damaged or unsupported audio stream");
    goto done;
  }

  pkt = av_packet_alloc();
  frame = av_frame_alloc();
  if (!pkt || !frame) goto nomem;

  unsigned long npackets = 0;
  int read_errors = 0;
  int64_t error_pos = -1;
  for (;;) {
    r = av_read_frame(fc, pkt);
    if (io.src_err) goto source_error;
    if (r == AVERROR_EOF) break;
    if (r < 0) {
      /* Corrupt or truncated: skip ahead while the demuxer makes progress,
       * keeping what decodes; give up when it is stuck or it repeats. */
      damaged++;
      int64_t at = avio_tell(fc->pb);
      if (avio_feof(fc->pb) || at <= error_pos || ++read_errors > MAX_READ_ERRORS) break;
      error_pos = at;
      continue;
    }
    if (++npackets % PROGRESS_EVERY == 0 && report(&p, &io, -1)) {
      rc = fail(SCRIBE_ECANCELED, err, errlen, "canceled");
      goto done;
    }
    if (pkt->stream_index != idx) {
      av_packet_unref(pkt);
      continue;
    }
    r = avcodec_send_packet(cc, pkt);
    av_packet_unref(pkt);
    if (r < 0 && r != AVERROR(EAGAIN)) damaged++;
    rc = drain(cc, frame, &s, &damaged);
    if (rc) goto sink_error;
  }
  if (avcodec_send_packet(cc, NULL) >= 0) {
    rc = drain(cc, frame, &s, &damaged);
    if (rc) goto sink_error;
  }
  if (s.swr) {
    rc = sink_convert(&s, NULL, 0);
    if (rc) goto sink_error;
  }

  double seconds = (double)s.nsamples / s.out_rate;
  if (s.nsamples == 0) {
    if (damaged)
      rc = fail(SCRIBE_EBADAUDIO, err, errlen, "damaged or incomplete audio file");
    else
      rc = fail(SCRIBE_ENOAUDIO, err, errlen, "no audio samples");
    goto done;
  }
  if (damaged && seconds < DAMAGED_MIN_SECONDS) {
    rc = fail(SCRIBE_EBADAUDIO, err, errlen, "damaged or incomplete audio file");
    goto done;
  }
  if (report(&p, &io, 1.0)) {
    rc = fail(SCRIBE_ECANCELED, err, errlen, "canceled");
    goto done;
  }

  a = calloc(1, sizeof(*a));
  if (!a) goto nomem;
  if (s.cap > s.nsamples) { /* give back the growth slack */
    int16_t *shrunk = realloc(s.samples, s.nsamples * sizeof(*shrunk));
    if (shrunk) s.samples = shrunk;
  }
  a->samples = s.samples;
  s.samples = NULL;
  a->nsamples = s.nsamples;
  a->sample_rate = s.out_rate;
  a->channels = 1;
  a->duration = seconds;
  name_container(base, &io, a->format, sizeof(a->format));
  snprintf(a->codec, sizeof(a->codec), "%s", avcodec_get_name(st->codecpar->codec_id));
  if (damaged)
    LOG_WARN("audio: damaged %s/%s stream, kept %.1f s (%d errors)", a->format, a->codec,
             seconds, damaged);
  else
    LOG_DEBUG("audio: decoded %.1f s of %s/%s", seconds, a->format, a->codec);
  *out = a;
  a = NULL;
  rc = SCRIBE_OK;
  goto done;

sink_error:
  if (rc == SCRIBE_ETOOLONG && p.max_seconds >= 120)
    rc = fail(rc, err, errlen, "the recording is longer than the limit of %.0f minutes",
              p.max_seconds / 60);
  else if (rc == SCRIBE_ETOOLONG)
    rc = fail(rc, err, errlen, "the recording is longer than the limit of %.0f seconds",
              p.max_seconds);
  else if (rc == SCRIBE_ENOMEM)
    goto nomem;
  else
    rc = fail(SCRIBE_EBADAUDIO, err, errlen, "damaged or unsupported audio stream");
  goto done;
source_error:
  rc = fail(io.src_err, err, errlen, "could not read the audio: %s",
            scribe_strerror(io.src_err));
  goto done;
nomem:
  rc = fail(SCRIBE_ENOMEM, err, errlen, "out of memory");
done:
  av_frame_free(&frame);
  av_packet_free(&pkt);
  avcodec_free_context(&cc);
  avformat_close_input(&fc); /* leaves the custom avio alone */
  if (avio) av_freep(&avio->buffer);
  avio_context_free(&avio);
  av_free(iobuf);
  sink_drop_swr(&s);
  free(s.samples);
  free(s.tmp);
  scribe_audio_free(a);
  return rc;
}

void scribe_audio_free(scribe_audio *a) {
  if (!a) return;
  free(a->samples);
  free(a);
}

/* ---- convenience sources ---------------------------------------------- */

static long fd_read(void *ud, void *buf, size_t n) {
  int fd = *(int *)ud;
  for (;;) {
    ssize_t r = read(fd, buf, n);
    if (r >= 0) return (long)r;
    if (errno != EINTR) return SCRIBE_EIO;
  }
}

static int64_t fd_seek(void *ud, int64_t off, int whence) {
  off_t r = lseek(*(int *)ud, (off_t)off, whence);
  if (r < 0) return errno == EINVAL ? SCRIBE_EINVAL : SCRIBE_EIO;
  return (int64_t)r;
}

int scribe_audio_decode_file(const char *path, const scribe_audio_params *p, scribe_audio **out,
                             char *err, size_t errlen) {
  if (out) *out = NULL;
  if (!path || !out) return fail(SCRIBE_EINVAL, err, errlen, "invalid arguments");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return fail(e == ENOENT ? SCRIBE_ENOTFOUND : SCRIBE_EIO, err, errlen,
                e == ENOENT ? "file not found" : "cannot open the file");
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0 || S_ISDIR(sb.st_mode)) {
    close(fd);
    return fail(SCRIBE_EIO, err, errlen, "cannot read the file");
  }
  bool regular = S_ISREG(sb.st_mode);
  scribe_audio_source src = {&fd, fd_read, regular ? fd_seek : NULL,
                             regular ? (int64_t)sb.st_size : -1};
  int rc = scribe_audio_decode(&src, p, out, err, errlen);
  close(fd);
  return rc;
}

typedef struct {
  const unsigned char *data;
  size_t len, pos;
} mem_src;

static long mem_read(void *ud, void *buf, size_t n) {
  mem_src *m = ud;
  if (m->pos >= m->len) return 0;
  size_t k = m->len - m->pos;
  if (k > n) k = n;
  if (k > LONG_MAX) k = LONG_MAX;
  memcpy(buf, m->data + m->pos, k);
  m->pos += k;
  return (long)k;
}

static int64_t mem_seek(void *ud, int64_t off, int whence) {
  mem_src *m = ud;
  int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)m->pos
               : whence == SEEK_END ? (int64_t)m->len : -1;
  if (base < 0) return SCRIBE_EINVAL;
  if ((off < 0 && off < -base) || (off > 0 && off > INT64_MAX - base)) return SCRIBE_EINVAL;
  m->pos = (size_t)(base + off); /* past the end is allowed; reads give 0 */
  return base + off;
}

int scribe_audio_decode_memory(const void *data, size_t len, const scribe_audio_params *p,
                               scribe_audio **out, char *err, size_t errlen) {
  if (out) *out = NULL;
  if ((!data && len) || !out) return fail(SCRIBE_EINVAL, err, errlen, "invalid arguments");
  mem_src m = {data, len, 0};
  scribe_audio_source src = {&m, mem_read, mem_seek, (int64_t)len};
  return scribe_audio_decode(&src, p, out, err, errlen);
}

int scribe_audio_preload(char *err, size_t errlen) {
  (void)err;
  (void)errlen;
  return SCRIBE_OK;
}

/* For the module build: the loader passes the program's log level on. */
void scribe_audio_module_init(int log_level);
void scribe_audio_module_init(int log_level) { scribe_log_set_level(log_level); }
