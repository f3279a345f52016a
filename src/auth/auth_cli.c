/*
 * auth_cli.c - `scribe user …`: manage accounts and API tokens in
 * data_dir/auth.db (the server need not run; it sees changes at once).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: scribe user <command> [options]\n\n"
          "  add NAME --role clinician|admin   create an account (password from stdin,\n"
          "                                    or prompted without echo on a terminal)\n"
          "  list                              list accounts\n"
          "  disable NAME                      disable an account (ends its sessions)\n"
          "  reset-password NAME               set a new password (ends its sessions)\n"
          "  token NAME [--name N] [--days D]  create an API token; printed once\n"
          "  tokens [NAME]                     list API tokens (never the tokens themselves)\n"
          "  revoke-token ID                   revoke an API token\n\n"
          "options: --data-dir DIR, --config FILE (and every other configuration key)\n");
}

/* Reads one line into buf (newline removed).  On a terminal: prompt on
 * stderr with echo off. */
static int read_password(const char *prompt, char *buf, size_t len) {
  bool tty = isatty(STDIN_FILENO);
  struct termios old, quiet;
  if (tty) {
    fprintf(stderr, "%s", prompt);
    fflush(stderr);
    if (tcgetattr(STDIN_FILENO, &old) == 0) {
      quiet = old;
      quiet.c_lflag &= ~(tcflag_t)ECHO;
      tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    } else {
      tty = false;
    }
  }
  char *got = fgets(buf, (int)len, stdin);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
  }
  if (!got) return SCRIBE_EIO;
  size_t n = strlen(buf);
  if (n && buf[n - 1] == '\n') buf[--n] = '\0';
  if (n && buf[n - 1] == '\r') buf[--n] = '\0';
  return SCRIBE_OK;
}

static int new_password(char *pw, size_t len) {
  if (read_password("password: ", pw, len)) {
    fprintf(stderr, "scribe user: no password given\n");
    return 2;
  }
  if (isatty(STDIN_FILENO)) {
    char again[SCRIBE_AUTH_PASSWORD_MAX + 2];
    int rc = read_password("again: ", again, sizeof(again));
    bool same = rc == SCRIBE_OK && strcmp(again, pw) == 0;
    OPENSSL_cleanse(again, sizeof(again));
    if (!same) {
      fprintf(stderr, "scribe user: the passwords differ\n");
      return 2;
    }
  }
  size_t n = strlen(pw);
  if (n < SCRIBE_AUTH_PASSWORD_MIN || n > SCRIBE_AUTH_PASSWORD_MAX) {
    fprintf(stderr, "scribe user: a password has %d to %d characters\n",
            SCRIBE_AUTH_PASSWORD_MIN, SCRIBE_AUTH_PASSWORD_MAX);
    return 2;
  }
  return 0;
}

static void fmt_time(int64_t ms, char out[32]) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Value of --flag V or --flag=V among argv (removed from argv). */
static const char *take_flag(int *argc, char **argv, const char *flag, bool *missing) {
  size_t fl = strlen(flag);
  for (int i = 1; i < *argc; i++) {
    const char *v = NULL;
    int used = 0;
    if (!strcmp(argv[i], flag)) {
      if (i + 1 >= *argc) {
        *missing = true;
        return NULL;
      }
      v = argv[i + 1];
      used = 2;
    } else if (!strncmp(argv[i], flag, fl) && argv[i][fl] == '=') {
      v = argv[i] + fl + 1;
      used = 1;
    }
    if (used) {
      for (int j = i; j + used <= *argc; j++) argv[j] = argv[j + used];
      *argc -= used;
      return v;
    }
  }
  return NULL;
}

static int fail_rc(const char *what, int rc) {
  fprintf(stderr, "scribe user: %s: %s\n", what, scribe_strerror(rc));
  return 1;
}

