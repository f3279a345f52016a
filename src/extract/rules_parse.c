/*
 * rules_parse.c - parsers over tokens: spoken numbers, doses, frequencies,
 * durations and follow-up intervals.  All take a token index t and a limit
 * lim (first token not to look at) and report the first token after what
 * they consumed in *end.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "extract/rules.h"

static int32_t tid(const xr_doc *d, size_t t, size_t lim) {
  return t < lim && t < d->ntoks ? d->toks[t].id : -2;
}

/* Is there a '-' between tokens a and b (same segment)? */
static bool dash_between(const xr_doc *d, size_t a, size_t b) {
  if (d->toks[a].seg != d->toks[b].seg) return false;
  const char *s = d->segs[d->toks[a].seg].text;
  for (uint32_t i = d->toks[a].end; i < d->toks[b].start; i++)
    if (s[i] == '-') return true;
  return false;
}

static const xr_entry *ent(const xr_doc *d, int32_t m) {
  return xr_lex_entry(d->lx, d->m[m].entry);
}

/* Number word at t of one of the given roles (0 = any). */
static int32_t numword(const xr_doc *d, size_t t, size_t lim, int role) {
  if (t >= lim) return -1;
  int32_t m = xr_match_at(d, t, XC_NUM, role);
  if (m >= 0 && d->m[m].e > lim) return -1;
  return m;
}

static void fmt_num(char *buf, size_t n, double v) {
  if (fabs(v - floor(v + 0.5)) < 1e-9)
    snprintf(buf, n, "%.0f", v);
  else
    snprintf(buf, n, "%g", v);
}

/* Digits after "point": "point five" = .5, "point two five" = .25. */
static size_t parse_decimals(const xr_doc *d, size_t i, size_t lim, double *frac) {
  double scale = 0.1, f = 0;
  size_t k = i;
  while (k < lim) {
    if (d->toks[k].kind == XT_NUM && d->toks[k].num < 10 && k == i) {
      f += d->toks[k].num * scale;
      k++;
      break;
    }
    int32_t m = numword(d, k, lim, XU_UNIT);
    if (m < 0) m = numword(d, k, lim, XU_POINT0);
    if (m < 0) break;
    const xr_entry *e = ent(d, m);
    if (e->v1 >= 10) break;
    f += e->v1 * scale;
    scale /= 10;
    k = d->m[m].e;
  }
  *frac = f;
  return k;
}

bool xr_parse_number(const xr_doc *d, size_t t, size_t lim, double *val, size_t *end) {
  const xr_words *w = xr_lex_words(d->lx);
  if (lim > d->ntoks) lim = d->ntoks;
  size_t i = t;
  double total = 0, cur = 0;
  bool any = false;
  int last = 0; /* 1 unit, 2 ten, 3 scale, 4 digits */
  if (i >= lim) return false;
  /* "a half", "a quarter", "a hundred" */
  if (tid(d, i, lim) == w->a || tid(d, i, lim) == w->an) {
    int32_t m = numword(d, i + 1, lim, 0);
    if (m < 0) return false;
    const xr_entry *e = ent(d, m);
    if (e->role == XU_FRACTION) {
      *val = e->v1;
      *end = d->m[m].e;
      return true;
    }
    if (e->role != XU_SCALE) return false;
    cur = 1;
    any = true;
    last = 1;
    i++;
  } else {
    /* "half a tablet", "half" */
    int32_t m = numword(d, i, lim, XU_FRACTION);
    if (m >= 0) {
      *val = ent(d, m)->v1;
      *end = d->m[m].e;
      return true;
    }
  }
  while (i < lim) {
    const xr_tok *tk = &d->toks[i];
    if (tk->kind == XT_NUM) {
      if (any) break;
      cur = tk->num;
      any = true;
      last = 4;
      i++;
      /* "1/2" as a fraction */
      if (i + 1 < lim && d->toks[i].id == w->slash && d->toks[i + 1].kind == XT_NUM &&
          d->toks[i + 1].num > cur && d->toks[i + 1].num <= 4 && cur >= 1) {
        cur = cur / d->toks[i + 1].num;
        i += 2;
        break;
      }
      continue;
    }
    int32_t m = numword(d, i, lim, 0);
    if (m < 0) break;
    const xr_entry *e = ent(d, m);
    bool stop = false;
    switch (e->role) {
      case XU_UNIT:
        if (!any) cur = e->v1;
        else if (last == 2 && e->v1 < 10) cur += e->v1;
        else if (last == 3) cur += e->v1;
        else stop = true;
        if (!stop) last = 1;
        break;
      case XU_TEN:
        if (!any) cur = e->v1;
        else if (last == 3) cur += e->v1;
        else stop = true;
        if (!stop) last = 2;
        break;
      case XU_SCALE:
        if (!any || last == 3) {
          stop = true;
          break;
        }
        if (e->v1 >= 1000) {
          total += (cur ? cur : 1) * e->v1;
          cur = 0;
        } else {
          cur = (cur ? cur : 1) * e->v1;
        }
        last = 3;
        break;
      case XU_POINT:
        if (!any || last == 3) {
          stop = true;
          break;
        }
        {
          double frac;
          size_t k = parse_decimals(d, d->m[m].e, lim, &frac);
          if (k == d->m[m].e) {
            stop = true;
            break;
          }
          cur += frac;
          *val = total + cur;
          *end = k;
          return true;
        }
      default:
        stop = true;
    }
    if (stop) break;
    any = true;
    i = d->m[m].e;
    /* "one and a half", "five hundred and twenty" */
    if (tid(d, i, lim) == w->and_) {
      if ((tid(d, i + 1, lim) == w->a || tid(d, i + 1, lim) == w->an)) {
        int32_t f = numword(d, i + 2, lim, XU_FRACTION);
        if (f >= 0) {
          cur += ent(d, f)->v1;
          i = d->m[f].e;
          break;
        }
      }
      if (last == 3) {
        int32_t u = numword(d, i + 1, lim, 0);
        if (u >= 0 && (ent(d, u)->role == XU_UNIT || ent(d, u)->role == XU_TEN)) {
          i++;
          continue;
        }
      }
      break;
    }
  }
  if (!any) return false;
  /* "2 and a half" */
  if (last == 4 && tid(d, i, lim) == w->and_ &&
      (tid(d, i + 1, lim) == w->a || tid(d, i + 1, lim) == w->an)) {
    int32_t f = numword(d, i + 2, lim, XU_FRACTION);
    if (f >= 0) {
      cur += ent(d, f)->v1;
      i = d->m[f].e;
    }
  }
  *val = total + cur;
  *end = i;
  return true;
}

