/*
 * rules.h - internals of the "rules" extraction backend, shared by its files
 * (rules_lexicon.c, rules_parse.c, rules_extract.c) and by the unit tests.
 * Not a public API.
 *
 * Lexicons (data/lexicon/ (one .tsv per lexicon)) are compiled at create time into a word
 * vocabulary (hash table word -> id) and a word trie (hash table of edges
 * (node, word id) -> node); every lexicon phrase ends at a trie node that
 * carries its entries.  A document is tokenized once, then every phrase that
 * occurs is found by walking the trie from each token: no regular
 * expressions, no per-entry scans.
 */
#ifndef SCRIBE_EXTRACT_RULES_H
#define SCRIBE_EXTRACT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XR_MAXPHRASE 16

/* Lexicon categories (one per file). */
enum {
  XC_MED = 0, /* medications.tsv */
  XC_COND,    /* conditions.tsv */
  XC_TEST,    /* tests.tsv */
  XC_ALLERGEN,/* allergens.tsv */
  XC_NEG,     /* negation.tsv */
  XC_CUE,     /* cues.tsv */
  XC_FU,      /* followup.tsv */
  XC_NUM,     /* numbers.tsv */
  XC_DOSE,    /* dosing.tsv */
  XC_COUNT
};

/* kind: XC_MED */
enum { XK_DRUG = 1, XK_CLASS, XK_SUPPLEMENT };
/* kind: XC_COND */
enum { XK_DISEASE = 1, XK_SYMPTOM, XK_SIGN };
/* kind: XC_TEST */
enum { XK_IMAGING = 1, XK_LAB, XK_PROCEDURE, XK_REFERRAL, XK_VITAL };

/* role: XC_NEG */
enum { XN_PRE = 1, XN_POST, XN_PSEUDO, XN_TERM, XN_HYPO, XN_FAMILY, XN_HISTORY };
/* role: XC_CUE */
enum {
  XQ_ANS_NO = 1, XQ_ANS_YES, XQ_QUESTION, XQ_RX, XQ_CURRENT, XQ_STOP,
  XQ_RECOMMEND, XQ_DECLINE, XQ_DISCUSS, XQ_ALLERGY, XQ_ALLERGY_NONE,
  XQ_ALLERGY_ASK, XQ_DX_CONFIRMED, XQ_DX_LIKELY, XQ_DX_POSSIBLE,
  XQ_DX_RULED_OUT, XQ_DX_PLAN, XQ_DX_SECTION, XQ_TASK,
  XQ_REACTION,      /* "makes me break out": links a substance before or after */
  XQ_REACTION_SIGN, /* "rash", "itching": links a substance after ("rash with X") */
  XQ_NOT_FINDING    /* "questions", "concerns": never a denied finding */
};
/* role: XC_FU */
enum { XF_CUE = 1, XF_WEAK, XF_SAFETY, XF_FIXED, XF_UNIT, XF_APPROX, XF_PSEUDO };
/* role: XC_NUM */
enum { XU_UNIT = 1, XU_TEN, XU_SCALE, XU_FRACTION, XU_POINT, XU_POINT0, XU_VAGUE, XU_TIMES };
/* role: XC_DOSE */
enum { XD_UNIT = 1, XD_FORM, XD_ROUTE, XD_FREQ, XD_PRN };

typedef struct xr_entry {
  const char *name;    /* canonical name / phrase */
  const char *aux;     /* MED: classes "a,b"; DOSE: normalized text; else NULL */
  double v1, v2;       /* NUM value; FU min/max days */
  int32_t next;        /* next entry ending at the same trie node, -1 */
  uint16_t line;       /* line in its file (diagnostics) */
  uint8_t cat, role, kind, ntok;
} xr_entry;

typedef struct xr_lex xr_lex;

/* Well-known words the rules test by id (interned at create). */
typedef struct xr_words {
  int32_t the, your, my, his, her, their, a, an, any, some, this, these, those,
      our, left, right, both;
  int32_t of, in, within, for_, after, to, or_, and_, over, per, every, times,
      ago, past, last, next, course, supply, time, more, another, about, um, uh,
      well, oh, so, okay, ok, i, you, we, he, she, they, it, is, was, not, no,
      take, taking, hour, hr, q, day, week, month, year, s, minute, puff,
      tablet, pressure, over_, slash, percent, degree, pound, lb, kg, kilo,
      stone, cm, inch, foot, mmhg, bpm, beat, breath, mg, dl, mmol, half,
      again, back, even, just, also, then, now, be, have, had, has, been,
      history, family, like, dot, point;
} xr_words;

/* Loads the lexicons from dir (NULL or "" = embedded) and compiles them.
 * Returns NULL with "file:line: reason" in err on failure. */