static int cmd_add(scribe_auth *a, int argc, char **argv, const char *role_s) {
  if (argc != 3 || !role_s) {
    fprintf(stderr, "usage: scribe user add NAME --role clinician|admin\n");
    return 2;
  }
  int role = scribe_auth_role_parse(role_s);
  if (role < 0) {
    fprintf(stderr, "scribe user: --role must be clinician or admin\n");
    return 2;
  }
  if (!scribe_auth_name_valid(argv[2])) {
    fprintf(stderr, "scribe user: a name has 1 to %d of the characters A-Z a-z 0-9 . _ @ -\n",
            SCRIBE_AUTH_NAME_MAX);
    return 2;
  }
  char pw[SCRIBE_AUTH_PASSWORD_MAX + 2];
  int rc = new_password(pw, sizeof(pw));
  if (rc) return rc;
  int64_t id = 0;
  int r = scribe_auth_user_add(a, argv[2], (scribe_role)role, pw, &id);
  OPENSSL_cleanse(pw, sizeof(pw));
  if (r == SCRIBE_EEXISTS) {
    fprintf(stderr, "scribe user: %s exists already\n", argv[2]);
    return 1;
  }
  if (r) return fail_rc("add", r);
  printf("user %s (%s) created with id %" PRId64 "\n", argv[2], role_s, id);
  return 0;
}

static int cmd_list(scribe_auth *a) {
  scribe_auth_user *u = NULL;
  size_t n = 0;
  int rc = scribe_auth_user_list(a, &u, &n);
  if (rc) return fail_rc("list", rc);
  printf("%-6s %-24s %-10s %-9s %s\n", "ID", "NAME", "ROLE", "STATE", "CREATED");
  for (size_t i = 0; i < n; i++) {
    char t[32];
    fmt_time(u[i].created_ms, t);
    printf("%-6" PRId64 " %-24s %-10s %-9s %s\n", u[i].id, u[i].username,
           scribe_auth_role_name(u[i].role), u[i].disabled ? "disabled" : "active", t);
  }
  free(u);
  return 0;
}

static int cmd_tokens(scribe_auth *a, int argc, char **argv) {
  int64_t uid = -1;
  if (argc == 3) {
    scribe_auth_user u;
    int rc = scribe_auth_user_get(a, argv[2], &u);
    if (rc) return fail_rc(argv[2], rc);
    uid = u.id;
  }
  scribe_auth_token_info *t = NULL;
  size_t n = 0;
  int rc = scribe_auth_token_list(a, uid, &t, &n);
  if (rc) return fail_rc("tokens", rc);
  int64_t now = scribe_now_ms();
  printf("%-6s %-6s %-20s %-8s %s\n", "ID", "USER", "NAME", "STATE", "EXPIRES");
  for (size_t i = 0; i < n; i++) {
    char e[32];
    fmt_time(t[i].expires_ms, e);
    printf("%-6" PRId64 " %-6" PRId64 " %-20s %-8s %s\n", t[i].id, t[i].user_id, t[i].name,
           t[i].revoked ? "revoked" : now >= t[i].expires_ms ? "expired" : "active", e);
  }
  free(t);
  return 0;
}

static int cmd_token(scribe_auth *a, int argc, char **argv, const char *name, const char *days_s,
                     int64_t default_days) {
  if (argc != 3) {
    fprintf(stderr, "usage: scribe user token NAME [--name N] [--days D]\n");
    return 2;
  }
  int64_t days = default_days;
  if (days_s) {
    char *end = NULL;
    errno = 0;
    long long d = strtoll(days_s, &end, 10);
    if (errno || !end || *end || d < 1 || d > 3650) {
      fprintf(stderr, "scribe user: --days must be 1 to 3650\n");
      return 2;
    }
    days = d;
  }
  if (name && (strlen(name) > SCRIBE_AUTH_NAME_MAX || !*name)) {
    fprintf(stderr, "scribe user: --name has 1 to %d characters\n", SCRIBE_AUTH_NAME_MAX);
    return 2;
  }
  char tok[SCRIBE_AUTH_TOKEN_LEN + 1];
  int64_t id = 0;
  int rc = scribe_auth_token_create(a, argv[2], name ? name : "", scribe_now_ms() + days * 86400000LL,
                                    tok, &id);
  if (rc) return fail_rc(argv[2], rc);
  fprintf(stderr, "token %" PRId64 " for %s, valid %" PRId64
                  " days; it is shown only this once:\n",
          id, argv[2], days);
  printf("%s\n", tok);
  OPENSSL_cleanse(tok, sizeof(tok));
  return 0;
}