bool xr_parse_dose(const xr_doc *d, size_t t, size_t lim, char *out, size_t outlen, size_t *end) {
  const xr_words *w = xr_lex_words(d->lx);
  double v;
  size_t i;
  if (lim > d->ntoks) lim = d->ntoks;
  if (!xr_parse_number(d, t, lim, &v, &i)) {
    /* "a tablet", "an injection" */
    if (tid(d, t, lim) != w->a && tid(d, t, lim) != w->an) return false;
    v = 1;
    i = t + 1;
    int32_t f = xr_match_at(d, i, XC_DOSE, XD_FORM);
    if (f < 0 || d->m[f].e > lim) return false;
  }
  if (v < 1 && (tid(d, i, lim) == w->a || tid(d, i, lim) == w->an)) i++; /* half a tablet */
  int32_t mu = xr_match_at(d, i, XC_DOSE, XD_UNIT);
  int32_t mf = xr_match_at(d, i, XC_DOSE, XD_FORM);
  if (mu >= 0 && d->m[mu].e > lim) mu = -1;
  if (mf >= 0 && d->m[mf].e > lim) mf = -1;
  int32_t m = mu;
  if (mf >= 0 && (m < 0 || d->m[mf].e > d->m[m].e)) m = mf;
  if (m < 0) return false;
  const xr_entry *e = ent(d, m);
  char num[32];
  fmt_num(num, sizeof(num), v);
  if (e->role == XD_FORM) {
    const char *form = e->aux;
    size_t fl = strlen(form);
    const char *pl = v > 1 ? ((fl && (form[fl - 1] == 'h' || form[fl - 1] == 's')) ? "es" : "s") : "";
    snprintf(out, outlen, "%s %s%s", num, form, pl);
  } else {
    snprintf(out, outlen, "%s%s%s", num, strcmp(e->aux, "%") == 0 ? "" : " ", e->aux);
  }
  *end = d->m[m].e;
  return true;
}

/* Time unit at t: returns days per unit (min/max), or false.  Hours give 1/24. */
static bool time_unit(const xr_doc *d, size_t t, size_t lim, double *umin, double *umax,
                      const char **name, size_t *end) {
  const xr_words *w = xr_lex_words(d->lx);
  if (t >= lim) return false;
  int32_t id = d->toks[t].id;
  if (id == w->hour || id == w->hr) {
    *umin = *umax = 1.0 / 24.0;
    *name = "hour";
    *end = t + 1;
    return true;
  }
  int32_t m = xr_match_at(d, t, XC_FU, XF_UNIT);
  if (m < 0 || d->m[m].e > lim) return false;
  const xr_entry *e = ent(d, m);
  *umin = e->v1;
  *umax = e->v2;
  *name = e->v1 >= 360 ? "year" : e->v1 >= 28 ? "month" : e->v1 >= 7 ? "week" : "day";
  *end = d->m[m].e;
  return true;
}

