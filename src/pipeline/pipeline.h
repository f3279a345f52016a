/*
 * pipeline.h - the processing of one recording and the worker pool.
 *
 * One job: claim -> fetch audio -> decode -> transcribe -> extract ->
 * store -> notify -> delete audio (unless keep_audio; kept when the job
 * fails) -> acknowledge.  Transient errors (scribe_err_transient) are
 * retried with backoff by the queue; permanent ones (undecodable audio)
 * fail the job at once with a reason the user sees.
 */
#ifndef SCRIBE_PIPELINE_H
#define SCRIBE_PIPELINE_H

#include <jansson.h>
#include <stdbool.h>

#include "audio/audio.h"
#include "extract/extract.h"
#include "pipeline/app.h"
#include "stt/stt.h"

/* Progress of one recording: stage is "decoding", "transcribing" or
 * "extracting"; percent covers the whole job.  Return nonzero to cancel. */
typedef int (*scribe_pipeline_progress_fn)(void *user_data, const char *stage, int percent);

/* Engines a worker thread owns (stt is not shared between threads;
 * extract is immutable and may be shared). */
typedef struct scribe_engines {
  scribe_stt *stt;
  scribe_extract *extract;
  /* Non-empty when the configured stt engine could not be created and
   * PocketSphinx runs instead: why (no secrets).  Results record it. */
  char stt_fallback[256];
} scribe_engines;

/* Loads the engines named in cfg.  On failure err says which and why. */
int scribe_engines_open(scribe_engines *e, const scribe_config *cfg, scribe_extract *shared_extract,
                        char *err, size_t errlen);
void scribe_engines_close(scribe_engines *e, bool free_extract);

/* Runs decode + transcribe + extract over a source and returns the result
 * fields (transcript, segments, extraction fields, engine, timings) in
 * *fields (caller json_decref()s).  err gets a user-facing reason. */
int scribe_pipeline_run(scribe_engines *e, const scribe_config *cfg,
                        const scribe_audio_source *src, scribe_pipeline_progress_fn progress,
                        void *user_data, json_t **fields, char *err, size_t errlen);

/* Processes one claimed job end to end, including the queue acknowledge.
 * `stop` (may be NULL) is polled: when it becomes true the job is canceled
 * and released back to the queue. */
int scribe_pipeline_process_job(scribe_app *app, scribe_engines *e, scribe_job *job,
                                volatile int *stop);

/* Re-queues records left queued without a job (crash between the status
 * update and the push).  Safe to run at every start. */
int scribe_pipeline_recover(scribe_app *app);

typedef struct scribe_workers scribe_workers;
/* Starts n worker threads, each with its own engines.  Returns NULL and a
 * message when the engines cannot load. */
scribe_workers *scribe_workers_start(scribe_app *app, int n, char *err, size_t errlen);
/* Stops claiming, cancels and releases jobs in progress, joins the
 * threads.  NULL is fine. */
void scribe_workers_stop(scribe_workers *w);
/* Jobs finished (completed or failed) by the pool so far. */
long scribe_workers_done(const scribe_workers *w);

#endif
