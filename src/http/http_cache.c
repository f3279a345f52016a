#include "http/http_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
  pthread_mutex_t mu;
  char *key;
  int64_t version;
  char *body;
  size_t len;
} slot;

struct scribe_http_cache {
  size_t nslots;
  size_t max_entry;
  slot *slots;
};

/* FNV-1a */
static size_t hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (size_t)h;
}

static void clear(slot *s) {
  if (s->body) memset(s->body, 0, s->len); /* patient data: do not leave it in freed memory */
  free(s->body);
  free(s->key);
  s->body = NULL;
  s->key = NULL;
  s->len = 0;
  s->version = 0;
}

scribe_http_cache *scribe_http_cache_create(size_t slots, size_t max_entry) {
  if (slots == 0) return NULL;
  scribe_http_cache *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->slots = calloc(slots, sizeof(*c->slots));
  if (!c->slots) {
    free(c);
    return NULL;
  }
  c->nslots = slots;
  c->max_entry = max_entry;
  for (size_t i = 0; i < slots; i++) pthread_mutex_init(&c->slots[i].mu, NULL);
  return c;
}

void scribe_http_cache_free(scribe_http_cache *c) {
  if (!c) return;
  for (size_t i = 0; i < c->nslots; i++) {
    clear(&c->slots[i]);
    pthread_mutex_destroy(&c->slots[i].mu);
  }
  free(c->slots);
  free(c);
}

char *scribe_http_cache_get(scribe_http_cache *c, const char *key, int64_t version, size_t *len) {
  if (!c) return NULL;
  slot *s = &c->slots[hash(key) % c->nslots];
  char *out = NULL;
  pthread_mutex_lock(&s->mu);
  if (s->key && s->version == version && strcmp(s->key, key) == 0) {
    out = malloc(s->len ? s->len : 1);
    if (out) {
      memcpy(out, s->body, s->len);
      *len = s->len;
    }
  }
  pthread_mutex_unlock(&s->mu);
  return out;
}

void scribe_http_cache_put(scribe_http_cache *c, const char *key, int64_t version,
                           const char *body, size_t len) {
  if (!c || len > c->max_entry) return;
  char *k = strdup(key);
  char *b = malloc(len ? len : 1);
  if (!k || !b) {
    free(k);
    free(b);
    return;
  }
  memcpy(b, body, len);
  slot *s = &c->slots[hash(key) % c->nslots];
  pthread_mutex_lock(&s->mu);
  clear(s);
  s->key = k;
  s->body = b;
  s->len = len;
  s->version = version;
  pthread_mutex_unlock(&s->mu);
}

void scribe_http_cache_drop(scribe_http_cache *c, const char *key) {
  if (!c) return;
  slot *s = &c->slots[hash(key) % c->nslots];
  pthread_mutex_lock(&s->mu);
  if (s->key && strcmp(s->key, key) == 0) clear(s);
  pthread_mutex_unlock(&s->mu);
}
