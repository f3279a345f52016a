/*
 * rules_extract.c - the "rules" extractor: from matched phrases to the
 * result document (medications, diagnoses, allergies, follow-up, negations,
 * symptoms, tasks, vital signs), every item with its evidence span.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "extract/rules.h"

/* concept flags */
enum {
  CF_NEG = 1 << 0,     /* negated by a trigger in its sentence */
  CF_QNEG = 1 << 1,    /* asked about and answered "no" */
  CF_QYES = 1 << 2,    /* asked about and answered "yes" */
  CF_HYPO = 1 << 3,    /* hypothetical / conditional */
  CF_FAMILY = 1 << 4,  /* someone else's */
  CF_HISTORY = 1 << 5, /* past history */
  CF_QUESTION = 1 << 6,/* inside a question */
  CF_QNOANS = 1 << 7,  /* inside a question with no yes/no answer */
  CF_VITAL = 1 << 8,   /* a vital sign with its value ("temperature is 38.5") */
};

typedef struct concept {
  uint32_t s, e;
  int32_t entry;
  uint16_t flags;
  uint8_t cat;
} concept;

/* A denied finding that no lexicon names, from a question answered "no"
 * ("Any other injuries?" / "No."): tokens [s, e) of the question. */
typedef struct freeneg {
  uint32_t s, e;
  bool previous;
} freeneg;

#define MAX_FREENEG 64

typedef struct ctx {
  const xr_lex *lx;
  const xr_words *w;
  xr_doc d;
  concept *c;
  size_t nc;
  int32_t *ctok;  /* concept covering each token, -1 */
  uint8_t *pseudo;/* token inside a pseudo-trigger */
  freeneg fneg[MAX_FREENEG];
  size_t nfneg;
} ctx;

static const xr_entry *E(const ctx *x, int32_t entry) { return xr_lex_entry(x->lx, entry); }
static const xr_entry *ME(const ctx *x, size_t m) { return xr_lex_entry(x->lx, x->d.m[m].entry); }

static uint8_t speaker_of(const ctx *x, uint32_t t) {
  return x->d.segs[x->d.toks[t].seg].speaker;
}

static const xr_sent *sent_of(const ctx *x, uint32_t t) {
  return &x->d.sents[x->d.tsent[t]];
}

/* Any raw match of (cat, role) starting at token t (longest). */
static int32_t at(const ctx *x, size_t t, int cat, int role) {
  return xr_match_at(&x->d, t, cat, role);
}

/* ---- evidence / JSON helpers ---------------------------------------------- */

static json_t *evidence(const ctx *x, uint32_t t0, uint32_t t1) {
  const xr_tok *a = &x->d.toks[t0], *b = &x->d.toks[t1 - 1];
  const xr_seg *sg = &x->d.segs[a->seg];
  uint32_t st = a->start, en = b->end;
  if (b->seg != a->seg) en = (uint32_t)sg->len;
  return json_pack("{s:I,s:I,s:I,s:s%}", "segment", (json_int_t)a->seg, "start_char",
                   (json_int_t)st, "end_char", (json_int_t)en, "text", sg->text + st,
                   (size_t)(en - st));
}

/* Copies s into dst (truncating). */
static void cpy(char *dst, size_t n, const char *s) {
  size_t l = strlen(s);
  if (l >= n) l = n - 1;
  memcpy(dst, s, l);
  dst[l] = '\0';
}

static json_t *str_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }

/* Copies the transcript words of tokens [t0, t1) (one segment) into out. */
static void span_text(const ctx *x, uint32_t t0, uint32_t t1, char *out, size_t outlen) {
  const xr_tok *a = &x->d.toks[t0], *b = &x->d.toks[t1 - 1];
  const xr_seg *sg = &x->d.segs[a->seg];
  size_t n = (b->seg == a->seg ? b->end : sg->len) - a->start;
  if (n >= outlen) n = outlen - 1;
  memcpy(out, sg->text + a->start, n);
  out[n] = '\0';
}

/* ---- concepts ------------------------------------------------------------- */

static int cat_rank(int cat) {
  switch (cat) {
    case XC_MED: return 3;
    case XC_COND: return 2;
    case XC_TEST: return 1;
    default: return 0;
  }
}

static int build_concepts(ctx *x) {
  xr_doc *d = &x->d;
  x->c = malloc((d->ntoks + 1) * sizeof(*x->c));
  x->ctok = malloc((d->ntoks + 1) * sizeof(*x->ctok));
  x->pseudo = calloc(d->ntoks + 1, 1);
  if (!x->c || !x->ctok || !x->pseudo) return SCRIBE_ENOMEM;
  for (size_t t = 0; t < d->ntoks; t++) x->ctok[t] = -1;
  size_t t = 0;
  while (t < d->ntoks) {
    int32_t best = -1;
    uint32_t blen = 0;
    int brank = 0;
    for (uint32_t k = d->mfirst[t]; k < d->mfirst[t + 1]; k++) {
      const xr_entry *e = ME(x, k);
      int r = cat_rank(e->cat);
      if (!r) continue;
      uint32_t l = d->m[k].e - d->m[k].s;
      if (l > blen || (l == blen && r > brank)) {
        best = (int32_t)k;
        blen = l;
        brank = r;
      }
    }
    if (best < 0) {
      t++;
      continue;
    }
    concept *c = &x->c[x->nc];
    c->s = d->m[best].s;
    c->e = d->m[best].e;
    c->entry = d->m[best].entry;
    c->cat = E(x, c->entry)->cat;
    c->flags = 0;
    for (uint32_t k = c->s; k < c->e; k++) x->ctok[k] = (int32_t)x->nc;
    x->nc++;
    t = c->e;
  }
  /* pseudo-triggers */
  for (size_t k = 0; k < d->nm; k++) {
    const xr_entry *e = ME(x, k);
    if (e->cat == XC_NEG && e->role == XN_PSEUDO)
      for (uint32_t j = d->m[k].s; j < d->m[k].e; j++) x->pseudo[j] = 1;
  }
  return 0;
}

/* Token t is the word w exactly as written (case-insensitive, no folding). */
static bool tok_text_is(const ctx *x, uint32_t t, const char *w) {
  const xr_tok *tk = &x->d.toks[t];
  const char *p = x->d.segs[tk->seg].text + tk->start;
  size_t n = tk->end - tk->start, l = strlen(w);
  if (n != l) return false;
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != w[i]) return false;
  }
  return true;
}

/* Token t is the word w: by vocabulary id (plural folded) when the lexicons
 * know w, else by its text. */
static bool is_word(const ctx *x, uint32_t t, const char *w) {
  int32_t id = x->d.toks[t].id;
  int32_t wid = xr_word_id(x->lx, w);
  if (wid >= 0) return id == wid;
  return x->d.toks[t].kind == XT_WORD && tok_text_is(x, t, w);
}

static bool is_term(const ctx *x, uint32_t t) { return at(x, t, XC_NEG, XN_TERM) >= 0; }

/* Marks concepts in the forward scope of a trigger ending at token from. */
static void scope_forward(ctx *x, uint32_t from, uint32_t lim, int maxwords, uint16_t flag,
                          int only_cat) {
  int count = 0;
  uint32_t j = from;
  while (j < lim) {
    if (is_term(x, j) && x->ctok[j] < 0) break;
    int32_t ci = x->ctok[j];
    if (ci >= 0) {
      concept *c = &x->c[ci];
      if (!only_cat || c->cat == only_cat) c->flags |= flag;
      j = c->e;
      count++;
      continue;
    }
    const xr_tok *tk = &x->d.toks[j];
    if (tk->kind == XT_PUNCT) {
      if (tk->punct != ',') break;
      j++;
      continue;
    }
    if (tk->id == x->w->or_ || tk->id == x->w->and_ || tk->id == x->w->any ||
        tk->id == x->w->of || tk->id == x->w->the || tk->id == x->w->a) {
      j++;
      continue;
    }
    if (++count > maxwords) break;
    j++;
  }
}

static void negation_and_context(ctx *x) {
  xr_doc *d = &x->d;
  for (size_t si = 0; si < d->nsents; si++) {
    const xr_sent *s = &d->sents[si];
    for (uint32_t t = s->t0; t < s->t1; t++) {
      for (uint32_t k = d->mfirst[t]; k < d->mfirst[t + 1]; k++) {
        const xr_entry *e = ME(x, k);
        if (e->cat != XC_NEG) continue;
        uint32_t me = d->m[k].e;
        if (me > s->t1) continue;
        switch (e->role) {
          case XN_PRE:
            if (x->pseudo[t]) break;
            /* a trigger word that is part of a concept name ("no known
             * allergies" is a cue, "nothing" ...) still triggers */
            scope_forward(x, me, s->t1, 5, CF_NEG, 0);
            break;
          case XN_POST: {
            if (x->pseudo[t]) break;
            /* concept just before: within 3 tokens */
            for (uint32_t j = t; j > s->t0 && j + 4 > t; j--) {
              int32_t ci = x->ctok[j - 1];
              if (ci >= 0) {
                x->c[ci].flags |= CF_NEG;
                break;
              }
            }
            break;
          }
          case XN_HYPO:
            scope_forward(x, me, s->t1, 8, CF_HYPO, 0);
            break;
          case XN_FAMILY:
            if (x->ctok[t] >= 0) break;
            scope_forward(x, me, s->t1, 8, CF_FAMILY, XC_COND);
            break;
          case XN_HISTORY:
            scope_forward(x, me, s->t1, 8, CF_HISTORY, 0);
            /* "... years ago": the concept before it */
            for (uint32_t j = t; j > s->t0 && j + 8 > t; j--) {
              int32_t ci = x->ctok[j - 1];
              if (ci >= 0) {
                x->c[ci].flags |= CF_HISTORY;
                break;
              }
            }
            break;
          default:
            break;
        }
      }
    }
  }
}

/* ---- dialogue: questions and answers ------------------------------------- */

static bool is_filler(const ctx *x, int32_t id) {
  const xr_words *w = x->w;
  return id == w->um || id == w->uh || id == w->well || id == w->oh || id == w->so ||
         id == w->okay || id == w->ok || id == w->and_ || id == w->now || id == w->then ||
         id == w->just || id == w->also;
}