int scribe_user_cli(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  bool missing = false;
  const char *role = take_flag(&argc, argv, "--role", &missing);
  const char *name = take_flag(&argc, argv, "--name", &missing);
  const char *days = take_flag(&argc, argv, "--days", &missing);
  if (missing) {
    fprintf(stderr, "scribe user: an option needs a value\n");
    return 2;
  }
  scribe_config cfg;
  char err[512];
  scribe_config_init(&cfg);
  if (scribe_config_load(&cfg, &argc, argv, err, sizeof(err))) {
    fprintf(stderr, "scribe: %s\n", err);
    scribe_config_release(&cfg);
    return 2;
  }
  scribe_log_set_level(scribe_log_level_parse(cfg.log_level));
  int rc = 2;
  scribe_auth *a = NULL;
  for (int i = 1; i < argc; i++)
    if (!strncmp(argv[i], "--", 2)) {
      fprintf(stderr, "scribe user: unknown option %s\n", argv[i]);
      goto out;
    }
  const char *sub = argv[1];
  char path[4200];
  if (scribe_auth_path(cfg.data_dir, path, sizeof(path))) {
    fprintf(stderr, "scribe user: data_dir too long\n");
    goto out;
  }
  if (mkdir(cfg.data_dir, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "scribe user: %s: %s\n", cfg.data_dir, strerror(errno));
    rc = 1;
    goto out;
  }
  a = scribe_auth_open(path, err, sizeof(err));
  if (!a) {
    fprintf(stderr, "scribe user: %s\n", err);
    rc = 1;
    goto out;
  }
  if (!strcmp(sub, "add")) {
    rc = cmd_add(a, argc, argv, role);
  } else if (!strcmp(sub, "list") && argc == 2) {
    rc = cmd_list(a);
  } else if (!strcmp(sub, "tokens") && argc <= 3) {
    rc = cmd_tokens(a, argc, argv);
  } else if ((!strcmp(sub, "disable") || !strcmp(sub, "reset-password")) && argc == 3) {
    int r;
    if (!strcmp(sub, "disable")) {
      r = scribe_auth_user_disable(a, argv[2]);
    } else {
      char pw[SCRIBE_AUTH_PASSWORD_MAX + 2];
      rc = new_password(pw, sizeof(pw));
      if (rc) goto out;
      r = scribe_auth_user_set_password(a, argv[2], pw);
      OPENSSL_cleanse(pw, sizeof(pw));
    }
    rc = r ? fail_rc(argv[2], r) : 0;
    if (!r) printf("%s: %s\n", argv[2], !strcmp(sub, "disable") ? "disabled" : "password set");
  } else if (!strcmp(sub, "token")) {
    rc = cmd_token(a, argc, argv, name, days, cfg.auth_token_ttl_days);
  } else if (!strcmp(sub, "revoke-token") && argc == 3) {
    char *end = NULL;
    long long id = strtoll(argv[2], &end, 10);
    if (!end || *end || id <= 0) {
      fprintf(stderr, "scribe user: revoke-token takes a token id (see `scribe user tokens`)\n");
      goto out;
    }
    int r = scribe_auth_token_revoke(a, id);
    rc = r ? fail_rc(argv[2], r) : 0;
    if (!r) printf("token %lld revoked\n", id);
  } else {
    usage(stderr);
  }
out:
  scribe_auth_close(a);
  scribe_config_release(&cfg);
  return rc;
}
