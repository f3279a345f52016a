#include "pipeline/pipeline.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/buf.h"
#include "core/log.h"

/* ---- engines ---------------------------------------------------------- */

int scribe_engines_open(scribe_engines *e, const scribe_config *cfg, scribe_extract *shared_extract,
                        char *err, size_t errlen) {
  memset(e, 0, sizeof(*e));
  if (scribe_audio_preload(err, errlen)) return SCRIBE_ECONFIG;
  /* The pocketsphinx_* keys go to PocketSphinx only, the stt_* keys to the
   * remote engines. */
  scribe_stt_params ps = scribe_stt_default_params();
  ps.model_dir = cfg->pocketsphinx_model;
  ps.lm = cfg->pocketsphinx_lm;
  ps.dict = cfg->pocketsphinx_dict;
  ps.domain = cfg->pocketsphinx_domain ? 0 : -1; /* on: when the build made its files */
  scribe_stt_params sp = scribe_stt_default_params();
  sp.url = cfg->stt_url;
  sp.api_key = cfg->stt_api_key;
  sp.model_name = cfg->stt_model;
  sp.language = cfg->stt_language;
  sp.prompt = cfg->stt_prompt;
  sp.timeout_ms = cfg->stt_timeout > INT_MAX / 1000 ? INT_MAX : (int)(cfg->stt_timeout * 1000);
  int is_ps = strcmp(cfg->stt, "pocketsphinx") == 0;
  e->stt = scribe_stt_create(cfg->stt, is_ps ? &ps : &sp, err, errlen);
  /* Fallback: a compiled-in engine other than PocketSphinx that cannot be
   * created (no stt_url, ...) is replaced by PocketSphinx, with a warning and
   * a note in every result.  An unknown engine name stays a configuration
   * error, and so do failures at transcription time (a remote server that is
   * down fails the job with a transient error; the worker retries it). */
  if (!e->stt && !is_ps && scribe_stt_find(cfg->stt)) {
    snprintf(e->stt_fallback, sizeof(e->stt_fallback), "%s", err && *err ? err : "create failed");
    LOG_WARN("stt: engine \"%s\" unavailable (%s); falling back to pocketsphinx", cfg->stt,
             e->stt_fallback);
    e->stt = scribe_stt_create("pocketsphinx", &ps, err, errlen);
  }
  if (!e->stt) return SCRIBE_ECONFIG;
  if (shared_extract) {
    e->extract = shared_extract;
  } else {
    scribe_extract_params xp = scribe_extract_default_params();
    xp.lexicon_dir = *cfg->lexicon_dir ? cfg->lexicon_dir : NULL;
    e->extract = scribe_extract_create(cfg->extractor, &xp, err, errlen);
    if (!e->extract) {
      scribe_stt_free(e->stt);
      e->stt = NULL;
      return SCRIBE_ECONFIG;
    }
  }
  return SCRIBE_OK;
}

void scribe_engines_close(scribe_engines *e, bool free_extract) {
  scribe_stt_free(e->stt);
  if (free_extract) scribe_extract_free(e->extract);
  e->stt = NULL;
  e->extract = NULL;
}

/* ---- one recording ---------------------------------------------------- */

typedef struct {
  scribe_pipeline_progress_fn fn;
  void *ud;
  const char *stage;
  int lo, hi; /* percent range of the current stage */
} progress_ctx;

static int stage_progress(void *ud, double fraction) {
  progress_ctx *p = ud;
  if (!p->fn) return 0;
  if (fraction < 0) fraction = 0;
  if (fraction > 1) fraction = 1;
  return p->fn(p->ud, p->stage, p->lo + (int)((p->hi - p->lo) * fraction));
}