/* First content token of tokens [t0, t1) after fillers and commas. */
static uint32_t skip_fillers(const ctx *x, uint32_t t0, uint32_t t1) {
  uint32_t t = t0;
  while (t < t1 && (x->d.toks[t].kind == XT_PUNCT || is_filler(x, x->d.toks[t].id))) t++;
  return t;
}

static bool sent_is_question(const ctx *x, const xr_sent *s) {
  if (s->question) return true;
  uint32_t t = skip_fillers(x, s->t0, s->t1);
  if (t >= s->t1 || t > s->t0 + 3) return false;
  int32_t m = at(x, t, XC_CUE, XQ_QUESTION);
  return m >= 0;
}

/* Answer polarity of a segment: -1 no, +1 yes, 0 unknown. */
static int answer_polarity(const ctx *x, const xr_seg *sg) {
  uint32_t t = skip_fillers(x, sg->t0, sg->t1);
  if (t >= sg->t1) return 0;
  int32_t mn = at(x, t, XC_CUE, XQ_ANS_NO);
  int32_t my = at(x, t, XC_CUE, XQ_ANS_YES);
  if (mn >= 0 && (my < 0 || x->d.m[mn].e >= x->d.m[my].e)) return -1;
  if (my >= 0) return 1;
  return 0;
}

/* Tokens [t0, t1) are findings joined by "or"/"and"/fillers only. */
static bool list_of_findings(const ctx *x, uint32_t t0, uint32_t t1) {
  int n = 0;
  for (uint32_t t = t0; t < t1;) {
    int32_t ci = x->ctok[t];
    if (ci >= 0 && x->c[ci].cat == XC_COND) {
      n++;
      t = x->c[ci].e;
      continue;
    }
    const xr_tok *tk = &x->d.toks[t];
    int32_t id = tk->id;
    if (tk->kind == XT_PUNCT || id == x->w->or_ || id == x->w->and_ || id == x->w->any ||
        id == x->w->like || id == x->w->i || is_word(x, t, "mean") || is_filler(x, id)) {
      t++;
      continue;
    }
    return false;
  }
  return n >= 2;
}

typedef struct qa {
  int32_t qsent;     /* last question sentence, -1 */
  uint32_t q0, q1;   /* question tokens [q0, q1): consecutive questions at the end */
  int32_t aseg;      /* answer segment, -1 */
  int pol;
} qa;

/* For segment si (the asker), finds its closing question(s) and the answer. */
static qa find_qa(const ctx *x, size_t si) {
  qa r = {-1, 0, 0, -1, 0};
  const xr_doc *d = &x->d;
  const xr_seg *sg = &d->segs[si];
  if (sg->t1 == sg->t0) return r;
  if (d->labeled && sg->speaker == XS_PATIENT) return r;
  uint32_t ls = d->tsent[sg->t1 - 1];
  int32_t qs = -1;
  uint32_t q0 = 0;
  for (uint32_t k = 0; k < 2 && ls >= k; k++) {
    const xr_sent *s = &d->sents[ls - k];
    if (s->seg != si) break;
    if (sent_is_question(x, s)) {
      qs = (int32_t)(ls - k);
      q0 = s->t0;
      break;
    }
  }
  if (qs < 0 && !sg->has_punct) {
    /* unpunctuated speech: the last question opener in the final words */
    uint32_t from = sg->t1 > sg->t0 + 20 ? sg->t1 - 20 : sg->t0;
    for (uint32_t t = from; t < sg->t1; t++)
      if (at(x, t, XC_CUE, XQ_QUESTION) >= 0 ||
          /* "and no further flare ups" said as a question */
          (d->toks[t].id == x->w->no && sg->t1 - t <= 6 && t + 1 < sg->t1 &&
           (t == sg->t0 || d->toks[t - 1].id != x->w->no))) {
        qs = (int32_t)ls;
        q0 = t;
        break;
      }
    /* a short turn that only lists findings ("nausea vomiting diarrhea"):
     * a question when unpunctuated text lost its "?" */
    if (qs < 0 && sg->t1 - sg->t0 <= 10 && list_of_findings(x, sg->t0, sg->t1)) {
      qs = (int32_t)ls;
      q0 = sg->t0;
    }
  }
  if (qs < 0) return r;
  /* earlier questions right before it ("any weight loss? anything like that?") */
  for (int32_t k = qs - 1; k >= 0 && k > qs - 4; k--) {
    const xr_sent *s = &d->sents[k];
    if (s->seg != si || !sent_is_question(x, s)) break;
    q0 = s->t0;
  }
  for (size_t a = si + 1; a < d->nsegs && a <= si + 2; a++) {
    const xr_seg *as = &d->segs[a];
    if (as->t1 == as->t0) continue;
    if (d->labeled && as->speaker == sg->speaker) break;
    r.qsent = qs;
    r.q0 = q0;
    r.q1 = d->sents[qs].t1;
    r.aseg = (int32_t)a;
    r.pol = answer_polarity(x, as);
    break;
  }
  return r;
}

/* Tokens that end the phrase of a finding. */
static bool phrase_stop(const ctx *x, uint32_t t) {
  const xr_tok *tk = &x->d.toks[t];
  const xr_words *w = x->w;
  int32_t id = tk->id;
  if (tk->kind == XT_PUNCT) return true;
  if (id == w->or_ || id == w->and_ || id == w->i || id == w->you || id == w->we ||
      id == w->he || id == w->she || id == w->they || id == w->it || id == w->like ||
      id == w->so || id == w->now || id == w->is || id == w->was)
    return true;
  if (is_word(x, t, "that") || is_word(x, t, "at") || is_word(x, t, "but") ||
      is_word(x, t, "when") || is_word(x, t, "where") || is_word(x, t, "while") ||
      is_word(x, t, "if") || is_word(x, t, "whatsoever") || is_word(x, t, "though") ||
      is_word(x, t, "than") || is_word(x, t, "because") || is_word(x, t, "do") ||
      is_word(x, t, "does") || is_word(x, t, "did") || is_word(x, t, "are") ||
      is_word(x, t, "have") || is_word(x, t, "has") || is_word(x, t, "what") ||
      is_word(x, t, "how") || is_word(x, t, "okay"))
    return true;
  if (at(x, t, XC_CUE, XQ_QUESTION) >= 0 || at(x, t, XC_NEG, XN_PRE) >= 0 || is_term(x, t))
    return true;
  return false;
}

/* Where the phrase of a finding ends: the concept plus a following site or
 * time ("tingling down your legs", "injured your right ankle before"). */
static uint32_t finding_tail(const ctx *x, const concept *c) {
  const xr_sent *s = sent_of(x, c->s);
  uint32_t t = c->e;
  if (t >= s->t1) return c->e;
  static const char *const lead[] = {"in", "on", "down", "of", "to", "into", "around", "with",
                                     "when", "during", "after", "your", "my", "his", "her",
                                     "this", "the", "before", "elsewhere", "recently",
                                     "anywhere", "since", NULL};
  bool ok = false;
  for (size_t i = 0; lead[i] && !ok; i++) ok = is_word(x, t, lead[i]);
  /* "injured your right ankle": a possessive right after it only in the
   * question asked about it (exam dictation runs on: "no edema your ...") */
  if (ok && !(c->flags & CF_QNEG) &&
      (is_word(x, t, "your") || is_word(x, t, "my") || is_word(x, t, "his") ||
       is_word(x, t, "her") || is_word(x, t, "this") || is_word(x, t, "the")))
    ok = false;
  if (!ok) return c->e;
  uint32_t e = c->e;
  for (; t < s->t1 && t < c->e + 5; t++) {
    if (x->ctok[t] >= 0 || phrase_stop(x, t) || at(x, t, XC_NEG, XN_FAMILY) >= 0) break;
    e = t + 1;
  }
  /* do not end on a preposition or determiner */
  while (e > c->e) {
    bool weak = false;
    for (size_t i = 0; lead[i] && !weak; i++)
      weak = is_word(x, e - 1, lead[i]) && strcmp(lead[i], "before") != 0 &&
             strcmp(lead[i], "elsewhere") != 0 && strcmp(lead[i], "recently") != 0;
    if (!weak) break;
    e--;
  }
  return e;
}

/* "Any other injuries?" / "No.": when the question names no known finding,
 * the words after its "any" / "no" / "ever" are the denied finding. */
static void free_finding(ctx *x, const qa *q) {
  const xr_doc *d = &x->d;
  int32_t w_ever = xr_word_id(x->lx, "ever");
  for (uint32_t t = q->q0; t < q->q1; t++) {
    int32_t ci = x->ctok[t];
    if (ci >= 0 && (x->c[ci].cat == XC_COND || x->c[ci].cat == XC_MED || x->c[ci].cat == XC_TEST))
      return; /* the concepts answer for it */
    if (at(x, t, XC_CUE, XQ_NOT_FINDING) >= 0 || at(x, t, XC_CUE, XQ_ALLERGY_ASK) >= 0 ||
        at(x, t, XC_CUE, XQ_ALLERGY) >= 0)
      return;
  }
  /* the last anchor with words after it */
  uint32_t best = UINT32_MAX;
  bool previous = false;
  for (uint32_t t = q->q0; t < q->q1; t++) {
    int32_t id = d->toks[t].id;
    if (id == x->w->any || id == x->w->no || (id >= 0 && id == w_ever)) {
      if (t + 1 < q->q1 && !phrase_stop(x, t + 1)) {
        best = t;
        previous = id == w_ever;
      }
    }
  }
  if (best == UINT32_MAX) return;
  uint32_t s = best + 1, e = s;
  /* "have you ever had any ...": the later anchor */
  for (uint32_t t = s; t < q->q1 && t < s + 6; t++) {
    if (phrase_stop(x, t)) break;
    e = t + 1;
  }
  /* skip a leading verb after "ever" ("ever had", "ever noticed") */
  if (previous && e > s + 1 &&
      (is_word(x, s, "had") || is_word(x, s, "noticed") || is_word(x, s, "experienced") ||
       is_word(x, s, "been")))
    s++;
  /* not ending on "with", "of", "your" ... */
  static const char *const weak_end[] = {"with", "of", "in", "on", "to", "for", "about", "the",
                                         "your", "my", "his", "her", "their", "a", "an", "other",
                                         "new", "any", "kind", "type", "sort", NULL};
  for (bool again = true; again && e > s;) {
    again = false;
    for (size_t i = 0; weak_end[i]; i++)
      if (is_word(x, e - 1, weak_end[i])) {
        e--;
        again = true;
        break;
      }
  }
  /* a bare "problems" / "issues" says nothing */
  if (e == s + 1 && (is_word(x, s, "problem") || is_word(x, s, "problems") ||
                     is_word(x, s, "issue") || is_word(x, s, "issues") ||
                     is_word(x, s, "trouble") || is_word(x, s, "thing") ||
                     is_word(x, s, "things") || is_word(x, s, "relief") ||
                     is_word(x, s, "point")))
    return;
  if (e <= s || x->nfneg >= MAX_FREENEG) return;
  if (d->toks[s].seg != d->toks[e - 1].seg) return;
  for (size_t i = 0; i < x->nfneg; i++)
    if (x->fneg[i].s == s) return;
  x->fneg[x->nfneg].s = s;
  x->fneg[x->nfneg].e = e;
  x->fneg[x->nfneg].previous = previous || is_word(x, e - 1, "before");
  x->nfneg++;
}

