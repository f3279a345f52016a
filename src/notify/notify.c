/*
 * notify.c - registry of notification backends and the checked wrappers
 * every caller goes through.
 */
#include "notify/notify.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/registry.h"

extern const scribe_notify_backend scribe_notify_local;
extern const scribe_notify_backend scribe_notify_sqlite;
extern const scribe_notify_backend scribe_notify_postgres;

/* NULL-terminated; the first entry is the default. */
static const scribe_notify_backend *const backends[] = {
    &scribe_notify_local,
    &scribe_notify_sqlite,
    &scribe_notify_postgres,
    NULL,
};

scribe_notify_params scribe_notify_default_params(void) {
  scribe_notify_params p;
  memset(&p, 0, sizeof(p));
  return p;
}

const scribe_notify_backend *scribe_notify_find(const char *name) {
  return scribe_registry_find((const void *const *)backends, name);
}

void scribe_notify_names(char *buf, size_t len) {
  scribe_registry_names((const void *const *)backends, buf, len);
}

scribe_notify *scribe_notify_create(const char *name, const scribe_notify_params *p, char *err,
                                    size_t errlen) {
  char tmp[8];
  if (!err) {
    err = tmp;
    errlen = sizeof(tmp);
  }
  if (errlen) err[0] = '\0';
  const scribe_notify_backend *b = scribe_notify_find(name);
  if (!b) {
    char names[256];
    scribe_notify_names(names, sizeof(names));
    snprintf(err, errlen, "unknown notify backend '%s' (compiled in: %s)", name ? name : "",
             names);
    return NULL;
  }
  scribe_notify_params def = scribe_notify_default_params();
  scribe_notify *n = b->create(p ? p : &def, err, errlen);
  if (n) n->backend = b;
  return n;
}

void scribe_notify_free(scribe_notify *n) {
  if (n) n->backend->free(n);
}

int scribe_notify_publish(scribe_notify *n, const char *key, const char *event_json) {
  if (!n || !key || !event_json) return SCRIBE_EINVAL;
  return n->backend->publish(n, key, event_json);
}

int scribe_notify_subscribe(scribe_notify *n, scribe_notify_fn fn, void *user_data, uint64_t *id) {
  if (!n || !fn || !id) return SCRIBE_EINVAL;
  return n->backend->subscribe(n, fn, user_data, id);
}

void scribe_notify_unsubscribe(scribe_notify *n, uint64_t id) {
  if (n) n->backend->unsubscribe(n, id);
}
