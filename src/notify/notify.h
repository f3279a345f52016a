/*
 * notify.h - fan-out of job events to subscribers (WebSocket connections).
 *
 * Events are JSON texts such as
 *   {"type":"progress","audioKey":K,"stage":"transcribing","percent":40}
 * published under the audio key.  The `local` backend delivers within one
 * process; a PostgreSQL LISTEN/NOTIFY backend carries them between servers
 * behind the same interface.
 *
 * Callbacks run on the publisher's thread (or the backend's listener
 * thread) and must not block: copy the event and return.  After
 * scribe_notify_unsubscribe() returns, the callback is never called again
 * (unsubscribe waits for deliveries in progress), so a callback must not
 * subscribe or unsubscribe itself; it may publish.
 */
#ifndef SCRIBE_NOTIFY_H
#define SCRIBE_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

typedef void (*scribe_notify_fn)(void *user_data, const char *key, const char *event_json);

typedef struct scribe_notify_backend scribe_notify_backend;
typedef struct scribe_notify {
  const scribe_notify_backend *backend;
} scribe_notify;

typedef struct scribe_notify_params {
  const char *conninfo; /* for networked backends; unused by local */
} scribe_notify_params;

struct scribe_notify_backend {
  int version; /* 1 */
  const char *name;
  scribe_notify *(*create)(const scribe_notify_params *p, char *err, size_t errlen);
  void (*free)(scribe_notify *n);
  int (*publish)(scribe_notify *n, const char *key, const char *event_json);
  int (*subscribe)(scribe_notify *n, scribe_notify_fn fn, void *user_data, uint64_t *id);
  void (*unsubscribe)(scribe_notify *n, uint64_t id);
};

scribe_notify_params scribe_notify_default_params(void);
const scribe_notify_backend *scribe_notify_find(const char *name);
void scribe_notify_names(char *buf, size_t len);
scribe_notify *scribe_notify_create(const char *name, const scribe_notify_params *p, char *err,
                                    size_t errlen);
void scribe_notify_free(scribe_notify *n);
/* Delivers event_json for key to every subscriber. */
int scribe_notify_publish(scribe_notify *n, const char *key, const char *event_json);
/* Registers fn for every event (subscribers filter by key themselves);
 * *id identifies the subscription. */
int scribe_notify_subscribe(scribe_notify *n, scribe_notify_fn fn, void *user_data, uint64_t *id);
void scribe_notify_unsubscribe(scribe_notify *n, uint64_t id);

#endif