static bool same_entry_name(const ctx *x, const concept *a, const concept *b) {
  return strcmp(E(x, a->entry)->name, E(x, b->entry)->name) == 0;
}

static void dialogue(ctx *x) {
  const xr_doc *d = &x->d;
  /* mark question concepts */
  for (size_t i = 0; i < x->nc; i++) {
    const xr_sent *s = sent_of(x, x->c[i].s);
    if (sent_is_question(x, s)) x->c[i].flags |= CF_QUESTION | CF_QNOANS;
  }
  for (size_t si = 0; si < d->nsegs; si++) {
    qa q = find_qa(x, si);
    if (q.qsent < 0 || q.pol == 0) continue;
    const xr_seg *as = &d->segs[q.aseg];
    for (uint32_t t = q.q0; t < q.q1; t++) {
      int32_t ci = x->ctok[t];
      if (ci < 0 || x->c[ci].s != t) continue;
      concept *c = &x->c[ci];
      c->flags &= (uint16_t)~CF_QNOANS;
      if (q.pol > 0) {
        c->flags |= CF_QYES;
        c->flags &= (uint16_t)~CF_NEG;
        continue;
      }
      /* "no" - unless the answer names the finding without negating it */
      bool affirmed = false;
      for (uint32_t j = as->t0; j < as->t1; j++) {
        int32_t cj = x->ctok[j];
        if (cj >= 0 && x->c[cj].s == j && same_entry_name(x, c, &x->c[cj]) &&
            !(x->c[cj].flags & CF_NEG))
          affirmed = true;
      }
      if (!affirmed) c->flags |= CF_QNEG;
    }
    if (q.pol < 0) free_finding(x, &q);
  }
}

/* ---- medications ---------------------------------------------------------- */

enum { ST_NONE = 0, ST_DISCUSSED, ST_CURRENT, ST_RECOMMENDED, ST_DECLINED, ST_STOPPED,
       ST_PRESCRIBED, ST_ALLERGIC };
static const char *status_name[] = {"", "discussed", "current", "recommended", "declined",
                                    "stopped", "prescribed", "allergic"};

typedef struct med {
  const xr_entry *e;
  uint32_t s, e_tok; /* evidence of the first mention */
  int status;
  char text[96];
  char dose[48], route[32], freq[48], duration[32];
  bool prn;
  bool any_named; /* for classes: suppressed */
} med;

typedef struct medlist {
  med *v;
  size_t n, cap;
} medlist;

static int cue_status(int role, uint8_t spk) {
  switch (role) {
    case XQ_ALLERGY: return ST_ALLERGIC;
    case XQ_DECLINE: return ST_DECLINED;
    case XQ_STOP: return ST_STOPPED;
    case XQ_DISCUSS: return ST_DISCUSSED;
    case XQ_RX: return spk == XS_PATIENT ? ST_CURRENT : ST_PRESCRIBED;
    case XQ_RECOMMEND: return spk == XS_PATIENT ? ST_CURRENT : ST_RECOMMENDED;
    case XQ_CURRENT: return ST_CURRENT;
    default: return ST_NONE;
  }
}

static bool is_status_cue(int role) {
  return role == XQ_ALLERGY || role == XQ_DECLINE || role == XQ_STOP || role == XQ_DISCUSS ||
         role == XQ_RX || role == XQ_RECOMMEND || role == XQ_CURRENT;
}

/* Nearest status cue before token t in [lo, t) (not crossing another
 * medication), else the nearest after in (e, hi).  Returns status. */
static int med_status(const ctx *x, const concept *c, uint32_t lo, uint32_t hi) {
  const xr_doc *d = &x->d;
  uint8_t spk = speaker_of(x, c->s);
  int best = ST_NONE;
  uint32_t best_end = 0;
  for (uint32_t t = lo; t < c->s; t++) {
    int32_t ci = x->ctok[t];
    if (ci >= 0 && x->c[ci].cat == XC_MED && x->c[ci].s < c->s) {
      best = ST_NONE; /* a cue before another drug belongs to it */
      best_end = 0;
      t = x->c[ci].e - 1;
      continue;
    }
    for (uint32_t k = d->mfirst[t]; k < d->mfirst[t + 1]; k++) {
      const xr_entry *e = ME(x, k);
      if (e->cat != XC_CUE || !is_status_cue(e->role)) continue;
      if (d->m[k].e > c->s) continue;
      int st = cue_status(e->role, spk);
      /* negative cues (allergy, declined, stopped) dominate; otherwise the
       * later-ending cue wins; same end: the longer (earlier start) one */
      bool strong = st == ST_ALLERGIC || st == ST_DECLINED || st == ST_STOPPED;
      bool best_strong = best == ST_ALLERGIC || best == ST_DECLINED || best == ST_STOPPED;
      if ((strong && !best_strong) ||
          (strong == best_strong && d->m[k].e > best_end)) {
        best = st;
        best_end = d->m[k].e;
      }
    }
  }
  if (best != ST_NONE) return best;
  for (uint32_t t = c->e; t < hi && t < c->e + 5; t++) {
    int32_t ci = x->ctok[t];
    if (ci >= 0 && x->c[ci].cat == XC_MED) break;
    int32_t m = -1;
    for (uint32_t k = d->mfirst[t]; k < d->mfirst[t + 1]; k++) {
      const xr_entry *e = ME(x, k);
      if (e->cat == XC_CUE && is_status_cue(e->role) && e->role != XQ_ALLERGY &&
          (m < 0 || d->m[k].e > d->m[m].e))
        m = (int32_t)k;
    }
    if (m >= 0) return cue_status(ME(x, (size_t)m)->role, spk);
  }
  return ST_NONE;
}

static bool neg_before(const ctx *x, const concept *c, uint32_t lo) {
  const xr_doc *d = &x->d;
  uint32_t from = c->s > lo + 6 ? c->s - 6 : lo;
  for (uint32_t t = from; t < c->s; t++) {
    int32_t ci = x->ctok[t];
    if (ci >= 0 && x->c[ci].cat == XC_MED) return false;
    for (uint32_t k = d->mfirst[t]; k < d->mfirst[t + 1]; k++) {
      const xr_entry *e = ME(x, k);
      if (e->cat == XC_NEG && (e->role == XN_PRE || e->role == XN_PSEUDO) &&
          d->m[k].e <= c->s) {
        int32_t id = d->toks[d->m[k].s].id;
        if (id == x->w->not || id == x->w->no || xr_word_id(x->lx, "never") == id) return true;
      }
    }
  }
  return false;
}

static void med_details(const ctx *x, med *m, const concept *c, const xr_sent *s) {
  const xr_doc *d = &x->d;
  uint32_t hi = s->t1;
  /* after the name */
  for (uint32_t t = c->e; t < hi && t < c->e + 16;) {
    int32_t ci = x->ctok[t];
    if (ci >= 0 && x->c[ci].cat == XC_MED && x->c[ci].s == t) break;
    size_t end = t + 1;
    char buf[64];
    bool prn = false;
    if (!m->dose[0] && xr_parse_dose(d, t, hi, buf, sizeof(buf), &end)) {
      cpy(m->dose, sizeof(m->dose), buf);
    } else if (!m->duration[0] && xr_parse_duration(d, t, hi, buf, sizeof(buf), &end)) {
      cpy(m->duration, sizeof(m->duration), buf);
    } else if (xr_parse_freq(d, t, hi, buf, sizeof(buf), &prn, &end)) {
      if (prn) m->prn = true;
      else if (!m->freq[0]) cpy(m->freq, sizeof(m->freq), buf);
    } else {
      end = t + 1;
    }
    if (!m->route[0]) {
      int32_t r = at(x, t, XC_DOSE, XD_ROUTE);
      if (r >= 0) snprintf(m->route, sizeof(m->route), "%s", ME(x, (size_t)r)->aux);
    }
    t = (uint32_t)end;
  }
  /* before the name: "two puffs of", "500 mg of" */
  uint32_t lo = c->s > s->t0 + 6 ? c->s - 6 : s->t0;
  for (uint32_t t = lo; t < c->s && !m->dose[0]; t++) {
    int32_t ci = x->ctok[t];
    if (ci >= 0 && x->c[ci].cat == XC_MED) continue;
    char buf[64];
    size_t end;
    if (xr_parse_dose(d, t, c->s, buf, sizeof(buf), &end) && end + 2 >= c->s)
      cpy(m->dose, sizeof(m->dose), buf);
  }
  /* route from the name itself ("blue inhaler", "steroid cream") */
  for (uint32_t t = c->s; t < c->e && !m->route[0]; t++) {
    int32_t r = at(x, t, XC_DOSE, XD_ROUTE);
    if (r >= 0) snprintf(m->route, sizeof(m->route), "%s", ME(x, (size_t)r)->aux);
  }
}

