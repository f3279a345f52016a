/*
 * notify_local.c - backend "local": in-process fan-out.
 *
 * A mutex guards the subscriber table; it is NOT held while callbacks run,
 * so a callback may publish (events nest on the same thread).  Each
 * subscriber counts the publishers currently delivering to it; unsubscribe
 * takes it out of the table, then waits until that count drops to zero, so
 * after it returns the callback never runs again.
 *
 * Consequence: a callback must not subscribe or unsubscribe (unsubscribing
 * its own id from inside the callback would wait for itself forever).
 * Callbacks run on the publisher's thread and must not block.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "notify/notify.h"

/* Publishing to up to this many subscribers needs no allocation. */
#define SNAPSHOT_STACK 32

typedef struct sub {
  uint64_t id;
  scribe_notify_fn fn;
  void *user_data;
  int inflight;        /* publishers holding this sub; guarded by mu */
  atomic_bool removed; /* set by unsubscribe; read without the lock */
} sub;

typedef struct local_notify {
  scribe_notify base;
  pthread_mutex_t mu;
  pthread_cond_t idle; /* some sub's inflight dropped to zero */
  sub **subs;
  size_t n, cap;
  uint64_t next_id;
} local_notify;

extern const scribe_notify_backend scribe_notify_local;

static scribe_notify *local_create(const scribe_notify_params *p, char *err, size_t errlen) {
  local_notify *n = calloc(1, sizeof(*n));
  if (!n) {
    snprintf(err, errlen, "notify local: out of memory");
    return NULL;
  }
  n->base.backend = &scribe_notify_local;
  pthread_mutex_init(&n->mu, NULL);
  pthread_cond_init(&n->idle, NULL);
  n->next_id = 1;
  return &n->base;
}

/* The caller guarantees that no publish, subscribe or unsubscribe runs. */
static void local_free(scribe_notify *base) {
  local_notify *n = (local_notify *)base;
  for (size_t i = 0; i < n->n; i++) free(n->subs[i]);
  free(n->subs);
  pthread_cond_destroy(&n->idle);
  pthread_mutex_destroy(&n->mu);
  free(n);
}

static int local_publish(scribe_notify *base, const char *key, const char *event_json) {
  local_notify *n = (local_notify *)base;
  sub *stack[SNAPSHOT_STACK];
  sub **snap = stack;
  pthread_mutex_lock(&n->mu);
  size_t count = n->n;
  if (count > SNAPSHOT_STACK) {
    snap = count <= SIZE_MAX / sizeof(*snap) ? malloc(count * sizeof(*snap)) : NULL;
    if (!snap) {
      pthread_mutex_unlock(&n->mu);
      return SCRIBE_ENOMEM;
    }
  }
  for (size_t i = 0; i < count; i++) {
    snap[i] = n->subs[i];
    snap[i]->inflight++;
  }
  pthread_mutex_unlock(&n->mu);

  for (size_t i = 0; i < count; i++) {
    sub *s = snap[i];
    /* Skip subscribers removed since the snapshot (their unsubscribe is
     * waiting for us); a call already started is allowed to finish. */
    if (!atomic_load(&s->removed)) s->fn(s->user_data, key, event_json);
    pthread_mutex_lock(&n->mu);
    if (--s->inflight == 0 && atomic_load(&s->removed)) pthread_cond_broadcast(&n->idle);
    pthread_mutex_unlock(&n->mu);
  }
  if (snap != stack) free(snap);
  return SCRIBE_OK;
}

static int local_subscribe(scribe_notify *base, scribe_notify_fn fn, void *user_data,
                           uint64_t *id) {
  local_notify *n = (local_notify *)base;
  sub *s = calloc(1, sizeof(*s));
  if (!s) return SCRIBE_ENOMEM;
  s->fn = fn;
  s->user_data = user_data;
  atomic_init(&s->removed, false);
  pthread_mutex_lock(&n->mu);
  if (n->n == n->cap) {
    size_t cap = n->cap ? n->cap * 2 : 16;
    sub **grown = cap <= SIZE_MAX / sizeof(*grown) ? realloc(n->subs, cap * sizeof(*grown)) : NULL;
    if (!grown) {
      pthread_mutex_unlock(&n->mu);
      free(s);
      return SCRIBE_ENOMEM;
    }
    n->subs = grown;
    n->cap = cap;
  }
  s->id = n->next_id++;
  n->subs[n->n++] = s;
  *id = s->id;
  pthread_mutex_unlock(&n->mu);
  return SCRIBE_OK;
}

static void local_unsubscribe(scribe_notify *base, uint64_t id) {
  local_notify *n = (local_notify *)base;
  pthread_mutex_lock(&n->mu);
  sub *s = NULL;
  for (size_t i = 0; i < n->n; i++) {
    if (n->subs[i]->id == id) {
      s = n->subs[i];
      memmove(&n->subs[i], &n->subs[i + 1], (n->n - i - 1) * sizeof(*n->subs));
      n->n--;
      break;
    }
  }
  if (s) {
    atomic_store(&s->removed, true);
    while (s->inflight > 0) pthread_cond_wait(&n->idle, &n->mu);
  }
  pthread_mutex_unlock(&n->mu);
  free(s);
}

const scribe_notify_backend scribe_notify_local = {
    .version = 1,
    .name = "local",
    .create = local_create,
    .free = local_free,
    .publish = local_publish,
    .subscribe = local_subscribe,
    .unsubscribe = local_unsubscribe,
};