int scribe_pipeline_run(scribe_engines *e, const scribe_config *cfg,
                        const scribe_audio_source *src, scribe_pipeline_progress_fn progress,
                        void *user_data, json_t **fields, char *err, size_t errlen) {
  int rc;
  scribe_audio *audio = NULL;
  scribe_stt_result stt = {0};
  json_t *out = NULL, *ex = NULL;
  const char **texts = NULL;
  progress_ctx pc = {progress, user_data, "decoding", 0, 10};
  int64_t t0 = scribe_mono_ms();

  scribe_audio_params ap = scribe_audio_default_params();
  ap.max_seconds = (double)cfg->audio_max_seconds;
  ap.progress = stage_progress;
  ap.user_data = &pc;
  stage_progress(&pc, 0);
  rc = scribe_audio_decode(src, &ap, &audio, err, errlen);
  if (rc) goto done;
  int64_t t1 = scribe_mono_ms();

  pc.stage = "transcribing";
  pc.lo = 10;
  pc.hi = 90;
  if (stage_progress(&pc, 0)) {
    rc = SCRIBE_ECANCELED;
    goto done;
  }
  rc = scribe_stt_transcribe(e->stt, audio->samples, audio->nsamples, audio->sample_rate,
                             stage_progress, &pc, &stt, err, errlen);
  if (rc) goto done;
  int64_t t2 = scribe_mono_ms();

  pc.stage = "extracting";
  pc.lo = 90;
  pc.hi = 99;
  if (stage_progress(&pc, 0)) {
    rc = SCRIBE_ECANCELED;
    goto done;
  }
  out = json_object();
  json_t *segs = json_array();
  texts = calloc(stt.nsegments ? stt.nsegments : 1, sizeof(*texts));
  if (!out || !segs || !texts) {
    json_decref(segs);
    rc = SCRIBE_ENOMEM;
    goto done;
  }
  scribe_buf transcript;
  scribe_buf_init(&transcript, (size_t)1 << 30);
  for (size_t i = 0; i < stt.nsegments; i++) {
    const scribe_stt_segment *s = &stt.segments[i];
    texts[i] = s->text;
    json_t *o = json_pack("{s:f,s:f,s:s}", "start", s->start, "end", s->end, "text", s->text);
    if (o) json_array_append_new(segs, o);
    if (i) scribe_buf_append(&transcript, "\n", 1);
    scribe_buf_appends(&transcript, s->text);
  }
  json_object_set_new(out, "transcript",
                      json_stringn(transcript.data ? transcript.data : "", transcript.len));
  scribe_buf_release(&transcript);
  json_object_set_new(out, "segments", segs);

  rc = scribe_extract_segments(e->extract, texts, stt.nsegments, &ex, err, errlen);
  if (rc) goto done;
  json_object_update(out, ex);
  int64_t t3 = scribe_mono_ms();

  json_object_set_new(
      out, "engine",
      json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s}}", "stt", scribe_stt_name(e->stt), "extractor",
                scribe_extract_name(e->extract), "versions", "scribe", SCRIBE_VERSION, "stt_model",
                stt.model, "stt_engine", stt.engine, "extractor",
                scribe_extract_version(e->extract)));
  if (e->stt_fallback[0]) {
    json_t *eo = json_object_get(out, "engine");
    json_object_set_new(eo, "fallback", json_true());
    json_object_set_new(eo, "fallback_from", json_string(cfg->stt));
    json_object_set_new(eo, "fallback_reason", json_string(e->stt_fallback));
  }
  json_object_set_new(out, "timings",
                      json_pack("{s:f,s:I,s:I,s:I,s:I}", "audio_seconds", audio->duration,
                                "decode_ms", (json_int_t)(t1 - t0), "stt_ms",
                                (json_int_t)(t2 - t1), "extract_ms", (json_int_t)(t3 - t2),
                                "total_ms", (json_int_t)(t3 - t0)));
  json_object_set_new(out, "audio_format", json_string(audio->format));
  *fields = out;
  out = NULL;
  rc = SCRIBE_OK;