static med *med_get(medlist *L, const xr_entry *e) {
  for (size_t i = 0; i < L->n; i++)
    if (L->v[i].e == e || strcmp(L->v[i].e->name, e->name) == 0) return &L->v[i];
  if (L->n == L->cap) {
    size_t ncap = L->cap ? L->cap * 2 : 16;
    med *nv = realloc(L->v, ncap * sizeof(*nv));
    if (!nv) return NULL;
    L->v = nv;
    L->cap = ncap;
  }
  med *m = &L->v[L->n++];
  memset(m, 0, sizeof(*m));
  m->e = e;
  return m;
}

static int status_rank(int st) {
  switch (st) {
    case ST_ALLERGIC: return 7;
    case ST_PRESCRIBED: return 6;
    case ST_STOPPED: return 5;
    case ST_DECLINED: return 4;
    case ST_RECOMMENDED: return 3;
    case ST_CURRENT: return 2;
    case ST_DISCUSSED: return 1;
    default: return 0;
  }
}

/* Does the class list "a,b,c" contain cls? */
static bool has_class(const char *list, const char *cls) {
  if (!list) return false;
  size_t n = strlen(cls);
  const char *p = list;
  while (*p) {
    const char *q = strchr(p, ',');
    size_t l = q ? (size_t)(q - p) : strlen(p);
    if (l == n && memcmp(p, cls, n) == 0) return true;
    if (!q) break;
    p = q + 1;
  }
  return false;
}

/* ---- allergies ------------------------------------------------------------ */

typedef struct allergy {
  const char *substance;
  uint32_t s, e;
  char reaction[64];
  char own[48]; /* a substance said in an allergy list but in no lexicon */
} allergy;

typedef struct allergylist {
  allergy v[32];
  size_t n;
  bool none, yes;
} allergylist;

static allergy *allergy_add(ctx *x, allergylist *A, const char *name, uint32_t s, uint32_t e) {
  for (size_t i = 0; i < A->n; i++)
    if (strcmp(A->v[i].substance, name) == 0) return NULL;
  if (A->n >= sizeof(A->v) / sizeof(A->v[0])) return NULL;
  allergy *a = &A->v[A->n++];
  a->substance = name;
  a->s = s;
  a->e = e;
  a->reaction[0] = '\0';
  A->yes = true;
  /* reaction: a symptom/sign after it in the same segment */
  const xr_seg *sg = &x->d.segs[x->d.toks[s].seg];
  for (uint32_t t = e; t < sg->t1 && t < e + 16; t++) {
    int32_t ci = x->ctok[t];
    if (ci < 0 || x->c[ci].s != t) continue;
    const concept *c = &x->c[ci];
    if (c->cat == XC_MED) break;
    const xr_entry *ce = E(x, c->entry);
    if (c->cat == XC_COND && (ce->kind != XK_DISEASE || strcmp(ce->name, "allergy") == 0 ||
                              strcmp(ce->name, "urticaria") == 0)) {
      span_text(x, c->s, c->e, a->reaction, sizeof(a->reaction));
      break;
    }
  }
  return a;
}

/* Marks the medication of concept ci as the allergy's substance. */
static void mark_allergic(ctx *x, medlist *M, int32_t ci) {
  if (ci < 0 || x->c[ci].cat != XC_MED) return;
  med *m = med_get(M, E(x, x->c[ci].entry));
  if (!m) return;
  if (!m->text[0]) {
    m->s = x->c[ci].s;
    m->e_tok = x->c[ci].e;
    span_text(x, x->c[ci].s, x->c[ci].e, m->text, sizeof(m->text));
  }
  m->status = ST_ALLERGIC;
}

/* Words that end or fill an allergy list, never a substance. */
static bool list_filler(const char *w) {
  static const char *const f[] = {"that", "this", "those", "these", "them", "stuff", "things",
                                  "thing", "everything", "anything", "something", "nothing",
                                  "which", "what", "well", "also", "too", "really", "very",
                                  "think", "believe", "know", "there", "then", "like", NULL};
  for (size_t i = 0; f[i]; i++)
    if (strcmp(f[i], w) == 0) return true;
  return false;
}

/* An item of an allergy list that no lexicon knows ("allergic to percocet
 * and regulin"): one unknown word of letters, ending the list or followed by a
 * separator.  Returns true and copies the word (lowercase) into out. */
static bool unknown_substance(const ctx *x, uint32_t t, uint32_t lim, char *out, size_t outlen) {
  const xr_tok *tk = &x->d.toks[t];
  if (tk->kind != XT_WORD || tk->id >= 0) return false;
  const xr_seg *sg = &x->d.segs[tk->seg];
  size_t n = tk->end - tk->start;
  if (n < 4 || n >= outlen) return false;
  for (size_t i = 0; i < n; i++) {
    char c = sg->text[tk->start + i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c < 'a' || c > 'z') return false;
    out[i] = c;
  }
  out[n] = '\0';
  if (list_filler(out)) return false;
  if (t + 1 < lim) {
    const xr_tok *nx = &x->d.toks[t + 1];
    if (nx->kind != XT_PUNCT && nx->id != x->w->and_ && nx->id != x->w->or_) return false;
  }
  return true;
}

/* Substance (medication concept or allergen) at token t; returns its end or 0. */
static uint32_t substance_at(ctx *x, uint32_t t, const char **name) {
  int32_t ci = x->ctok[t];
  if (ci >= 0 && x->c[ci].s == t && x->c[ci].cat == XC_MED) {
    *name = E(x, x->c[ci].entry)->name;
    return x->c[ci].e;
  }
  int32_t m = at(x, t, XC_ALLERGEN, 0);
  if (m >= 0) {
    *name = ME(x, (size_t)m)->name;
    return x->d.m[m].e;
  }
  return 0;
}

/* Substances listed from token t on ("penicillin and sulfa"); returns count. */
static int allergy_list_from(ctx *x, allergylist *A, uint32_t t, uint32_t lim, bool mark_meds,
                             medlist *M) {
  int found = 0, gap = 0;
  uint32_t t0 = t;
  while (t < lim && gap <= 3) {
    const char *name;
    uint32_t e = substance_at(x, t, &name);
    if (e) {
      allergy_add(x, A, name, t, e);
      if (mark_meds) mark_allergic(x, M, x->ctok[t]);
      found++;
      gap = 0;
      t = e;
      continue;
    }
    const xr_tok *tk = &x->d.toks[t];
    if (tk->kind == XT_PUNCT && tk->punct != ',') break;
    /* an unknown word right after the cue or after a list separator */
    char w[48];
    int32_t pid = t > t0 ? x->d.toks[t - 1].id : -2;
    bool after_sep = t == t0 || pid == x->w->and_ || pid == x->w->or_ ||
                     (x->d.toks[t - 1].kind == XT_PUNCT && x->d.toks[t - 1].punct == ',');
    if (after_sep && (t == t0 || found > 0) && unknown_substance(x, t, lim, w, sizeof(w))) {
      for (size_t i = 0; i < A->n; i++)
        if (strcmp(A->v[i].substance, w) == 0) goto next;
      if (A->n < sizeof(A->v) / sizeof(A->v[0])) {
        allergy *a = &A->v[A->n];
        cpy(a->own, sizeof(a->own), w);
        if (allergy_add(x, A, a->own, t, t + 1)) found++;
      }
    next:
      gap = 0;
      t++;
      continue;
    }
    gap++;
    t++;
  }
  return found;
}

/* Reactions that name their substance: "penicillin makes me break out",
 * "I get a rash with amoxicillin", "you suffer from itching with the X?"
 * (answered yes).  Not when negated ("it doesn't give me a rash") or when the
 * substance treats it ("hydrocortisone for the rash"). */
static bool blocks_reaction(const ctx *x, uint32_t t) {
  static const char *const b[] = {"for", "treat", "treats", "treated", "treating", "help",
                                  "helps", "helped", "better", "improve", "improved", "cleared",
                                  "settled", "on", "put", "use", "using", "apply", NULL};
  for (size_t i = 0; b[i]; i++)
    if (is_word(x, t, b[i])) return true;
  return false;
}

static void allergy_reactions(ctx *x, allergylist *A, medlist *M) {
  xr_doc *d = &x->d;
  int32_t w_never = xr_word_id(x->lx, "never");
  for (size_t k = 0; k < d->nm; k++) {
    const xr_entry *e = ME(x, k);
    if (e->cat != XC_CUE || (e->role != XQ_REACTION && e->role != XQ_REACTION_SIGN)) continue;
    uint32_t s = d->m[k].s, en = d->m[k].e;
    const xr_sent *se = sent_of(x, s);
    bool neg = false;
    for (uint32_t t = s > se->t0 + 3 ? s - 3 : se->t0; t < s; t++) {
      int32_t id = d->toks[t].id;
      if (id == x->w->not || id == x->w->no || (id >= 0 && id == w_never)) neg = true;
    }
    if (neg) continue;
    bool ok_treat = true;
    for (uint32_t t = se->t0; t < se->t1 && ok_treat; t++) {
      int32_t q = at(x, t, XC_CUE, 0);
      if (q >= 0) {
        int r = ME(x, (size_t)q)->role;
        if (r == XQ_RX || r == XQ_RECOMMEND || r == XQ_CURRENT) ok_treat = false;
      }
      if (blocks_reaction(x, t) && x->ctok[t] < 0) ok_treat = false;
    }
    if (!ok_treat) continue;
    /* "broke out in a sweat" */
    bool sweat = false;
    for (uint32_t t = en; t < se->t1 && t < en + 3; t++)
      if (is_word(x, t, "sweat")) sweat = true;
    if (sweat) continue;
    if (sent_is_question(x, se)) {
      qa q = find_qa(x, se->seg);
      if (q.qsent < 0 || s < q.q0 || s >= q.q1 || q.pol <= 0) continue;
    }
    uint32_t st = 0, sen = 0;
    const char *name = NULL;
    /* substance after: "rash with (the) X", "break out from X" */
    for (uint32_t t = en; t < se->t1 && t < en + 4 && !name; t++) {
      uint32_t e2 = substance_at(x, t, &name);
      if (e2) {
        st = t;
        sen = e2;
        break;
      }
      name = NULL;
      const xr_tok *tk = &d->toks[t];
      if (tk->kind == XT_PUNCT) break;
    }
    if (name) {
      /* the link must be "with/from/after/to/when" right after the cue */
      if (!(is_word(x, en, "with") || is_word(x, en, "from") || is_word(x, en, "after") ||
            is_word(x, en, "to") || is_word(x, en, "when")))
        name = NULL;
    }
    /* substance before (verbal cues only): "X makes me break out", "X, and that itched me" */
    if (!name && e->role == XQ_REACTION) {
      uint32_t lo = s > se->t0 + 8 ? s - 8 : se->t0;
      for (uint32_t t = s; t > lo && !name; t--) {
        int32_t ci = x->ctok[t - 1];
        int32_t tid = d->toks[t - 1].id;
        /* "but", "because" end the link; a subject ("X, I break out") does not */
        if (ci < 0 && is_term(x, t - 1) && tid != x->w->i && tid != x->w->he &&
            tid != x->w->she && tid != x->w->they && tid != x->w->we)
          break;
        const char *nm = NULL;
        uint32_t e2 = 0;
        if (ci >= 0 && x->c[ci].cat == XC_MED) {
          nm = E(x, x->c[ci].entry)->name;
          st = x->c[ci].s;
          e2 = x->c[ci].e;
        } else {
          int32_t m = at(x, t - 1, XC_ALLERGEN, 0);
          if (m >= 0 && d->m[m].e <= s) {
            nm = ME(x, (size_t)m)->name;
            st = t - 1;
            e2 = d->m[m].e;
          }
        }
        if (nm) {
          name = nm;
          sen = e2;
        }
      }
    }
    if (!name) continue;
    allergy *a = allergy_add(x, A, name, st, sen);
    if (a && !a->reaction[0]) span_text(x, s, en, a->reaction, sizeof(a->reaction));
    mark_allergic(x, M, x->ctok[st]);
  }
}

