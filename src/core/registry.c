#include "core/registry.h"

#include <stdio.h>
#include <string.h>

const void *scribe_registry_find(const void *const *table, const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; table[i]; i++)
    if (strcmp(((const scribe_backend_head *)table[i])->name, name) == 0) return table[i];
  return NULL;
}

void scribe_registry_names(const void *const *table, char *buf, size_t len) {
  if (!buf || len == 0) return;
  buf[0] = '\0';
  size_t used = 0;
  for (size_t i = 0; table[i]; i++) {
    const char *name = ((const scribe_backend_head *)table[i])->name;
    int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", name);
    if (n < 0 || (size_t)n >= len - used) return; /* truncated, still NUL-terminated */
    used += (size_t)n;
  }
}