done:
  free(texts);
  json_decref(ex);
  json_decref(out);
  scribe_stt_result_free(&stt);
  scribe_audio_free(audio);
  return rc;
}

/* ---- one job ---------------------------------------------------------- */

typedef struct {
  scribe_storage_reader *r;
  uint64_t size;
} storage_src;

static long src_read(void *ud, void *buf, size_t n) {
  return scribe_storage_read(((storage_src *)ud)->r, buf, n);
}

static int64_t src_seek(void *ud, int64_t off, int whence) {
  return scribe_storage_seek(((storage_src *)ud)->r, off, whence);
}

typedef struct {
  scribe_app *app;
  scribe_job *job;
  volatile int *stop;
  int64_t last_extend_ms;
  int64_t last_event_ms;
  int last_percent;
  const char *last_stage;
  bool lease_lost;
} job_ctx;

static int job_progress(void *ud, const char *stage, int percent) {
  job_ctx *c = ud;
  if (c->stop && *c->stop) return 1;
  int64_t now = scribe_mono_ms();
  int64_t lease_ms = c->app->cfg->lease_seconds * 1000;
  if (now - c->last_extend_ms > lease_ms / 3) {
    int rc = scribe_queue_extend(c->app->queue, c->job, lease_ms);
    if (rc == SCRIBE_EEXPIRED || rc == SCRIBE_ENOTFOUND) {
      LOG_WARN("job %s lease lost; abandoning", c->job->key);
      c->lease_lost = true;
      return 1;
    }
    c->last_extend_ms = now;
  }
  bool stage_changed = c->last_stage != stage;
  if (stage_changed || (percent != c->last_percent && now - c->last_event_ms >= 250)) {
    scribe_status st = !strcmp(stage, "extracting") ? SCRIBE_STATUS_EXTRACTING
                                                    : SCRIBE_STATUS_TRANSCRIBING;
    scribe_results_set_status(c->app->results, c->job->key, st, percent, NULL);
    json_t *extra = json_pack("{s:s,s:i}", "stage", stage, "percent", percent);
    scribe_app_publish(c->app, c->job->key, "progress", extra);
    json_decref(extra);
    c->last_stage = stage;
    c->last_percent = percent;
    c->last_event_ms = now;
  }
  return 0;
}

static void fail_job(scribe_app *app, const scribe_job *job, const char *reason) {
  scribe_results_set_status(app->results, job->key, SCRIBE_STATUS_FAILED, -1, reason);
  json_t *extra = json_pack("{s:s}", "reason", reason);
  scribe_app_publish(app, job->key, "failed", extra);
  json_decref(extra);
}

