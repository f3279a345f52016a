/*
 * results.h - one JSON document per audio key, with its processing status.
 *
 * Status moves uploaded -> queued -> transcribing -> extracting ->
 * completed | failed.  The store keeps status, progress, timestamps and
 * error reason in columns and the result fields in a JSON document; get()
 * returns them merged:
 *   {"audio_key":…, "status":…, "stage_percent":…, "created_at":…,
 *    "updated_at":…, "error":…|null, "patient_id":…|null, …result fields…}
 * Timestamps are RFC 3339 UTC strings.
 *
 * Handles are safe to use from several threads; several processes may share
 * one store.
 */
#ifndef SCRIBE_RESULTS_H
#define SCRIBE_RESULTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum scribe_status {
  SCRIBE_STATUS_UPLOADED = 0, /* created; audio may still be arriving */
  SCRIBE_STATUS_QUEUED,
  SCRIBE_STATUS_TRANSCRIBING,
  SCRIBE_STATUS_EXTRACTING,
  SCRIBE_STATUS_COMPLETED,
  SCRIBE_STATUS_FAILED,
  SCRIBE_STATUS_COUNT
} scribe_status;

/* "uploaded", …; NULL for out-of-range values. */
const char *scribe_status_name(scribe_status s);
/* Parses a status name; -1 when unknown. */
int scribe_status_parse(const char *name);

typedef struct scribe_results_backend scribe_results_backend;
typedef struct scribe_results {
  const scribe_results_backend *backend;
} scribe_results;

typedef struct scribe_results_params {
  const char *path;     /* sqlite: database file */
  const char *conninfo; /* postgres: libpq connection string or URL */
} scribe_results_params;

/* Metadata given at creation. */
typedef struct scribe_record_meta {
  const char *patient_id; /* may be NULL; stored, never logged */
  const char *owner;      /* may be NULL (auth off) */
  const char *filename;   /* original file name, may be NULL */
} scribe_record_meta;

struct scribe_results_backend {
  int version; /* 1 */
  const char *name;
  scribe_results *(*create)(const scribe_results_params *p, char *err, size_t errlen);
  void (*free)(scribe_results *r);
  int (*insert)(scribe_results *r, const char *key, const scribe_record_meta *meta);
  int (*get)(scribe_results *r, const char *key, json_t **doc);
  int (*set_status)(scribe_results *r, const char *key, scribe_status st, int percent,
                    const char *error);
  int (*put_result)(scribe_results *r, const char *key, json_t *fields);
  int (*list)(scribe_results *r, int status, const char *cursor, int limit, json_t **items,
              char **next_cursor);
  int (*remove)(scribe_results *r, const char *key);
  int (*stamp)(scribe_results *r, const char *key, scribe_status *status, int64_t *version);
};

scribe_results_params scribe_results_default_params(void);
const scribe_results_backend *scribe_results_find(const char *name);
void scribe_results_names(char *buf, size_t len);

scribe_results *scribe_results_create(const char *name, const scribe_results_params *p,
                                      char *err, size_t errlen);
void scribe_results_free(scribe_results *r); /* NULL is fine */
const char *scribe_results_name(const scribe_results *r);

/* Creates the record for `key` with status uploaded.  SCRIBE_EEXISTS when
 * it exists already (nothing changes). */
int scribe_results_insert(scribe_results *r, const char *key, const scribe_record_meta *meta);
/* The merged document (see above); the caller json_decref()s it.
 * SCRIBE_ENOTFOUND when absent. */
int scribe_results_get(scribe_results *r, const char *key, json_t **doc);
/* Sets status, stage percent (0..100, or -1 to leave) and error reason
 * (NULL clears it).  SCRIBE_ENOTFOUND when absent. */
int scribe_results_set_status(scribe_results *r, const char *key, scribe_status st, int percent,
                              const char *error);
/* Stores the result fields (an object: transcript, segments, medications,
 * …; does not steal the reference) and sets status completed, percent 100,
 * error NULL. */
int scribe_results_put_result(scribe_results *r, const char *key, json_t *fields);
/* Lists records newest first, each a summary {audio_key, status,
 * created_at, updated_at, patient_id, error}.  status = -1 for all.
 * cursor: NULL for the first page, else a value from *next_cursor.
 * *next_cursor is NULL on the last page; the caller free()s it.
 * SCRIBE_EINVAL for a malformed cursor. */
int scribe_results_list(scribe_results *r, int status, const char *cursor, int limit,
                        json_t **items, char **next_cursor);
/* Deletes the record.  SCRIBE_ENOTFOUND when absent. */
int scribe_results_remove(scribe_results *r, const char *key);
/* Cheap check of a record: its status and a version that changes with
 * every write to it (never repeats for a key, even across delete and
 * re-create).  Lets readers cache a serialized document by (key,
 * version).  SCRIBE_ENOTFOUND when absent. */
int scribe_results_stamp(scribe_results *r, const char *key, scribe_status *status,
                         int64_t *version);

#endif
