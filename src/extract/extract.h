/*
 * extract.h - clinical extraction: transcript -> structured result fields.
 *
 * Usage:
 *
 *   char err[256];
 *   scribe_extract_params p = scribe_extract_default_params();
 *   scribe_extract *x = scribe_extract_create("rules", &p, err, sizeof(err));
 *   if (!x) { LOG_ERROR("extract: %s", err); return SCRIBE_ECONFIG; }
 *   const char *segs[] = {"Doctor: Any chest pain?", "Patient: No."};
 *   json_t *out = NULL;
 *   if (scribe_extract_segments(x, segs, 2, &out, err, sizeof(err)) == SCRIBE_OK) {
 *     use(out);           // {"diagnosis": ..., "medications": [...], ...}
 *     json_decref(out);
 *   }
 *   scribe_extract_free(x);
 *
 * Backends (after curl's vtls): each backend is one file exporting one const
 * scribe_extract_backend (extract_backend.h: version field first, then name
 * and function pointers); scribe_extract_create() looks the name up in a
 * NULL-terminated table in extract.c.  Compiled in today: "rules" (lexicons +
 * rules, no network, deterministic).  LLM backends come later.
 *
 * Output document (one new JSON object, see docs/extraction.md):
 *   diagnosis            string (main impression) or null
 *   diagnoses            [{name, certainty: confirmed|likely|possible|ruled_out,
 *                          main: bool, evidence}]
 *   medications          [{name (generic, lowercase), text (as said), class (or null),
 *                          status: current|prescribed|recommended|stopped|declined|
 *                                  allergic|discussed,
 *                          dose, route, frequency, duration (strings or null),
 *                          as_needed: bool, evidence}]
 *   allergies            [{substance, reaction (or null), evidence}]
 *   allergies_stated     "none" | "yes" | null
 *   follow_up            string or null; follow_up_interval {min_days, max_days} or null
 *   negations            [{finding, evidence}]
 *   symptoms             [{name, evidence}]
 *   tasks                [{text, evidence}]
 *   vital_signs          [{name, value, unit, evidence}]
 *   notes                string or null
 * evidence = {"segment": i, "start_char": a, "end_char": b, "text": "..."}: a and b
 * are UTF-8 BYTE offsets into segment i's text exactly as passed in (speaker label
 * included), end exclusive; text is that byte range.
 *
 * Threads: a handle is immutable after create; one handle may be used from
 * several threads at once.  Privacy: this module never logs transcript text.
 */
#ifndef SCRIBE_EXTRACT_H
#define SCRIBE_EXTRACT_H

#include <stddef.h>

#include <jansson.h>

/* Version of scribe_extract_backend that this header describes. */
#define SCRIBE_EXTRACT_BACKEND_VERSION 1

/* Input limits: scribe_extract_segments() fails with SCRIBE_ETOOBIG beyond. */
#define SCRIBE_EXTRACT_MAX_SEGMENTS 100000
#define SCRIBE_EXTRACT_MAX_BYTES (8u * 1024u * 1024u)

typedef struct scribe_extract_params {
  /* Folder with the lexicon files (medications.tsv, conditions.tsv, ...).
   * NULL or "" = the lexicons compiled into the binary. */
  const char *lexicon_dir;
} scribe_extract_params;

/* Default parameters (embedded lexicons). */
scribe_extract_params scribe_extract_default_params(void);

typedef struct scribe_extract scribe_extract;

/* Creates an extractor of backend `backend_name` ("rules"; NULL = "rules").
 * p may be NULL (defaults).  Loads and compiles the lexicons once.
 * Returns NULL on failure with a message in err (if err is not NULL): an unknown
 * backend lists the compiled-in names; a malformed lexicon line is reported as
 * "file:line: reason"; a missing file as "file: reason".
 * The handle is freed with scribe_extract_free(). */
scribe_extract *scribe_extract_create(const char *backend_name,
                                      const scribe_extract_params *p,
                                      char *err, size_t errlen);

/* Frees x.  Accepts NULL. */
void scribe_extract_free(scribe_extract *x);

/* Backend name ("rules").  Owned by x; never NULL. */
const char *scribe_extract_name(const scribe_extract *x);

/* Engine and lexicon version, e.g. "rules-1+lex-2025.1".  Owned by x. */
const char *scribe_extract_version(const scribe_extract *x);

/* Extracts from a transcript given as segments (one utterance each, UTF-8, not
 * necessarily NUL-free of labels): segment i may start with a speaker label
 * "Doctor:" / "Patient:" / "Other:" (also "Dr:", "Pt:", "[doctor]", ...);
 * unlabeled lower-case text without punctuation works too.  segments[i] must be
 * NUL-terminated; NULL entries count as empty segments.
 * On success returns SCRIBE_OK and sets *out to a new JSON object (the fields
 * above) that the caller json_decref()s.  Errors: SCRIBE_EINVAL (NULL x/out, or
 * segments NULL with nsegments > 0), SCRIBE_ETOOBIG (over the limits above),
 * SCRIBE_ENOMEM; *out is then NULL and err holds a message. */
int scribe_extract_segments(scribe_extract *x, const char *const *segments,
                            size_t nsegments, json_t **out, char *err,
                            size_t errlen);

/* Convenience: splits text (len bytes, need not be NUL-terminated) into
 * segments at newlines ("\n" or "\r\n"; segment i = line i, empty lines kept so
 * that indices are line numbers counted from 0) and calls
 * scribe_extract_segments().  Same results and errors. */
int scribe_extract_text(scribe_extract *x, const char *text, size_t len,
                        json_t **out, char *err, size_t errlen);

/* The `scribe extract [FILE|-] [--format json|text] [--lexicon-dir DIR]
 * [--backend NAME]` subcommand.  argv[0] is the subcommand name.  Reads the
 * transcript (one utterance a line) from FILE or stdin, prints the result to
 * stdout.  Returns the process exit status: 0 ok, 1 runtime error, 2 usage. */
int scribe_extract_cli(int argc, char **argv);

#endif