int scribe_pipeline_process_job(scribe_app *app, scribe_engines *e, scribe_job *job,
                                volatile int *stop) {
  char obj[SCRIBE_STORAGE_KEY_MAX + 1], err[512] = "";
  json_t *fields = NULL;
  storage_src ss = {0};
  job_ctx ctx = {app, job, stop, scribe_mono_ms(), 0, -1, NULL, false};
  int64_t t0 = scribe_mono_ms();
  int rc = scribe_app_audio_object(job->key, obj, sizeof(obj));
  if (rc) {
    snprintf(err, sizeof(err), "invalid audio key");
    goto done;
  }
  /* A redelivery of a finished job (its acknowledge was lost) or of a
   * deleted consultation: acknowledge it without doing the work again. */
  scribe_status status;
  int64_t version;
  rc = scribe_results_stamp(app->results, job->key, &status, &version);
  if (rc == SCRIBE_ENOTFOUND || (rc == SCRIBE_OK && status == SCRIBE_STATUS_COMPLETED)) {
    LOG_INFO("job key=%s already %s; acknowledged", job->key,
             rc ? "deleted" : "completed");
    scribe_queue_complete(app->queue, job);
    return SCRIBE_OK;
  }
  if (rc) {
    snprintf(err, sizeof(err), "cannot read the consultation: %s", scribe_strerror(rc));
    goto done;
  }
  rc = scribe_storage_open(app->storage, obj, &ss.r, &ss.size);
  if (rc == SCRIBE_ENOTFOUND) {
    snprintf(err, sizeof(err), "the audio for this consultation is missing");
    goto done;
  }
  if (rc) {
    snprintf(err, sizeof(err), "cannot read the audio: %s", scribe_strerror(rc));
    goto done;
  }
  LOG_INFO("job start key=%s attempt=%d bytes=%llu", job->key, job->attempts,
           (unsigned long long)ss.size);
  scribe_audio_source src = {&ss, src_read, src_seek, (int64_t)ss.size};
  rc = scribe_pipeline_run(e, app->cfg, &src, job_progress, &ctx, &fields, err, sizeof(err));
  scribe_storage_close(ss.r);
  ss.r = NULL;
  if (rc) goto done;

  job_progress(&ctx, "extracting", 99);
  if (ctx.lease_lost) {
    rc = SCRIBE_ECANCELED;
    goto done;
  }
  rc = scribe_results_put_result(app->results, job->key, fields);
  if (rc) {
    snprintf(err, sizeof(err), "cannot store the result: %s", scribe_strerror(rc));
    goto done;
  }
  /* Notify with the stored document, so subscribers see what GET shows. */
  json_t *doc = NULL;
  if (scribe_results_get(app->results, job->key, &doc) == SCRIBE_OK) {
    json_t *extra = json_pack("{s:o}", "result", doc);
    scribe_app_publish(app, job->key, "completed", extra);
    json_decref(extra);
  }
  if (!app->cfg->keep_audio) {
    int rr = scribe_storage_remove(app->storage, obj);
    if (rr && rr != SCRIBE_ENOTFOUND) LOG_WARN("job %s: audio not deleted: %s", job->key,
                                               scribe_strerror(rr));
  }
  int ack = scribe_queue_complete(app->queue, job);
  LOG_INFO("job done key=%s ms=%lld", job->key, (long long)(scribe_mono_ms() - t0));
  if (ack)
    LOG_WARN("job %s: acknowledge failed (%s); a redelivery will find it completed", job->key,
             scribe_err_name(ack));
  json_decref(fields);
  return SCRIBE_OK;

done:
  scribe_storage_close(ss.r);
  json_decref(fields);
  if (rc == SCRIBE_ECANCELED) {
    if (ctx.lease_lost) return rc; /* another worker owns it now */
    scribe_queue_release(app->queue, job);
    scribe_results_set_status(app->results, job->key, SCRIBE_STATUS_QUEUED, 0, NULL);
    LOG_INFO("job released key=%s (shutdown)", job->key);
    return rc;
  }
  if (!*err) snprintf(err, sizeof(err), "%s", scribe_strerror(rc));
  if (scribe_err_transient(rc)) {
    bool dead = false;
    scribe_queue_retry(app->queue, job, err, &dead);
    LOG_WARN("job %s attempt %d failed (%s)%s", job->key, job->attempts, scribe_err_name(rc),
             dead ? "; giving up" : "; will retry");
    if (dead) fail_job(app, job, err);
    else scribe_results_set_status(app->results, job->key, SCRIBE_STATUS_QUEUED, 0, NULL);
  } else {
    scribe_queue_fail(app->queue, job, err);
    LOG_WARN("job %s failed permanently (%s)", job->key, scribe_err_name(rc));
    fail_job(app, job, err);
  }
  return rc;
}

