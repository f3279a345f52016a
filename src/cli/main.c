/*
 * main.c - the `scribe` program: one binary, several subcommands.
 *
 *   scribe serve       HTTP API + WebSocket + web page + in-process workers
 *   scribe worker      workers only (scale-out)
 *   scribe transcribe  run the whole pipeline on local files, print JSON
 *   scribe extract     extraction only: transcript text in, JSON out
 *   scribe version
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "http/http.h"
#include "http/web.h"
#include "pipeline/pipeline.h"
#include "queue/postgres.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: scribe <command> [options]\n\n"
          "commands:\n"
          "  serve              HTTP API, WebSocket, web page and workers (default 127.0.0.1:8080)\n"
          "  worker             workers only, sharing the queue with servers\n"
          "  transcribe FILE... transcribe and extract local audio files; prints result JSON\n"
          "  extract [FILE|-]   extract clinical data from a transcript; prints JSON\n"
          "  migrate            create or upgrade the PostgreSQL schema (postgres backends)\n"
          "  user               manage accounts and API tokens (auth = on)\n"
          "  version            print the version\n\n"
          "Run `scribe <command> --help` for the options of a command.\n");
}

static void config_help(const char *cmd, const char *args, const char *what) {
  printf("usage: scribe %s %s\n\n%s\n\noptions (also SCRIBE_<KEY> environment variables and "
         "`key = value` lines in --config FILE):\n"
         "  --config FILE          configuration file\n",
         cmd, args, what);
  scribe_config_print_help(stdout);
}

static bool has_flag(int argc, char **argv, const char *flag) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], flag)) return true;
  return false;
}

/* Loads configuration for a subcommand; exits with status 2 on bad values. */
static int load_config(scribe_config *cfg, int *argc, char **argv) {
  char err[512];
  scribe_config_init(cfg);
  if (scribe_config_load(cfg, argc, argv, err, sizeof(err))) {
    fprintf(stderr, "scribe: %s\n", err);
    scribe_config_release(cfg);
    return 2;
  }
  scribe_log_set_level(scribe_log_level_parse(cfg->log_level));
  return 0;
}

static int reject_unknown(int argc, char **argv, int first_positional_ok) {
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--", 2) && strcmp(argv[i], "--print-config") != 0) {
      fprintf(stderr, "scribe: unknown option %s (see --help)\n", argv[i]);
      return 2;
    }
    if (!first_positional_ok && argv[i][0] != '-') {
      fprintf(stderr, "scribe: unexpected argument %s\n", argv[i]);
      return 2;
    }
  }
  return 0;
}

