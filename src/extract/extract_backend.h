/*
 * extract_backend.h - the interface every extraction backend implements
 * (one file per backend, one exported const object each).
 */
#ifndef SCRIBE_EXTRACT_BACKEND_H
#define SCRIBE_EXTRACT_BACKEND_H

#include "extract/extract.h"

typedef struct scribe_extract_backend {
  int version;      /* SCRIBE_EXTRACT_BACKEND_VERSION */
  const char *name; /* registry name, e.g. "rules" */
  /* Creates backend state; NULL on failure with a message in err. */
  void *(*create)(const scribe_extract_params *p, char *err, size_t errlen);
  void (*destroy)(void *state);
  /* Version string owned by state. */
  const char *(*version_str)(const void *state);
  /* Must be safe to call from several threads at once on one state. */
  int (*extract)(const void *state, const char *const *segments,
                 size_t nsegments, json_t **out, char *err, size_t errlen);
} scribe_extract_backend;

extern const scribe_extract_backend scribe_extract_rules_backend;

#endif