static void allergies(ctx *x, allergylist *A, medlist *M) {
  xr_doc *d = &x->d;
  for (size_t k = 0; k < d->nm; k++) {
    const xr_entry *e = ME(x, k);
    if (e->cat != XC_CUE) continue;
    uint32_t s = d->m[k].s, en = d->m[k].e;
    const xr_sent *se = sent_of(x, s);
    if (e->role == XQ_ALLERGY_NONE) {
      A->none = true;
      continue;
    }
    if (e->role == XQ_ALLERGY) {
      /* "not allergic to": skip */
      bool neg = false;
      for (uint32_t t = s > se->t0 + 3 ? s - 3 : se->t0; t < s; t++) {
        int32_t id = d->toks[t].id;
        if (id == x->w->not || id == x->w->no) neg = true;
      }
      if (neg) continue;
      if (!sent_is_question(x, se)) {
        allergy_list_from(x, A, en, se->t1, true, M);
        continue;
      }
      /* "you're allergic to augmentin, is that right?" - unless answered no */
      {
        qa q0 = find_qa(x, se->seg);
        if (q0.qsent >= 0 && s >= q0.q0 && s < q0.q1 && q0.pol > 0)
          allergy_list_from(x, A, en, se->t1, true, M);
      }
    }
    if (e->role == XQ_ALLERGY_ASK || e->role == XQ_ALLERGY) {
      /* part of a longer concept: "seasonal allergies", "allergic rhinitis" */
      int32_t cc = x->ctok[s];
      if (cc >= 0 && (x->c[cc].s < s || x->c[cc].e > en)) continue;
      /* "penicillin allergy" */
      if (e->role == XQ_ALLERGY_ASK && s > se->t0) {
        int32_t ci = x->ctok[s - 1];
        const char *name = NULL;
        uint32_t st = 0;
        if (ci >= 0 && x->c[ci].cat == XC_MED) {
          name = E(x, x->c[ci].entry)->name;
          st = x->c[ci].s;
        } else {
          for (uint32_t t = s > se->t0 + 3 ? s - 3 : se->t0; t < s && !name; t++) {
            int32_t m = at(x, t, XC_ALLERGEN, 0);
            if (m >= 0 && d->m[m].e == s) {
              name = ME(x, (size_t)m)->name;
              st = t;
            }
          }
        }
        if (name) {
          bool neg = false;
          for (uint32_t t = st > se->t0 + 3 ? st - 3 : se->t0; t < st; t++)
            if (d->toks[t].id == x->w->no || d->toks[t].id == x->w->not) neg = true;
          if (!neg && !sent_is_question(x, se)) {
            allergy_add(x, A, name, st, s);
            mark_allergic(x, M, ci);
          }
        }
      }
      /* the allergy question and its answer */
      if (!sent_is_question(x, se)) continue;
      size_t si = se->seg;
      qa q = find_qa(x, si);
      if (q.qsent < 0 || s < q.q0 || s >= q.q1) continue;
      const xr_seg *as = &d->segs[q.aseg];
      if (q.pol < 0) {
        /* "no" - but "no, just penicillin" is not none */
        A->none = true;
        continue;
      }
      const xr_sent *fs = sent_of(x, as->t0 < as->t1 ? as->t0 : 0);
      uint32_t lim = as->t1;
      (void)fs;
      for (uint32_t t = as->t0; t < lim; t++) {
        const char *name;
        uint32_t e2 = substance_at(x, t, &name);
        if (!e2) continue;
        /* not when the patient negates it */
        int32_t ci = x->ctok[t];
        if (ci >= 0 && (x->c[ci].flags & CF_NEG)) {
          t = e2 - 1;
          continue;
        }
        allergy_list_from(x, A, t, lim, true, M);
        break;
      }
    }
  }
  allergy_reactions(x, A, M);
  if (A->n > 0) A->none = false;
}

/* ---- diagnoses ------------------------------------------------------------ */

enum { CE_NONE = 0, CE_RULED_OUT, CE_POSSIBLE, CE_LIKELY, CE_CONFIRMED };
static const char *cert_name[] = {"", "ruled_out", "possible", "likely", "confirmed"};

typedef struct dx {
  const xr_entry *e;
  uint32_t s, e_tok;
  double best, total;
  int cert;
  int count;
  bool history_only;
  bool ruled_out;
} dx;

static void diagnoses(ctx *x, dx *D, size_t *nd, size_t maxd) {
  xr_doc *d = &x->d;
  for (size_t i = 0; i < x->nc; i++) {
    concept *c = &x->c[i];
    if (c->cat != XC_COND) continue;
    const xr_entry *ce = E(x, c->entry);
    if (strcmp(ce->name, "allergy") == 0 || strcmp(ce->name, "injury") == 0 ||
        strcmp(ce->name, "pain") == 0 || strcmp(ce->name, "swelling") == 0)
      continue;
    if (c->flags & (CF_HYPO | CF_FAMILY)) continue;
    if (c->flags & CF_QNOANS) continue;
    const xr_sent *s = sent_of(x, c->s);
    uint8_t spk = speaker_of(x, c->s);
    double score = 0;
    int cert = CE_NONE;
    bool ruled_out = false;
    /* nearest assessment cue before, within the sentence and 10 tokens */
    uint32_t lo = c->s > s->t0 + 10 ? c->s - 10 : s->t0;
    int cue = 0;
    uint32_t cue_end = 0;
    for (uint32_t t = lo; t < c->s; t++) {
      for (uint32_t k = d->mfirst[t]; k < d->mfirst[t + 1]; k++) {
        const xr_entry *e = ME(x, k);
        if (e->cat != XC_CUE || e->role < XQ_DX_CONFIRMED || e->role > XQ_DX_PLAN) continue;
        if (d->m[k].e > c->s) continue;
        if (d->m[k].e > cue_end) {
          cue = e->role;
          cue_end = d->m[k].e;
        }
      }
    }
    if (cue && c->s - cue_end > 4 && cue == XQ_DX_PLAN) cue = 0;
    switch (cue) {
      case XQ_DX_PLAN: score += 3; cert = CE_CONFIRMED; break;
      case XQ_DX_CONFIRMED: score += 2.5; cert = CE_CONFIRMED; break;
      case XQ_DX_LIKELY: score += 3; cert = CE_LIKELY; break;
      case XQ_DX_POSSIBLE: score += 2; cert = CE_POSSIBLE; break;
      case XQ_DX_RULED_OUT: ruled_out = true; cert = CE_RULED_OUT; break;
      default: break;
    }
    if (c->flags & (CF_NEG | CF_QNEG)) {
      if (spk == XS_DOCTOR && (cue == XQ_DX_LIKELY || cue == XQ_DX_CONFIRMED || cue == XQ_DX_RULED_OUT)) {
        ruled_out = true;
        cert = CE_RULED_OUT;
      } else {
        continue;
      }
    }
    /* assessment section earlier in the segment */
    const xr_seg *sg = &d->segs[d->toks[c->s].seg];
    for (uint32_t t = sg->t0; t < c->s; t++) {
      int32_t m = at(x, t, XC_CUE, XQ_DX_SECTION);
      if (m >= 0) {
        score += 1.5;
        if (cert == CE_NONE) cert = CE_CONFIRMED;
        break;
      }
    }
    if (spk == XS_DOCTOR) score += 1;
    else if (spk == XS_UNKNOWN) score += 0.5;
    /* "your X" */
    if (c->s > s->t0 && d->toks[c->s - 1].id == x->w->your) score += 0.5;
    if (c->flags & CF_HISTORY) score -= 1.5;
    if (ce->kind == XK_SYMPTOM) score -= 1.5;
    else if (ce->kind == XK_SIGN) score -= 0.5;
    if (d->ntoks && (double)c->s / (double)d->ntoks > 0.6) score += 1;
    if (c->flags & CF_QYES) score += 0.5;
    /* aggregate */
    dx *D0 = NULL;
    for (size_t k = 0; k < *nd; k++)
      if (strcmp(D[k].e->name, ce->name) == 0) D0 = &D[k];
    if (!D0) {
      if (*nd >= maxd) continue;
      D0 = &D[(*nd)++];
      memset(D0, 0, sizeof(*D0));
      D0->e = ce;
      D0->best = -100;
      D0->history_only = true;
      D0->ruled_out = true;
    }
    D0->count++;
    if (!(c->flags & CF_HISTORY)) D0->history_only = false;
    if (!ruled_out) D0->ruled_out = false;
    if (score > D0->best) {
      D0->best = score;
      D0->s = c->s;
      D0->e_tok = c->e;
      if (!ruled_out || D0->cert == CE_NONE) D0->cert = cert;
    }
  }
  for (size_t k = 0; k < *nd; k++) {
    dx *g = &D[k];
    double extra = 0.5 * (g->count - 1);
    if (extra > 2) extra = 2;
    g->total = g->best + extra;
    if (g->cert == CE_NONE) g->cert = CE_LIKELY;
    if (g->ruled_out) g->cert = CE_RULED_OUT;
  }
  /* the specific over the generic: "fracture" and "lisfranc fracture",
   * "diabetes" and "type 2 diabetes" are one problem, named by the longer */
  for (size_t k = 0; k < *nd; k++) {
    dx *g = &D[k];
    if (g->ruled_out) continue;
    const char *gn = g->e->name;
    size_t gl = strlen(gn);
    for (size_t j = 0; j < *nd; j++) {
      dx *h = &D[j];
      if (j == k || h->ruled_out) continue;
      const char *hn = h->e->name;
      size_t hl = strlen(hn);
      if (hl <= gl) continue;
      const char *p = strstr(hn, gn);
      bool word = p && (p == hn || p[-1] == ' ') && (p[gl] == '\0' || p[gl] == ' ');
      if (!word) continue;
      if (g->total > h->total) h->total = g->total;
      h->total += 0.25;
      h->history_only = h->history_only && g->history_only;
      g->total = -100;
      break;
    }
  }
}