static sigset_t stop_signals(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

static int cmd_serve(int argc, char **argv, bool with_http) {
  const char *name = with_http ? "serve" : "worker";
  if (has_flag(argc, argv, "--help") || has_flag(argc, argv, "-h")) {
    config_help(name, "[options] [--print-config]",
                with_http ? "Serves the HTTP API, WebSocket events and the web page, and runs "
                            "--workers in-process workers."
                          : "Runs --workers workers (default 1) on the configured queue.");
    return 0;
  }
  scribe_config cfg;
  int rc = load_config(&cfg, &argc, argv);
  if (rc) return rc;
  if ((rc = reject_unknown(argc, argv, 0))) goto out;
  if (has_flag(argc, argv, "--print-config")) {
    scribe_config_print(&cfg, stdout);
    goto out;
  }
  /* Block the stop signals in every thread; the main thread waits for them. */
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  char err[512] = "";
  scribe_app app;
  if (scribe_app_open(&app, &cfg, err, sizeof(err))) {
    fprintf(stderr, "scribe: %s\n", err);
    rc = 1;
    goto out;
  }
  int nworkers = (int)cfg.workers;
  if (!with_http && nworkers == 0) nworkers = 1;
  scribe_workers *workers = NULL;
  if (nworkers > 0) {
    workers = scribe_workers_start(&app, nworkers, err, sizeof(err));
    if (!workers) {
      fprintf(stderr, "scribe: %s\n", err);
      scribe_app_close(&app);
      rc = 1;
      goto out;
    }
  }
  scribe_http *http = NULL;
  if (with_http) {
    http = scribe_http_start(&app, scribe_web_files, err, sizeof(err));
    if (!http) {
      fprintf(stderr, "scribe: %s\n", err);
      scribe_workers_stop(workers);
      scribe_app_close(&app);
      rc = 1;
      goto out;
    }
    LOG_INFO("scribe %s listening on http://%s:%d/ (data in %s)", SCRIBE_VERSION, cfg.host,
             scribe_http_port(http), cfg.data_dir);
    /* Machine-readable line for scripts that start us on port 0. */
    if (getenv("SCRIBE_PORT_FILE")) {
      FILE *pf = fopen(getenv("SCRIBE_PORT_FILE"), "w");
      if (pf) {
        fprintf(pf, "%d\n", scribe_http_port(http));
        fclose(pf);
      }
    }
  } else {
    LOG_INFO("scribe worker %s: %d worker(s) on %s", SCRIBE_VERSION, nworkers, cfg.data_dir);
  }
  int sig = 0;
  sigwait(&set, &sig);
  LOG_INFO("received %s; shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  scribe_http_stop(http);
  scribe_workers_stop(workers);
  scribe_app_close(&app);
  LOG_INFO("stopped");
out:
  scribe_config_release(&cfg);
  return rc;
}

/* ---- transcribe ------------------------------------------------------- */

typedef struct {
  int fd;
} file_src;

static long file_read(void *ud, void *buf, size_t n) {
  ssize_t r;
  do r = read(((file_src *)ud)->fd, buf, n);
  while (r < 0 && errno == EINTR);
  return r < 0 ? SCRIBE_EIO : (long)r;
}

static int64_t file_seek(void *ud, int64_t off, int whence) {
  off_t r = lseek(((file_src *)ud)->fd, (off_t)off, whence);
  return r < 0 ? SCRIBE_EIO : (int64_t)r;
}

typedef struct {
  const char *name;
  int last;
} bar_ctx;

static int progress_bar(void *ud, const char *stage, int percent) {
  bar_ctx *b = ud;
  if (percent == b->last) return 0;
  b->last = percent;
  char bar[31];
  int filled = percent * 30 / 100;
  for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
  bar[30] = '\0';
  fprintf(stderr, "\r%-24.24s [%s] %3d%% %-12s", b->name, bar, percent, stage);
  return 0;
}

static int cmd_transcribe(int argc, char **argv) {
  if (has_flag(argc, argv, "--help") || has_flag(argc, argv, "-h") || argc < 2) {
    config_help("transcribe", "FILE... [options]",
                "Decodes, transcribes and extracts each audio FILE (WebM/Opus, Ogg, MP4/AAC, MP3, "
                "WAV, FLAC) locally and prints one result JSON document per file (a JSON array "
                "when several). A progress bar goes to stderr when it is a terminal.");
    return argc < 2 ? 2 : 0;
  }
  scribe_config cfg;
  int rc = load_config(&cfg, &argc, argv);
  if (rc) return rc;
  if ((rc = reject_unknown(argc, argv, 1))) goto out;
  if (argc < 2) {
    fprintf(stderr, "scribe transcribe: no input files\n");
    rc = 2;
    goto out;
  }
  char err[512] = "";
  scribe_engines eng;
  if (scribe_engines_open(&eng, &cfg, NULL, err, sizeof(err))) {
    fprintf(stderr, "scribe: %s\n", err);
    rc = 1;
    goto out;
  }
  bool tty = isatty(STDERR_FILENO);
  json_t *all = json_array();
  for (int i = 1; i < argc; i++) {
    const char *path = argv[i];
    file_src fs = {open(path, O_RDONLY | O_CLOEXEC)};
    if (fs.fd < 0) {
      fprintf(stderr, "scribe: %s: %s\n", path, strerror(errno));
      rc = 1;
      continue;
    }
    struct stat st;
    fstat(fs.fd, &st);
    scribe_audio_source src = {&fs, file_read, file_seek,
                               S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1};
    if (!S_ISREG(st.st_mode)) src.seek = NULL;
    bar_ctx bar = {path, -1};
    json_t *fields = NULL;
    err[0] = '\0';
    int r = scribe_pipeline_run(&eng, &cfg, &src, tty ? progress_bar : NULL, &bar, &fields, err,
                                sizeof(err));
    close(fs.fd);
    if (tty) fprintf(stderr, "\r%*s\r", 60, "");
    if (r) {
      fprintf(stderr, "scribe: %s: %s\n", path, *err ? err : scribe_strerror(r));
      rc = 1;
      continue;
    }
    const char *slash = strrchr(path, '/');
    json_object_set_new(fields, "file", json_string(slash ? slash + 1 : path));
    json_object_set_new(fields, "status", json_string("completed"));
    json_array_append_new(all, fields);
  }
  json_t *out = json_array_size(all) == 1 && argc == 2 ? json_array_get(all, 0) : all;
  if (json_array_size(all) > 0 || argc > 2) {
    json_dumpf(out, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
  }
  json_decref(all);
  scribe_engines_close(&eng, true);
out:
  scribe_config_release(&cfg);
  return rc;
}

/* ---- migrate ---------------------------------------------------------- */

static int cmd_migrate(int argc, char **argv) {
  if (has_flag(argc, argv, "--help") || has_flag(argc, argv, "-h")) {
    config_help("migrate", "[--postgres-url URL]",
                "Creates or upgrades the PostgreSQL tables of the postgres queue, results and "
                "notify backends, once (safe when several processes run it at the same time). "
                "Servers and workers also migrate at start; run this to do it ahead of a "
                "deployment.");
    return 0;
  }
  scribe_config cfg;
  int rc = load_config(&cfg, &argc, argv);
  if (rc) return rc;
  if ((rc = reject_unknown(argc, argv, 0))) goto out;
  if (!*cfg.postgres_url) {
    fprintf(stderr, "scribe migrate: set postgres_url (--postgres-url or SCRIBE_POSTGRES_URL)\n");
    rc = 2;
    goto out;
  }
  char err[512] = "";
  if (scribe_postgres_migrate(cfg.postgres_url, err, sizeof(err))) {
    fprintf(stderr, "scribe migrate: %s\n", err);
    rc = 1;
    goto out;
  }
  printf("schema is current\n");
out:
  scribe_config_release(&cfg);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
      printf("usage: scribe version\n\nPrints the version of scribe.\n");
      return 0;
    }
    printf("scribe %s\n", SCRIBE_VERSION);
    return 0;
  }
  /* Shift so each subcommand sees argv[0] = "scribe <cmd>". */
  argc--;
  argv++;
  if (!strcmp(cmd, "serve")) return cmd_serve(argc, argv, true);
  if (!strcmp(cmd, "worker")) return cmd_serve(argc, argv, false);
  if (!strcmp(cmd, "transcribe")) return cmd_transcribe(argc, argv);
  if (!strcmp(cmd, "extract")) return scribe_extract_cli(argc, argv);
  if (!strcmp(cmd, "migrate")) return cmd_migrate(argc, argv);
  if (!strcmp(cmd, "user")) return scribe_user_cli(argc, argv);
  fprintf(stderr, "scribe: unknown command \"%s\"\n\n", cmd);
  usage(stderr);
  return 2;
}