int scribe_pipeline_recover(scribe_app *app) {
  char *cursor = NULL;
  int requeued = 0, rc = SCRIBE_OK;
  for (int page = 0; page < 1000; page++) {
    json_t *items = NULL;
    char *next = NULL;
    rc = scribe_results_list(app->results, SCRIBE_STATUS_QUEUED, cursor, 200, &items, &next);
    free(cursor);
    cursor = NULL;
    if (rc) break;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
      const char *key = json_string_value(json_object_get(it, "audio_key"));
      bool created = false;
      if (key && scribe_queue_push(app->queue, key, 0, &created) == SCRIBE_OK && created)
        requeued++;
    }
    json_decref(items);
    if (!next) break;
    cursor = next;
  }
  free(cursor);
  if (requeued) LOG_INFO("recovered %d queued consultations without a job", requeued);
  return rc;
}

/* ---- worker pool ------------------------------------------------------ */

struct scribe_workers {
  scribe_app *app;
  int n;
  pthread_t *threads;
  scribe_engines *engines;
  scribe_extract *extract; /* shared */
  volatile int stop;
  atomic_long done;
};

static void *worker_main(void *arg) {
  void **a = arg;
  scribe_workers *w = a[0];
  scribe_engines *e = a[1];
  free(arg);
  while (!w->stop) {
    scribe_job job;
    int64_t lease = w->app->cfg->lease_seconds * 1000;
    int rc = scribe_queue_claim(w->app->queue, lease, &job);
    if (rc == SCRIBE_ENOTFOUND) {
      scribe_queue_wait(w->app->queue, 1000);
      continue;
    }
    if (rc) {
      LOG_WARN("queue claim failed: %s", scribe_strerror(rc));
      for (int i = 0; i < 10 && !w->stop; i++) usleep(100 * 1000);
      continue;
    }
    rc = scribe_pipeline_process_job(w->app, e, &job, &w->stop);
    if (rc != SCRIBE_ECANCELED) atomic_fetch_add(&w->done, 1);
  }
  return NULL;
}

scribe_workers *scribe_workers_start(scribe_app *app, int n, char *err, size_t errlen) {
  scribe_workers *w = calloc(1, sizeof(*w));
  if (!w) return NULL;
  w->app = app;
  w->threads = calloc((size_t)(n > 0 ? n : 1), sizeof(*w->threads));
  w->engines = calloc((size_t)(n > 0 ? n : 1), sizeof(*w->engines));
  if (!w->threads || !w->engines) goto fail;
  for (int i = 0; i < n; i++) {
    if (scribe_engines_open(&w->engines[i], app->cfg, w->extract, err, errlen)) goto fail;
    if (!w->extract) w->extract = w->engines[i].extract;
    w->n = i + 1;
  }
  scribe_pipeline_recover(app);
  for (int i = 0; i < n; i++) {
    void **arg = malloc(2 * sizeof(void *));
    if (!arg) goto fail_threads;
    arg[0] = w;
    arg[1] = &w->engines[i];
    if (pthread_create(&w->threads[i], NULL, worker_main, arg) != 0) {
      free(arg);
      goto fail_threads;
    }
    continue;
  fail_threads:
    snprintf(err, errlen, "cannot start worker threads");
    w->stop = 1;
    scribe_queue_wake(app->queue);
    for (int j = 0; j < i; j++) pthread_join(w->threads[j], NULL);
    goto fail;
  }
  LOG_INFO("%d worker(s) started", n);
  return w;

fail:
  for (int i = 0; i < w->n; i++) scribe_engines_close(&w->engines[i], false);
  scribe_extract_free(w->extract);
  free(w->threads);
  free(w->engines);
  free(w);
  return NULL;
}

void scribe_workers_stop(scribe_workers *w) {
  if (!w) return;
  w->stop = 1;
  scribe_queue_wake(w->app->queue);
  for (int i = 0; i < w->n; i++) pthread_join(w->threads[i], NULL);
  for (int i = 0; i < w->n; i++) scribe_engines_close(&w->engines[i], false);
  scribe_extract_free(w->extract);
  free(w->threads);
  free(w->engines);
  free(w);
}

long scribe_workers_done(const scribe_workers *w) {
  return w ? atomic_load(&((scribe_workers *)w)->done) : 0;
}