/* ---- follow-up ------------------------------------------------------------ */

typedef struct followup {
  bool found;
  bool has_interval;
  int min_days, max_days;
  uint32_t s, e; /* evidence span */
  double score;
} followup;

/* Follow-up cue nearest to the interval [t, end) within the sentence:
 * returns the match index and sets *kind (0 cue, 1 weak, 2 safety). */
static int32_t fu_cue_near(const ctx *x, const xr_sent *s, uint32_t t, uint32_t end, int *kind) {
  const xr_doc *d = &x->d;
  uint32_t lo = t > s->t0 + 12 ? t - 12 : s->t0;
  uint32_t hi = end + 8 < s->t1 ? end + 8 : s->t1;
  int32_t best = -1;
  uint32_t bestdist = 1000;
  for (uint32_t j = lo; j < hi; j++) {
    for (uint32_t k = d->mfirst[j]; k < d->mfirst[j + 1]; k++) {
      const xr_entry *e = ME(x, k);
      if (e->cat != XC_FU || (e->role != XF_CUE && e->role != XF_WEAK && e->role != XF_SAFETY))
        continue;
      uint32_t ms = d->m[k].s, me = d->m[k].e;
      if (me > s->t1) continue;
      /* pseudo-cues ("nice to see you") overlapping it */
      bool pseudo = false;
      for (uint32_t p = ms > 3 ? ms - 3 : 0; p <= ms && !pseudo; p++) {
        int32_t pm = at(x, p, XC_FU, XF_PSEUDO);
        if (pm >= 0 && d->m[pm].e > ms) pseudo = true;
      }
      if (pseudo) continue;
      uint32_t dist = me <= t ? t - me : (ms >= end ? ms - end : 0);
      int kk = e->role == XF_CUE ? 0 : e->role == XF_WEAK ? 1 : 2;
      /* a strong cue a little further away beats a nearer weak one */
      uint32_t eff = dist + 4u * (uint32_t)kk;
      if (eff < bestdist) {
        bestdist = eff;
        best = (int32_t)k;
        *kind = kk;
      }
    }
  }
  return best;
}

static void follow_up(ctx *x, followup *F) {
  xr_doc *d = &x->d;
  memset(F, 0, sizeof(*F));
  F->score = -1e9;
  const xr_words *w = x->w;
  int32_t w_if = xr_word_id(x->lx, "if"), w_unless = xr_word_id(x->lx, "unless");
  for (size_t si = 0; si < d->nsents; si++) {
    const xr_sent *s = &d->sents[si];
    uint8_t spk = d->segs[s->seg].speaker;
    bool cond = false;
    for (uint32_t t = s->t0; t < s->t1; t++)
      if (d->toks[t].id >= 0 && (d->toks[t].id == w_if || d->toks[t].id == w_unless)) cond = true;
    for (uint32_t t = s->t0; t < s->t1; t++) {
      int mn, mx;
      size_t end;
      if (!xr_parse_interval(d, t, s->t1, &mn, &mx, &end)) continue;
      /* not a history ("two weeks ago", "for the past month") or an age */
      int32_t prev = t > s->t0 ? d->toks[t - 1].id : -2;
      int32_t nxt = end < s->t1 ? d->toks[end].id : -2;
      /* nor a frequency ("once a day", "twice a week", "per month") */
      bool freq = t > s->t0 && (tok_text_is(x, t - 1, "times") || prev == w->per ||
                                is_word(x, t - 1, "once") || is_word(x, t - 1, "twice"));
      bool old_ = end < s->t1 && is_word(x, (uint32_t)end, "old");
      if (nxt == w->ago || old_ || prev == w->past || prev == w->last || prev == w->for_ || freq) {
        t = (uint32_t)end - 1;
        continue;
      }
      int kind = 0;
      int32_t use = fu_cue_near(x, s, t, (uint32_t)end, &kind);
      double sc;
      uint32_t ev_s = t, ev_e = (uint32_t)end;
      if (use < 0 && si + 1 < d->nsents && d->sents[si + 1].seg == s->seg) {
        /* "it should settle in the next week or so. if it's not better, come
         * back": the time, then a conditional return in the next sentence */
        const xr_sent *ns = &d->sents[si + 1];
        bool ncond = false;
        int32_t ncue = -1;
        for (uint32_t j = ns->t0; j < ns->t1 && j < ns->t0 + 14; j++) {
          int32_t id = d->toks[j].id;
          if (id >= 0 && (id == w_if || id == w_unless)) ncond = true;
          if (ncue < 0) ncue = at(x, j, XC_FU, XF_CUE);
        }
        if (ncond && ncue >= 0 && mn > 0) {
          kind = 1;
          use = -2; /* scored below, evidence is the time */
        }
      }
      if (use == -2) {
        sc = 3;
      } else if (use < 0) {
        /* a short answer ("in a year") to a question about coming back */
        const xr_seg *sg = &d->segs[s->seg];
        if (s->seg == 0 || t > sg->t0 + 3) {
          t = (uint32_t)end - 1;
          continue;
        }
        const xr_seg *pv = &d->segs[s->seg - 1];
        int32_t pc = -1;
        for (uint32_t j = pv->t0; j < pv->t1 && pc < 0; j++) pc = at(x, j, XC_FU, XF_CUE);
        if (pc < 0) {
          t = (uint32_t)end - 1;
          continue;
        }
        sc = 4;
      } else if (kind == 0) {
        sc = 5;
      } else if (kind == 1) {
        sc = 2;
      } else {
        sc = cond ? 0.5 : 4;
      }
      if (use >= 0) {
        if (d->m[use].s < ev_s) ev_s = d->m[use].s;
        if (d->m[use].e > ev_e) ev_e = d->m[use].e;
      }
      if (mn == 0 && mx == 0 && kind != 2) sc -= 5; /* "today" next to a cue: a greeting */
      if (spk == XS_PATIENT) sc -= 1.5;
      else if (spk == XS_DOCTOR) sc += 0.5;
      sc += 2.0 * (double)t / (double)(d->ntoks ? d->ntoks : 1);
      if (sc > F->score) {
        F->found = true;
        F->has_interval = true;
        F->min_days = mn;
        F->max_days = mx;
        F->s = ev_s;
        F->e = ev_e;
        F->score = sc;
      }
      t = (uint32_t)end - 1;
    }
    /* a follow-up without a time */
    if (!F->found && spk != XS_PATIENT) {
      for (uint32_t t = s->t0; t < s->t1; t++) {
        int32_t cue = at(x, t, XC_FU, XF_CUE);
        if (cue < 0) continue;
        int32_t fid = d->toks[t].id;
        if (fid == xr_word_id(x->lx, "follow") || fid == xr_word_id(x->lx, "come") ||
            fid == xr_word_id(x->lx, "return")) {
          F->found = true;
          F->has_interval = false;
          F->s = t;
          F->e = s->t1;
          F->score = -100;
          break;
        }
      }
    }
  }
}

/* ---- output --------------------------------------------------------------- */

static int add_item(json_t *arr, json_t *item) {
  if (!item || json_array_append_new(arr, item) != 0) return SCRIBE_ENOMEM;
  return 0;
}

static bool seen_name(const char **names, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(names[i], s) == 0) return true;
  return false;
}