bool xr_parse_freq(const xr_doc *d, size_t t, size_t lim, char *out, size_t outlen, bool *prn,
                   size_t *end) {
  const xr_words *w = xr_lex_words(d->lx);
  if (lim > d->ntoks) lim = d->ntoks;
  if (t >= lim) return false;
  int32_t mf = xr_match_at(d, t, XC_DOSE, XD_FREQ);
  int32_t mp = xr_match_at(d, t, XC_DOSE, XD_PRN);
  if (mf >= 0 && d->m[mf].e > lim) mf = -1;
  if (mp >= 0 && d->m[mp].e > lim) mp = -1;
  if (mp >= 0 && (mf < 0 || d->m[mp].e >= d->m[mf].e)) {
    if (prn) *prn = true;
    snprintf(out, outlen, "as needed");
    *end = d->m[mp].e;
    return true;
  }
  /* lexicon phrases first: "three times a day", "BD", "at night" */
  if (mf >= 0 && d->m[mf].e - d->m[mf].s > 1) {
    const xr_entry *e = ent(d, mf);
    snprintf(out, outlen, "%s", strcmp(e->aux, "per day") == 0 ? "once a day" : e->aux);
    *end = d->m[mf].e;
    return true;
  }
  /* "every four to six hours", "every 2 weeks" */
  if (d->toks[t].id == w->every) {
    double a, b;
    size_t i, j;
    if (xr_parse_number(d, t + 1, lim, &a, &i)) {
      b = a;
      if ((tid(d, i, lim) == w->to || tid(d, i, lim) == w->or_) &&
          xr_parse_number(d, i + 1, lim, &b, &j))
        i = j;
      double umin, umax;
      const char *uname;
      size_t k;
      if (time_unit(d, i, lim, &umin, &umax, &uname, &k)) {
        char na[32], nb[32];
        fmt_num(na, sizeof(na), a);
        fmt_num(nb, sizeof(nb), b);
        if (b != a)
          snprintf(out, outlen, "every %s-%s %ss", na, nb, uname);
        else if (a == 1)
          snprintf(out, outlen, "every %s", uname);
        else
          snprintf(out, outlen, "every %s %ss", na, uname);
        *end = k;
        return true;
      }
    }
  }
  /* "three times a day", "2 times per week", "twice a week" */
  {
    double n;
    size_t i;
    int32_t tm = numword(d, t, lim, XU_TIMES);
    bool ok = false;
    if (tm >= 0) {
      n = ent(d, tm)->v1;
      i = d->m[tm].e;
      ok = true;
    } else if (xr_parse_number(d, t, lim, &n, &i) && tid(d, i, lim) == w->times) {
      i++;
      ok = true;
    }
    if (ok) {
      int32_t id = tid(d, i, lim);
      if (id == w->a || id == w->per || id == w->every || id == w->an) i++;
      double umin, umax;
      const char *uname;
      size_t k;
      if (time_unit(d, i, lim, &umin, &umax, &uname, &k) && umin >= 1) {
        char na[32];
        fmt_num(na, sizeof(na), n);
        if (n == 1)
          snprintf(out, outlen, "once a %s", uname);
        else if (n == 2)
          snprintf(out, outlen, "twice a %s", uname);
        else
          snprintf(out, outlen, "%s times a %s", na, uname);
        *end = k;
        return true;
      }
    }
  }
  /* "q4h", "q 6 h" */
  {
    const xr_tok *tk = &d->toks[t];
    const char *s = d->segs[tk->seg].text + tk->start;
    size_t n = tk->end - tk->start;
    if (n >= 3 && (s[0] == 'q' || s[0] == 'Q') && (s[n - 1] == 'h' || s[n - 1] == 'H')) {
      bool digits = true;
      for (size_t k = 1; k + 1 < n; k++)
        if (s[k] < '0' || s[k] > '9') digits = false;
      if (digits) {
        snprintf(out, outlen, "every %.*s hours", (int)(n - 2), s + 1);
        *end = t + 1;
        return true;
      }
    }
  }
  if (mf >= 0) {
    const xr_entry *e = ent(d, mf);
    snprintf(out, outlen, "%s", strcmp(e->aux, "per day") == 0 ? "once a day" : e->aux);
    *end = d->m[mf].e;
    return true;
  }
  return false;
}