xr_lex *xr_lex_load(const char *dir, char *err, size_t errlen);
void xr_lex_free(xr_lex *lx);
const char *xr_lex_version(const xr_lex *lx);
const xr_words *xr_lex_words(const xr_lex *lx);
const xr_entry *xr_lex_entry(const xr_lex *lx, int32_t i);

/* ---- documents ---------------------------------------------------------- */

enum { XT_WORD = 1, XT_NUM, XT_PUNCT };
enum { XS_UNKNOWN = 0, XS_DOCTOR, XS_PATIENT, XS_OTHER };

typedef struct xr_tok {
  uint32_t start, end; /* byte offsets in the segment text */
  uint32_t seg;
  int32_t id;          /* vocabulary id, -1 if unknown */
  double num;          /* XT_NUM: value */
  uint8_t kind;
  char punct;          /* XT_PUNCT: the character */
} xr_tok;

typedef struct xr_match {
  uint32_t s, e; /* tokens [s, e) */
  int32_t entry;
} xr_match;

typedef struct xr_seg {
  const char *text;
  size_t len;
  uint32_t t0, t1;   /* tokens [t0, t1) */
  uint8_t speaker;   /* XS_* */
  bool has_punct;    /* any sentence punctuation in the segment */
} xr_seg;

typedef struct xr_sent {
  uint32_t t0, t1;   /* tokens [t0, t1) */
  uint32_t seg;
  bool question;
} xr_sent;

typedef struct xr_doc {
  const xr_lex *lx;
  xr_seg *segs;
  size_t nsegs;
  xr_tok *toks;
  size_t ntoks, tcap;
  xr_match *m;       /* all phrase matches, ordered by start token */
  size_t nm, mcap;
  uint32_t *mfirst;  /* matches starting at token t: [mfirst[t], mfirst[t+1]) */
  uint32_t *tsent;   /* sentence of each token */
  xr_sent *sents;
  size_t nsents, scap;
  bool labeled;      /* any segment had a speaker label */
} xr_doc;

/* Tokenizes and matches segments.  Returns 0 or SCRIBE_ENOMEM. */
int xr_doc_build(xr_doc *d, const xr_lex *lx, const char *const *segs, size_t n);
void xr_doc_release(xr_doc *d);
/* Longest match of category cat (role if role > 0) starting at token t; -1 if none. */
int32_t xr_match_at(const xr_doc *d, size_t t, int cat, int role);
/* Vocabulary id of a normalized word (-1 if unknown). */
int32_t xr_word_id(const xr_lex *lx, const char *w);

/* ---- parsers (rules_parse.c); t = token index, *end = first token after ---- */

/* Spoken or written number: "five hundred", "one and a half", "0.5",
 * "twenty-five", "a half", "two point five". */
bool xr_parse_number(const xr_doc *d, size_t t, size_t lim, double *val, size_t *end);
/* Dose/strength: "500 mg", "five hundred milligrams", "two puffs", "one tablet",
 * "half a tablet".  out: "500 mg", "2 puffs". */
bool xr_parse_dose(const xr_doc *d, size_t t, size_t lim, char *out, size_t outlen, size_t *end);
/* Frequency: "twice a day", "every four to six hours", "at night", "BD", ...
 * out: normalized ("twice a day", "every 4-6 hours"); *prn set for "as needed". */
bool xr_parse_freq(const xr_doc *d, size_t t, size_t lim, char *out, size_t outlen, bool *prn, size_t *end);
/* Duration: "for seven days", "a two-week course".  out: "7 days", "2 weeks". */
bool xr_parse_duration(const xr_doc *d, size_t t, size_t lim, char *out, size_t outlen, size_t *end);
/* Time interval in days: "two weeks" -> 14..14, "three to five days" -> 3..5,
 * "next month"/"a month" -> 28..31, "next week"/"about a week" -> 5..10,
 * "a few days" -> 1..5, "same day"/"A&E" -> 0..0. */
bool xr_parse_interval(const xr_doc *d, size_t t, size_t lim, int *min_days, int *max_days, size_t *end);

/* String helpers for tests: the text is one segment; the parse must start at
 * its first token (and, for numbers, consume it all). */
bool xr_str_number(const xr_lex *lx, const char *s, double *val);
bool xr_str_dose(const xr_lex *lx, const char *s, char *out, size_t outlen);
bool xr_str_freq(const xr_lex *lx, const char *s, char *out, size_t outlen, bool *prn);
bool xr_str_duration(const xr_lex *lx, const char *s, char *out, size_t outlen);
/* Interval: first interval anywhere in the string. */
bool xr_str_interval(const xr_lex *lx, const char *s, int *min_days, int *max_days);

/* ---- the extractor (rules_extract.c) ----------------------------------- */

struct json_t;
int xr_extract(const xr_lex *lx, const char *const *segs, size_t n,
               struct json_t **out, char *err, size_t errlen);

#endif
