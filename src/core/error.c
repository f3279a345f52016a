#include "core/error.h"

#include <stddef.h>

typedef struct {
  int value;
  int transient;
  const char *name;
  const char *code;
  const char *msg;
} err_row;

static const err_row rows[] = {
#define SCRIBE_X(name, value, transient, msg) \
  {value, transient, "SCRIBE_E" #name, #name, msg},
    SCRIBE_ERROR_MAP(SCRIBE_X)
#undef SCRIBE_X
};

static const err_row *find(int err) {
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
    if (rows[i].value == err) return &rows[i];
  return NULL;
}

const char *scribe_strerror(int err) {
  const err_row *r = find(err);
  return r ? r->msg : "unknown error";
}

const char *scribe_err_name(int err) {
  const err_row *r = find(err);
  return r ? r->name : "SCRIBE_EUNKNOWN";
}

/* Codes for API bodies: lower-case of the symbolic name, with a few spelled
 * out for readability. */
const char *scribe_err_code(int err) {
  switch (err) {
    case SCRIBE_EOK: return "ok";
    case SCRIBE_ENOMEM: return "out_of_memory";
    case SCRIBE_EINVAL: return "invalid_argument";
    case SCRIBE_ENOTFOUND: return "not_found";
    case SCRIBE_EEXISTS: return "already_exists";
    case SCRIBE_EIO: return "io_error";
    case SCRIBE_ETOOBIG: return "too_large";
    case SCRIBE_EAGAIN: return "try_again";
    case SCRIBE_ETIMEOUT: return "timeout";
    case SCRIBE_EUNAVAILABLE: return "unavailable";
    case SCRIBE_EBADAUDIO: return "bad_audio";
    case SCRIBE_ENOAUDIO: return "no_audio";
    case SCRIBE_ETOOLONG: return "audio_too_long";
    case SCRIBE_ECANCELED: return "canceled";
    case SCRIBE_ECONFIG: return "bad_config";
    case SCRIBE_EPARSE: return "malformed";
    case SCRIBE_EFORBIDDEN: return "forbidden";
    case SCRIBE_EEXPIRED: return "expired";
    case SCRIBE_EBADKEY: return "invalid_key";
    default: return "internal";
  }
}

bool scribe_err_transient(int err) {
  const err_row *r = find(err);
  return r ? r->transient != 0 : false;
}