bool xr_parse_duration(const xr_doc *d, size_t t, size_t lim, char *out, size_t outlen,
                       size_t *end) {
  const xr_words *w = xr_lex_words(d->lx);
  if (lim > d->ntoks) lim = d->ntoks;
  size_t i = t;
  bool for_ = false;
  if (tid(d, i, lim) == w->for_) {
    for_ = true;
    i++;
    for (int k = 0; k < 3; k++) {
      int32_t id = tid(d, i, lim);
      if (id == w->the || id == w->next || id == w->another || id == w->about || id == w->a ||
          id == w->an) {
        /* "for a week": keep "a" as the number */
        if ((id == w->a || id == w->an)) {
          double umin, umax;
          const char *un;
          size_t k2;
          if (time_unit(d, i + 1, lim, &umin, &umax, &un, &k2)) break;
        }
        i++;
      } else {
        break;
      }
    }
  } else if (tid(d, i, lim) == w->a || tid(d, i, lim) == w->an) {
    /* "a two-week course" */
    double v;
    size_t k;
    if (xr_parse_number(d, i + 1, lim, &v, &k)) i++;
  }
  double v;
  size_t k;
  if (tid(d, i, lim) == w->a || tid(d, i, lim) == w->an) {
    v = 1;
    k = i + 1;
  } else if (!xr_parse_number(d, i, lim, &v, &k)) {
    return false;
  }
  double umin, umax;
  const char *uname;
  size_t k2;
  if (!time_unit(d, k, lim, &umin, &umax, &uname, &k2)) return false;
  if (tid(d, k2, lim) == w->s) k2++; /* "a week's course" */
  bool course = tid(d, k2, lim) == w->course || tid(d, k2, lim) == w->supply;
  if (!for_ && !course) return false;
  if (course) k2++;
  char num[32];
  fmt_num(num, sizeof(num), v);
  snprintf(out, outlen, "%s %s%s", num, uname, v > 1 ? "s" : "");
  *end = k2;
  return true;
}

bool xr_parse_interval(const xr_doc *d, size_t t, size_t lim, int *min_days, int *max_days,
                       size_t *end) {
  const xr_words *w = xr_lex_words(d->lx);
  if (lim > d->ntoks) lim = d->ntoks;
  size_t i = t;
  bool approx = false;
  for (int k = 0; k < 3 && i < lim; k++) {
    int32_t id = d->toks[i].id;
    int32_t ma = xr_match_at(d, i, XC_FU, XF_APPROX);
    int32_t fx = xr_match_at(d, i, XC_FU, XF_FIXED);
    if (fx >= 0 && d->m[fx].e <= lim) break; /* "about a week" is a phrase */
    if (ma >= 0 && d->m[ma].e <= lim) {
      approx = true;
      i = d->m[ma].e;
    } else if (id == w->in || id == w->within) {
      i++;
    } else {
      break;
    }
  }
  if (i >= lim) return false;
  double lo = -1, hi = -1;
  size_t best_end = 0;
  /* fixed phrases: "next week", "a few days", "same day", "A&E" */
  int32_t mfx = xr_match_at(d, i, XC_FU, XF_FIXED);
  if (mfx >= 0 && d->m[mfx].e <= lim) {
    lo = ent(d, mfx)->v1;
    hi = ent(d, mfx)->v2;
    best_end = d->m[mfx].e;
  }
  /* clinician shorthand: 2/52, 3/7, 6/12 */
  if (d->toks[i].kind == XT_NUM && i + 2 < lim && d->toks[i + 1].id == w->slash &&
      d->toks[i + 2].kind == XT_NUM) {
    double den = d->toks[i + 2].num, f = 0;
    if (den == 7) f = 1;
    else if (den == 52) f = 7;
    else if (den == 12) f = 30;
    if (f > 0 && i + 3 > best_end) {
      lo = hi = d->toks[i].num * f;
      best_end = i + 3;
    }
  }
  /* numbers: "two weeks", "three to five days", "a couple of weeks", "48 hours" */
  {
    double a = -1, b = -1;
    size_t k = i;
    int32_t mv = numword(d, i, lim, XU_VAGUE);
    int32_t id = d->toks[i].id;
    if ((id == w->a || id == w->an) && numword(d, i + 1, lim, XU_VAGUE) >= 0) {
      mv = numword(d, i + 1, lim, XU_VAGUE);
    }
    if (mv >= 0) {
      a = ent(d, mv)->v1;
      k = d->m[mv].e;
      if (tid(d, k, lim) == w->of) k++;
    } else if (id == w->a || id == w->an) {
      a = 1;
      k = i + 1;
    } else if (xr_parse_number(d, i, lim, &a, &k)) {
      int32_t c = tid(d, k, lim);
      if (c == w->to || c == w->or_ || c == w->and_) {
        size_t k2;
        if (xr_parse_number(d, k + 1, lim, &b, &k2)) k = k2;
        else b = -1;
      } else if (k < lim && d->toks[k].kind == XT_NUM && dash_between(d, k - 1, k)) {
        b = d->toks[k].num; /* "3-5 days" */
        k++;
      }
    } else {
      a = -1;
    }
    double umin, umax;
    const char *uname;
    size_t k3;
    if (a >= 0 && time_unit(d, k, lim, &umin, &umax, &uname, &k3) && k3 > best_end) {
      if (b < 0) b = a;
      if (b < a) {
        double tmp = a;
        a = b;
        b = tmp;
      }
      lo = a * umin;
      hi = b * umax;
      if (approx && a == 1 && b == 1 && umin == 7) {
        lo = 5;
        hi = 10;
      }
      best_end = k3;
      /* "a week or two" */
      if (a == 1 && b == 1 && tid(d, k3, lim) == w->or_) {
        double c2;
        size_t k4;
        if (xr_parse_number(d, k3 + 1, lim, &c2, &k4) && c2 > 1) {
          hi = c2 * umax;
          best_end = k4;
        }
      }
    }
  }
  if (lo < 0) return false;
  /* trailing "'s time", "time", "or so" */
  if (tid(d, best_end, lim) == w->s) best_end++;
  if (tid(d, best_end, lim) == w->time) best_end++;
  {
    int32_t ma = xr_match_at(d, best_end, XC_FU, XF_APPROX);
    if (ma >= 0 && d->m[ma].e <= lim) {
      best_end = d->m[ma].e;
      if (lo == 7 && hi == 7) lo = 5, hi = 10;
    }
  }
  if (approx && lo == 7 && hi == 7) lo = 5, hi = 10; /* "about a week" */
  *min_days = (int)floor(lo + 0.5);
  *max_days = (int)floor(hi + 0.5);
  if (*max_days < *min_days) *max_days = *min_days;
  *end = best_end;
  return true;
}

