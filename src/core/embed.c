#include "core/embed.h"

#include <string.h>

const scribe_embedded_file *scribe_embed_find(const scribe_embedded_file *table,
                                              const char *path) {
  for (; table && table->path; table++)
    if (strcmp(table->path, path) == 0) return table;
  return NULL;
}