/* Appends to the notes buffer (truncating at its end). */
static void note_add(char *b, size_t cap, size_t *n, const char *fmt, ...) {
  if (*n + 1 >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(b + *n, cap - *n, fmt, ap);
  va_end(ap);
  if (k < 0) return;
  *n += (size_t)k < cap - *n ? (size_t)k : cap - *n - 1;
}

/* notes: a one-paragraph plain-text summary of what was found, for the
 * clinician to read or paste ("Impression: ... Medications: ..."); null when
 * nothing was found. */
static json_t *make_notes(json_t *o) {
  char b[2048];
  size_t n = 0;
  size_t i;
  json_t *v;
  const char *dx = json_string_value(json_object_get(o, "diagnosis"));
  if (dx) note_add(b, sizeof(b), &n, "Impression: %s.", dx);
  const char *sep = " Medications: ";
  json_array_foreach(json_object_get(o, "medications"), i, v) {
    const char *st = json_string_value(json_object_get(v, "status"));
    if (st && strcmp(st, "allergic") == 0) continue;
    const char *dose = json_string_value(json_object_get(v, "dose"));
    const char *fr = json_string_value(json_object_get(v, "frequency"));
    note_add(b, sizeof(b), &n, "%s%s%s%s%s%s (%s)", sep, json_string_value(json_object_get(v, "name")),
             dose ? " " : "", dose ? dose : "", fr ? " " : "", fr ? fr : "", st ? st : "");
    sep = "; ";
  }
  if (strcmp(sep, "; ") == 0) note_add(b, sizeof(b), &n, ".");
  sep = " Allergies: ";
  json_array_foreach(json_object_get(o, "allergies"), i, v) {
    const char *re = json_string_value(json_object_get(v, "reaction"));
    note_add(b, sizeof(b), &n, "%s%s%s%s%s", sep, json_string_value(json_object_get(v, "substance")),
             re ? " (" : "", re ? re : "", re ? ")" : "");
    sep = "; ";
  }
  if (strcmp(sep, "; ") == 0) note_add(b, sizeof(b), &n, ".");
  const char *st = json_string_value(json_object_get(o, "allergies_stated"));
  if (st && strcmp(st, "none") == 0) note_add(b, sizeof(b), &n, " No known allergies.");
  sep = " Denies: ";
  json_array_foreach(json_object_get(o, "negations"), i, v) {
    note_add(b, sizeof(b), &n, "%s%s", sep, json_string_value(json_object_get(v, "finding")));
    sep = ", ";
  }
  if (strcmp(sep, ", ") == 0) note_add(b, sizeof(b), &n, ".");
  json_t *iv = json_object_get(o, "follow_up_interval");
  if (json_is_object(iv)) {
    json_int_t a = json_integer_value(json_object_get(iv, "min_days"));
    json_int_t z = json_integer_value(json_object_get(iv, "max_days"));
    if (a == z)
      note_add(b, sizeof(b), &n, " Follow-up: %lld day%s.", (long long)a, a == 1 ? "" : "s");
    else
      note_add(b, sizeof(b), &n, " Follow-up: %lld-%lld days.", (long long)a, (long long)z);
  } else if (json_is_string(json_object_get(o, "follow_up"))) {
    note_add(b, sizeof(b), &n, " Follow-up planned (no time given).");
  }
  size_t s0 = 0;
  while (s0 < n && b[s0] == ' ') s0++;
  return n > s0 ? json_string(b + s0) : json_null();
}

static int build_output(ctx *x, json_t **out) {
  xr_doc *d = &x->d;
  int rc = SCRIBE_ENOMEM;
  json_t *o = json_object();
  json_t *meds = json_array(), *dxs = json_array(), *alls = json_array(), *negs = json_array(),
         *syms = json_array(), *tasks = json_array(), *vitals = json_array();
  medlist M = {0};
  allergylist *A = calloc(1, sizeof(*A));
  dx *D = calloc(256, sizeof(*D));
  const char **seen = calloc(x->nc + 1, sizeof(*seen));
  size_t nseen = 0;
  if (!o || !meds || !dxs || !alls || !negs || !syms || !tasks || !vitals || !A || !D || !seen)
    goto fail;

  /* allergies first: they mark medications as allergic */
  allergies(x, A, &M);

  /* medications */
  for (size_t i = 0; i < x->nc; i++) {
    concept *c = &x->c[i];
    if (c->cat != XC_MED) continue;
    const xr_entry *e = E(x, c->entry);
    const xr_sent *s = sent_of(x, c->s);
    med *cur = NULL;
    for (size_t k = 0; k < M.n; k++)
      if (strcmp(M.v[k].e->name, e->name) == 0) cur = &M.v[k];
    if (cur && cur->status == ST_ALLERGIC) continue;
    /* allergy context mentions were handled above */
    bool in_allergy = false;
    for (uint32_t t = s->t0; t < c->s; t++)
      if (at(x, t, XC_CUE, XQ_ALLERGY) >= 0) in_allergy = true;
    if (in_allergy) continue;
    int st = med_status(x, c, s->t0, s->t1);
    bool neg = (c->flags & CF_NEG) || neg_before(x, c, s->t0);
    if (c->flags & CF_QNEG) neg = true;
    if (neg && st != ST_STOPPED && st != ST_DECLINED) continue;
    if (c->flags & CF_HYPO) {
      if (st == ST_NONE || st == ST_CURRENT) st = ST_DISCUSSED;
    }
    if (c->flags & CF_FAMILY) continue;
    if (st == ST_NONE) st = ST_CURRENT;
    if ((c->flags & CF_QNOANS) && st == ST_CURRENT && speaker_of(x, c->s) != XS_PATIENT)
      st = ST_DISCUSSED;
    med *m = med_get(&M, e);
    if (!m) goto fail;
    if (!m->text[0]) {
      m->s = c->s;
      m->e_tok = c->e;
      span_text(x, c->s, c->e, m->text, sizeof(m->text));
    }
    if (status_rank(st) > status_rank(m->status)) m->status = st;
    med_details(x, m, c, s);
  }
  /* class words only when no named drug of that class was mentioned */
  for (size_t i = 0; i < M.n; i++) {
    med *m = &M.v[i];
    if (m->e->kind != XK_CLASS) continue;
    for (size_t k = 0; k < M.n; k++)
      if (k != i && M.v[k].e->kind != XK_CLASS && has_class(M.v[k].e->aux, m->e->name))
        m->any_named = true;
  }
  for (size_t i = 0; i < M.n; i++) {
    med *m = &M.v[i];
    if (m->e->kind == XK_CLASS && m->any_named) continue;
    const char *cls = m->e->aux;
    char clsbuf[64] = "";
    if (cls) {
      const char *comma = strchr(cls, ',');
      size_t l = comma ? (size_t)(comma - cls) : strlen(cls);
      if (l >= sizeof(clsbuf)) l = sizeof(clsbuf) - 1;
      memcpy(clsbuf, cls, l);
      clsbuf[l] = '\0';
    }
    json_t *it = json_pack("{s:s,s:s,s:o,s:s,s:o,s:o,s:o,s:o,s:b,s:o}", "name", m->e->name,
                           "text", m->text, "class", str_or_null(clsbuf), "status",
                           status_name[m->status ? m->status : ST_CURRENT], "dose",
                           str_or_null(m->dose), "route", str_or_null(m->route), "frequency",
                           str_or_null(m->freq), "duration", str_or_null(m->duration),
                           "as_needed", m->prn, "evidence", evidence(x, m->s, m->e_tok));
    if (add_item(meds, it)) goto fail;
  }

  /* allergies */
  for (size_t i = 0; i < A->n; i++) {
    allergy *a = &A->v[i];
    json_t *it = json_pack("{s:s,s:o,s:o}", "substance", a->substance, "reaction",
                           str_or_null(a->reaction), "evidence", evidence(x, a->s, a->e));
    if (add_item(alls, it)) goto fail;
  }

  /* diagnoses */
  size_t nd = 0;
  diagnoses(x, D, &nd, 256);
  {
    /* order by score; main = best non-ruled-out, non-history */
    for (size_t i = 1; i < nd; i++) {
      dx tmp = D[i];
      size_t j = i;
      while (j > 0 && D[j - 1].total < tmp.total) {
        D[j] = D[j - 1];
        j--;
      }
      D[j] = tmp;
    }
    int main_i = -1;
    for (size_t i = 0; i < nd && main_i < 0; i++)
      if (!D[i].ruled_out && !D[i].history_only && D[i].total >= 2.0) main_i = (int)i;
    for (size_t i = 0; i < nd && main_i < 0; i++)
      if (!D[i].ruled_out && D[i].total >= 0.5) main_i = (int)i;
    if (main_i > 0) {
      dx tmp = D[main_i];
      memmove(&D[1], &D[0], (size_t)main_i * sizeof(*D));
      D[0] = tmp;
      main_i = 0;
    }
    for (size_t i = 0; i < nd; i++) {
      bool keep = (int)i == main_i || (D[i].total >= 2.5 && !D[i].history_only) ||
                  (D[i].ruled_out && D[i].total >= 2.0);
      if (!keep) continue;
      json_t *it = json_pack("{s:s,s:s,s:b,s:o}", "name", D[i].e->name, "certainty",
                             cert_name[D[i].cert], "main", (int)i == main_i, "evidence",
                             evidence(x, D[i].s, D[i].e_tok));
      if (add_item(dxs, it)) goto fail;
    }
    if (json_object_set_new(o, "diagnosis", main_i >= 0 ? json_string(D[main_i].e->name)
                                                        : json_null()))
      goto fail;
  }

  /* vital signs */
  for (size_t k = 0; k < d->nm; k++) {
    const xr_entry *e = ME(x, k);
    if (e->cat != XC_TEST || e->kind != XK_VITAL) continue;
    uint32_t s = d->m[k].s, en = d->m[k].e;
    int32_t ci = x->ctok[s];
    if (ci >= 0 && x->c[ci].cat == XC_MED) continue; /* "blood pressure medication" */
    const xr_sent *se = sent_of(x, s);
    uint32_t t = en;
    for (int skip = 0; skip < 4 && t < se->t1; skip++) {
      const xr_tok *tk = &d->toks[t];
      if (tk->kind == XT_NUM) break;
      double v;
      size_t e2;
      if (xr_parse_number(d, t, se->t1, &v, &e2)) break;
      t++;
    }
    double v1, v2 = -1;
    size_t e2;
    if (t >= se->t1 || !xr_parse_number(d, t, se->t1, &v1, &e2)) continue;
    if (d->toks[t].kind != XT_NUM && v1 < 10) continue; /* "one of", "a" */
    char value[48], unit[16] = "";
    const char *vn = e->name;
    if (strcmp(vn, "blood pressure") == 0) {
      if (e2 < se->t1 && (d->toks[e2].id == x->w->over_ || d->toks[e2].id == x->w->slash) &&
          xr_parse_number(d, e2 + 1, se->t1, &v2, &e2)) {
        snprintf(value, sizeof(value), "%.0f/%.0f", v1, v2);
        snprintf(unit, sizeof(unit), "mmHg");
      } else {
        continue;
      }
    } else {
      snprintf(value, sizeof(value), "%g", v1);
      if (strcmp(vn, "heart rate") == 0) snprintf(unit, sizeof(unit), "bpm");
      else if (strcmp(vn, "temperature") == 0) snprintf(unit, sizeof(unit), v1 > 45 ? "F" : "C");
      else if (strcmp(vn, "oxygen saturation") == 0) snprintf(unit, sizeof(unit), "%%");
      else if (strcmp(vn, "respiratory rate") == 0) snprintf(unit, sizeof(unit), "/min");
      else if (strcmp(vn, "blood sugar") == 0) snprintf(unit, sizeof(unit), v1 > 35 ? "mg/dL" : "mmol/L");
      else if (strcmp(vn, "weight") == 0 || strcmp(vn, "height") == 0) {
        int32_t id = e2 < se->t1 ? d->toks[e2].id : -1;
        if (id == x->w->pound || id == x->w->lb) snprintf(unit, sizeof(unit), "lb");
        else if (id == x->w->kg || id == x->w->kilo) snprintf(unit, sizeof(unit), "kg");
        else if (id == x->w->stone) snprintf(unit, sizeof(unit), "st");
        else if (id == x->w->cm) snprintf(unit, sizeof(unit), "cm");
        else if (id == x->w->foot) snprintf(unit, sizeof(unit), "ft");
        else if (id == x->w->inch) snprintf(unit, sizeof(unit), "in");
        if (unit[0]) e2++;
      }
    }
    bool dup = false;
    for (size_t j = 0; j < json_array_size(vitals); j++) {
      json_t *vv = json_array_get(vitals, j);
      if (strcmp(json_string_value(json_object_get(vv, "name")), vn) == 0 &&
          strcmp(json_string_value(json_object_get(vv, "value")), value) == 0)
        dup = true;
    }
    if (dup) continue;
    json_t *it = json_pack("{s:s,s:s,s:o,s:o}", "name", vn, "value", value, "unit",
                           str_or_null(unit), "evidence", evidence(x, s, (uint32_t)e2));
    if (add_item(vitals, it)) goto fail;
    if (ci >= 0) x->c[ci].flags |= CF_VITAL;
  }

  /* negations and symptoms */
  nseen = 0;
  int32_t w_ever = xr_word_id(x->lx, "ever"), w_before = xr_word_id(x->lx, "before"),
          w_previously = xr_word_id(x->lx, "previously"), w_prior = xr_word_id(x->lx, "prior");
  for (size_t i = 0; i < x->nc; i++) {
    concept *c = &x->c[i];
    if (c->cat != XC_COND) continue;
    if (!(c->flags & (CF_NEG | CF_QNEG))) continue;
    /* a hypothetical word inside a question answered "no" ("anything I
     * might be missing? nausea?") does not undo the answer */
    if ((c->flags & CF_HYPO) && !(c->flags & CF_QNEG)) continue;
    if (c->flags & CF_QYES) continue;
    const xr_entry *e = E(x, c->entry);
    if (strcmp(e->name, "allergy") == 0) continue; /* allergies_stated says it */
    char name[160];
    bool previous = (c->flags & CF_HISTORY) != 0;
    if (!previous) {
      /* "have you ever had ...", "... before?" */
      const xr_sent *s = sent_of(x, c->s);
      for (uint32_t t = s->t0; t < s->t1 && !previous; t++) {
        int32_t id = d->toks[t].id;
        if (id >= 0 && (id == w_ever || id == w_before || id == w_previously || id == w_prior))
          previous = true;
      }
    }
    /* "I've never had a kidney stone" */
    for (uint32_t j = c->s; !previous && j > 0 && j + 4 > c->s; j--)
      if (is_word(x, j - 1, "never") && j < c->s &&
          (is_word(x, j, "had") || is_word(x, j, "been")))
        previous = true;
    if (c->flags & CF_FAMILY)
      snprintf(name, sizeof(name), "family history of %s", e->name);
    else if (previous)
      snprintf(name, sizeof(name), "previous %s", e->name);
    else
      snprintf(name, sizeof(name), "%s", e->name);
    bool dup = false;
    for (size_t k = 0; k < (size_t)json_array_size(negs); k++) {
      json_t *f = json_object_get(json_array_get(negs, k), "finding");
      if (f && strcmp(json_string_value(f), name) == 0) dup = true;
    }
    if (dup) continue;
    json_t *it = json_pack("{s:s,s:o}", "finding", name, "evidence",
                           evidence(x, c->s, finding_tail(x, c)));
    if (add_item(negs, it)) goto fail;
  }
  for (size_t i = 0; i < x->nfneg; i++) {
    const freeneg *f = &x->fneg[i];
    char said[160], name[200];
    span_text(x, f->s, f->e, said, sizeof(said));
    for (char *p = said; *p; p++)
      if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    snprintf(name, sizeof(name), "%s%s", f->previous ? "previous " : "", said);
    json_t *it = json_pack("{s:s,s:o}", "finding", name, "evidence", evidence(x, f->s, f->e));
    if (add_item(negs, it)) goto fail;
  }
  nseen = 0;
  for (size_t i = 0; i < x->nc; i++) {
    concept *c = &x->c[i];
    if (c->cat != XC_COND) continue;
    const xr_entry *e = E(x, c->entry);
    if (e->kind != XK_SYMPTOM) continue;
    if (c->flags & (CF_NEG | CF_QNEG | CF_HYPO | CF_FAMILY | CF_QNOANS | CF_VITAL)) continue;
    if ((c->flags & CF_QUESTION) && !(c->flags & CF_QYES)) continue;
    if (seen_name(seen, nseen, e->name)) continue;
    seen[nseen++] = e->name;
    json_t *it = json_pack("{s:s,s:o}", "name", e->name, "evidence", evidence(x, c->s, c->e));
    if (add_item(syms, it)) goto fail;
  }

  /* tasks: tests and referrals with an ordering cue */
  nseen = 0;
  for (size_t i = 0; i < x->nc; i++) {
    concept *c = &x->c[i];
    if (c->cat != XC_TEST) continue;
    const xr_entry *e = E(x, c->entry);
    if (e->kind == XK_VITAL) continue;
    if (c->flags & (CF_NEG | CF_HYPO | CF_QUESTION | CF_HISTORY)) continue;
    if (speaker_of(x, c->s) == XS_PATIENT) continue;
    const xr_sent *s = sent_of(x, c->s);
    uint32_t lo = c->s > s->t0 + 8 ? c->s - 8 : s->t0;
    int32_t cue = -1;
    for (uint32_t t = lo; t < c->s && cue < 0; t++) {
      int32_t m = at(x, t, XC_CUE, XQ_TASK);
      if (m >= 0 && d->m[m].e <= c->s) cue = m;
    }
    if (cue < 0) continue;
    if (seen_name(seen, nseen, e->name)) continue;
    seen[nseen++] = e->name;
    char text[160];
    if (e->kind == XK_REFERRAL)
      snprintf(text, sizeof(text), "referral: %s", e->name);
    else
      snprintf(text, sizeof(text), "%s", e->name);
    json_t *it = json_pack("{s:s,s:o}", "text", text, "evidence",
                           evidence(x, d->m[cue].s, c->e));
    if (add_item(tasks, it)) goto fail;
  }

  /* follow-up */
  {
    followup F;
    follow_up(x, &F);
    if (F.found) {
      char txt[400], said[300];
      uint32_t e = F.e;
      if (e > F.s + 40) e = F.s + 40;
      span_text(x, F.s, e, said, sizeof(said));
      /* drop trailing punctuation */
      size_t l = strlen(said);
      while (l && (said[l - 1] == '.' || said[l - 1] == ',' || said[l - 1] == '?' ||
                   said[l - 1] == ' ' || said[l - 1] == ';'))
        said[--l] = '\0';
      if (F.has_interval) {
        if (F.min_days == F.max_days)
          snprintf(txt, sizeof(txt), "%s (%d day%s)", said, F.min_days, F.min_days == 1 ? "" : "s");
        else
          snprintf(txt, sizeof(txt), "%s (%d-%d days)", said, F.min_days, F.max_days);
      } else {
        snprintf(txt, sizeof(txt), "%s", said);
      }
      if (json_object_set_new(o, "follow_up", json_string(txt)) ||
          json_object_set_new(o, "follow_up_interval",
                              F.has_interval ? json_pack("{s:i,s:i}", "min_days", F.min_days,
                                                         "max_days", F.max_days)
                                             : json_null()) ||
          json_object_set_new(o, "follow_up_evidence", evidence(x, F.s, e)))
        goto fail;
    } else {
      if (json_object_set_new(o, "follow_up", json_null()) ||
          json_object_set_new(o, "follow_up_interval", json_null()) ||
          json_object_set_new(o, "follow_up_evidence", json_null()))
        goto fail;
    }
  }

  if (json_object_set_new(o, "diagnoses", dxs)) { dxs = NULL; goto fail; }
  dxs = NULL;
  if (json_object_set_new(o, "medications", meds)) { meds = NULL; goto fail; }
  meds = NULL;
  if (json_object_set_new(o, "allergies", alls)) { alls = NULL; goto fail; }
  alls = NULL;
  if (json_object_set_new(o, "allergies_stated",
                          A->n ? json_string("yes") : A->none ? json_string("none") : json_null()))
    goto fail;
  if (json_object_set_new(o, "negations", negs)) { negs = NULL; goto fail; }
  negs = NULL;
  if (json_object_set_new(o, "symptoms", syms)) { syms = NULL; goto fail; }
  syms = NULL;
  if (json_object_set_new(o, "tasks", tasks)) { tasks = NULL; goto fail; }
  tasks = NULL;
  if (json_object_set_new(o, "vital_signs", vitals)) { vitals = NULL; goto fail; }
  vitals = NULL;
  if (json_object_set_new(o, "notes", make_notes(o))) goto fail;
  *out = o;
  o = NULL;
  rc = 0;
fail:
  json_decref(o);
  json_decref(meds);
  json_decref(dxs);
  json_decref(alls);
  json_decref(negs);
  json_decref(syms);
  json_decref(tasks);
  json_decref(vitals);
  free(M.v);
  free(A);
  free(D);
  free(seen);
  return rc;
}

int xr_extract(const xr_lex *lx, const char *const *segs, size_t n, json_t **out, char *err,
               size_t errlen) {
  ctx x;
  memset(&x, 0, sizeof(x));
  x.lx = lx;
  x.w = xr_lex_words(lx);
  int rc = xr_doc_build(&x.d, lx, segs, n);
  if (rc == 0) rc = build_concepts(&x);
  if (rc == 0) {
    negation_and_context(&x);
    dialogue(&x);
    rc = build_output(&x, out);
  }
  if (rc != 0 && err && errlen) snprintf(err, errlen, "%s", scribe_strerror(rc));
  xr_doc_release(&x.d);
  free(x.c);
  free(x.ctok);
  free(x.pseudo);
  return rc;
}
