/*
 * extract_rules.c - the "rules" backend object: lexicons + rules, no network.
 */
#include <stdlib.h>

#include "extract/extract_backend.h"
#include "extract/rules.h"

static void *rules_create(const scribe_extract_params *p, char *err, size_t errlen) {
  return xr_lex_load(p ? p->lexicon_dir : NULL, err, errlen);
}

static void rules_destroy(void *state) { xr_lex_free(state); }

static const char *rules_version(const void *state) { return xr_lex_version(state); }

static int rules_extract(const void *state, const char *const *segments, size_t nsegments,
                         json_t **out, char *err, size_t errlen) {
  return xr_extract(state, segments, nsegments, out, err, errlen);
}

const scribe_extract_backend scribe_extract_rules_backend = {
    .version = SCRIBE_EXTRACT_BACKEND_VERSION,
    .name = "rules",
    .create = rules_create,
    .destroy = rules_destroy,
    .version_str = rules_version,
    .extract = rules_extract,
};
