/*
 * http.h - the HTTP + WebSocket front of Scribe (libmicrohttpd + wslay).
 *
 * Usage:
 *   scribe_app app;                      // opened with scribe_app_open()
 *   char err[256];
 *   scribe_http *h = scribe_http_start(&app, scribe_web_files, err, sizeof err);
 *   if (!h) { fprintf(stderr, "%s\n", err); ... }
 *   printf("listening on %d\n", scribe_http_port(h));
 *   ...                                  // until SIGTERM
 *   scribe_http_stop(h);                 // before scribe_app_close(&app)
 *
 * Serves, on app->cfg->host:app->cfg->port (docs/api.md has every shape):
 *   compatibility routes of the original AWS client
 *     GET  /get-upload-url[?patientId=]    GET /config
 *     PUT  /upload/{key}?expires=&max=&sig= (the signed upload URL)
 *     POST /upload-complete                GET /result/{key}
 *     WebSocket /ws
 *   native API
 *     POST/GET /api/v1/consultations       GET/DELETE /api/v1/consultations/{id}
 *     POST /api/v1/consultations/{id}/complete
 *     PUT  /api/v1/consultations/{id}/parts/{n}   (resumable upload)
 *     GET  /api/v1/consultations/{id}/parts   POST .../parts/complete
 *     WebSocket /api/v1/events             GET /healthz, GET /readyz
 *   the embedded web page (GET / and the files of the `web` table).
 *
 * Threads: libmicrohttpd's internal thread pool (epoll) answers HTTP; one
 * more thread runs every upgraded WebSocket connection.  Job events reach
 * the WebSocket thread through app->notify.  The app (its configuration and
 * backends) must outlive the server.
 */
#ifndef SCRIBE_HTTP_H
#define SCRIBE_HTTP_H

#include <stddef.h>

#include "core/embed.h"
#include "pipeline/app.h"

typedef struct scribe_http scribe_http;

/* Starts listening on app->cfg->host:app->cfg->port (port 0 = an ephemeral
 * port) and serving the routes above.  `web` is a table of embedded web
 * files (index.html, ...; may be NULL: then / answers 404); it must outlive
 * the server.  Returns NULL with a message in err when the address cannot
 * be bound or a thread cannot start.  Free with scribe_http_stop(). */
scribe_http *scribe_http_start(scribe_app *app, const scribe_embedded_file *web, char *err,
                               size_t errlen);

/* The bound TCP port (useful with port 0). */
int scribe_http_port(const scribe_http *h);

/* Stops accepting, closes every WebSocket with 1001 (going away), joins the
 * WebSocket thread, stops libmicrohttpd (in-flight requests are cut) and
 * frees h.  NULL is fine. */
void scribe_http_stop(scribe_http *h);

#endif
