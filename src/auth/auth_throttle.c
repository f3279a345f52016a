/*
 * auth_throttle.c - failed-login counting per subject (account name or
 * client address) with exponential lockout; see auth.h.  A small fixed
 * table scanned linearly: it is touched once per login attempt only.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

#define SLOTS 2048
#define SUBJECT_MAX 96
#define LOCK_MAX_MS (3600 * 1000LL)

typedef struct {
  char subject[SUBJECT_MAX];
  int failures;
  int64_t locked_until;
  int64_t last_ms;
  bool used;
} slot;

struct scribe_auth_throttle {
  pthread_mutex_t mu;
  int max_failures;
  int64_t base_ms;
  slot slots[SLOTS];
};

scribe_auth_throttle *scribe_auth_throttle_create(int max_failures, int64_t base_ms) {
  if (max_failures < 1 || base_ms < 1) return NULL;
  scribe_auth_throttle *t = calloc(1, sizeof(*t));
  if (!t) return NULL;
  if (pthread_mutex_init(&t->mu, NULL) != 0) {
    free(t);
    return NULL;
  }
  t->max_failures = max_failures;
  t->base_ms = base_ms;
  return t;
}

void scribe_auth_throttle_free(scribe_auth_throttle *t) {
  if (!t) return;
  pthread_mutex_destroy(&t->mu);
  free(t);
}

static slot *find(scribe_auth_throttle *t, const char *subject) {
  for (size_t i = 0; i < SLOTS; i++)
    if (t->slots[i].used && strncmp(t->slots[i].subject, subject, SUBJECT_MAX) == 0)
      return &t->slots[i];
  return NULL;
}

/* A free slot, else the least recently failed unlocked one, else the
 * least recently failed. */
static slot *take(scribe_auth_throttle *t, const char *subject, int64_t now) {
  slot *best = NULL;
  for (size_t i = 0; i < SLOTS; i++) {
    slot *s = &t->slots[i];
    if (!s->used) {
      best = s;
      break;
    }
    bool locked = s->locked_until > now, best_locked = best && best->locked_until > now;
    if (!best || (best_locked && !locked) ||
        (best_locked == locked && s->last_ms < best->last_ms))
      best = s;
  }
  memset(best, 0, sizeof(*best));
  best->used = true;
  size_t n = strlen(subject);
  if (n >= SUBJECT_MAX) n = SUBJECT_MAX - 1;
  memcpy(best->subject, subject, n);
  return best;
}

int64_t scribe_auth_throttle_wait(scribe_auth_throttle *t, const char *subject, int64_t now) {
  if (!t || !subject) return 0;
  pthread_mutex_lock(&t->mu);
  slot *s = find(t, subject);
  int64_t wait = s && s->locked_until > now ? s->locked_until - now : 0;
  pthread_mutex_unlock(&t->mu);
  return wait;
}

void scribe_auth_throttle_fail(scribe_auth_throttle *t, const char *subject, int64_t now) {
  if (!t || !subject) return;
  pthread_mutex_lock(&t->mu);
  slot *s = find(t, subject);
  if (!s) s = take(t, subject, now);
  s->failures++;
  s->last_ms = now;
  if (s->failures >= t->max_failures) {
    int over = s->failures - t->max_failures;
    int64_t lock = t->base_ms;
    for (int i = 0; i < over && lock < LOCK_MAX_MS; i++) lock *= 2;
    if (lock > LOCK_MAX_MS) lock = LOCK_MAX_MS;
    s->locked_until = now + lock;
  }
  pthread_mutex_unlock(&t->mu);
}

void scribe_auth_throttle_ok(scribe_auth_throttle *t, const char *subject) {
  if (!t || !subject) return;
  pthread_mutex_lock(&t->mu);
  slot *s = find(t, subject);
  if (s) memset(s, 0, sizeof(*s));
  pthread_mutex_unlock(&t->mu);
}