/* ---- string helpers for tests ------------------------------------------- */

typedef struct one_doc {
  xr_doc d;
  bool ok;
} one_doc;

static bool doc1(one_doc *o, const xr_lex *lx, const char *s) {
  const char *segs[1] = {s};
  o->ok = xr_doc_build(&o->d, lx, segs, 1) == 0;
  return o->ok;
}

bool xr_str_number(const xr_lex *lx, const char *s, double *val) {
  one_doc o;
  bool r = false;
  size_t end;
  if (doc1(&o, lx, s)) r = xr_parse_number(&o.d, 0, o.d.ntoks, val, &end) && end == o.d.ntoks;
  xr_doc_release(&o.d);
  return r;
}

bool xr_str_dose(const xr_lex *lx, const char *s, char *out, size_t outlen) {
  one_doc o;
  bool r = false;
  size_t end;
  if (doc1(&o, lx, s)) r = xr_parse_dose(&o.d, 0, o.d.ntoks, out, outlen, &end);
  xr_doc_release(&o.d);
  return r;
}

bool xr_str_freq(const xr_lex *lx, const char *s, char *out, size_t outlen, bool *prn) {
  one_doc o;
  bool r = false;
  size_t end;
  if (doc1(&o, lx, s)) r = xr_parse_freq(&o.d, 0, o.d.ntoks, out, outlen, prn, &end);
  xr_doc_release(&o.d);
  return r;
}

bool xr_str_duration(const xr_lex *lx, const char *s, char *out, size_t outlen) {
  one_doc o;
  bool r = false;
  size_t end;
  if (doc1(&o, lx, s)) r = xr_parse_duration(&o.d, 0, o.d.ntoks, out, outlen, &end);
  xr_doc_release(&o.d);
  return r;
}

bool xr_str_interval(const xr_lex *lx, const char *s, int *min_days, int *max_days) {
  one_doc o;
  bool r = false;
  size_t end;
  if (doc1(&o, lx, s))
    for (size_t t = 0; t < o.d.ntoks && !r; t++)
      r = xr_parse_interval(&o.d, t, o.d.ntoks, min_days, max_days, &end);
  xr_doc_release(&o.d);
  return r;
}
