/*
 * ws.c - the WebSocket side: one thread runs every upgraded connection
 * (epoll + wslay) and fans job events out to subscribers.
 *
 * Hand-overs into the thread, each under hub->mu and followed by a write
 * to an eventfd that wakes the thread:
 *   - upgraded sockets, from MHD's threads (scribe_ws_hub_upgrade);
 *   - job events, from scribe_notify's callback (any thread; it only
 *     copies the event into a bounded queue and never blocks);
 *   - the stop request.
 * Everything else (wslay contexts, subscriptions, the connection list) is
 * touched by the WebSocket thread only.
 *
 * Client messages (text, JSON, at most 64 KiB):
 *   {"action":"subscribe","audioKey":K}   (or "id":K)
 *   {"action":"unsubscribe","audioKey":K} (no key: every subscription)
 *   {"action":"ping"}
 * Server messages: {"type":"subscribed"|"unsubscribed","audioKey":K},
 * {"type":"pong"}, job events as published ({"type":"queued"|"progress"|
 * "completed"|"failed","audioKey":K,...}; a "completed" without "result"
 * gets the stored document added), {"type":"error","code":…,"message":…}.
 * A subscription to a job that is already queued, in progress, completed
 * or failed is answered at once with the matching event from the stored
 * record.  Binary messages close with 1003, oversized ones with 1009,
 * protocol errors with 1002 (wslay); the server closes with 1001 at stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "core/error.h"
#include "core/log.h"
#include "http/http_internal.h"

typedef struct ws_event {
  struct ws_event *next;
  char *key;
  char *json;
} ws_event;

typedef struct ws_conn {
  struct ws_conn *prev, *next;
  scribe_ws_hub *hub;
  int fd;
  struct MHD_UpgradeResponseHandle *urh;
  wslay_event_context_ptr ctx;
  unsigned char *pre; /* bytes MHD read past the handshake */
  size_t pre_len, pre_off;
  char *subs[SCRIBE_WS_MAX_SUBS];
  size_t nsubs;
  int64_t last_rx_ms;
  int64_t ping_ms; /* when the last ping was queued, 0 = none */
  uint32_t interest;
  bool dead;
  /* who opened it (auth on; authenticated at the upgrade) */
  int64_t user_id;
  bool admin;
} ws_conn;

struct scribe_ws_hub {
  scribe_app *app;
  scribe_auth *auth; /* NULL: auth off */
  int max_conns;
  int max_json_depth;
  atomic_int nconns; /* pending + live */
  int epfd, evfd;
  pthread_t thread;
  bool thread_started;
  uint64_t notify_id;
  bool subscribed;
  pthread_mutex_t mu;
  /* under mu */
  bool stopping;
  ws_conn *pending;
  ws_event *ev_head, *ev_tail;
  size_t ev_count;
  uint64_t ev_dropped;
  /* WebSocket thread only */
  ws_conn *conns;
};

static const uint8_t close_try_later[] = {0x88, 0x02, 0x03, 0xf5}; /* close 1013 */

static void wake(scribe_ws_hub *hub) {
  uint64_t one = 1;
  ssize_t r = write(hub->evfd, &one, sizeof(one));
  (void)r; /* EAGAIN: the counter is already non-zero, the thread wakes anyway */
}

/* ---------------------------------------------------------------------- */
/* Hand-overs (any thread)                                                 */

static void on_notify(void *user_data, const char *key, const char *event_json) {
  scribe_ws_hub *hub = user_data;
  if (!key || !event_json) return;
  ws_event *ev = calloc(1, sizeof(*ev));
  if (ev) {
    ev->key = strdup(key);
    ev->json = strdup(event_json);
  }
  if (!ev || !ev->key || !ev->json) {
    if (ev) {
      free(ev->key);
      free(ev->json);
      free(ev);
    }
    return;
  }
  pthread_mutex_lock(&hub->mu);
  if (hub->stopping || hub->ev_count >= SCRIBE_WS_EVENT_QUEUE_MAX) {
    hub->ev_dropped++;
    pthread_mutex_unlock(&hub->mu);
    free(ev->key);
    free(ev->json);
    free(ev);
    return;
  }
  if (hub->ev_tail)
    hub->ev_tail->next = ev;
  else
    hub->ev_head = ev;
  hub->ev_tail = ev;
  hub->ev_count++;
  pthread_mutex_unlock(&hub->mu);
  wake(hub);
}

bool scribe_ws_hub_full(scribe_ws_hub *hub) {
  if (!hub) return true;
  pthread_mutex_lock(&hub->mu);
  bool stopping = hub->stopping;
  pthread_mutex_unlock(&hub->mu);
  return stopping || atomic_load(&hub->nconns) >= hub->max_conns;
}

void scribe_ws_hub_upgrade(void *cls, struct MHD_Connection *connection, void *con_cls,
                           const char *extra_in, size_t extra_in_size, MHD_socket sock,
                           struct MHD_UpgradeResponseHandle *urh) {
  scribe_ws_hub *hub = cls;
  ws_conn *c = calloc(1, sizeof(*c));
  if (c && extra_in_size) {
    c->pre = malloc(extra_in_size);
    if (c->pre) {
      memcpy(c->pre, extra_in, extra_in_size);
      c->pre_len = extra_in_size;
    } else {
      free(c);
      c = NULL;
    }
  }
  bool accepted = false;
  if (c) {
    c->hub = hub;
    c->fd = sock;
    const http_req *r = con_cls;
    if (r && r->authed) {
      c->user_id = r->who.user_id;
      c->admin = r->who.role == SCRIBE_ROLE_ADMIN;
    }
    c->urh = urh;
    pthread_mutex_lock(&hub->mu);
    if (!hub->stopping && atomic_fetch_add(&hub->nconns, 1) < hub->max_conns) {
      c->next = hub->pending;
      hub->pending = c;
      accepted = true;
    } else if (!hub->stopping) {
      atomic_fetch_sub(&hub->nconns, 1);
    }
    pthread_mutex_unlock(&hub->mu);
  }
  if (accepted) {
    wake(hub);
    return;
  }
  /* Full, stopping or out of memory: "try again later", then hang up. */
  ssize_t w = send(sock, close_try_later, sizeof(close_try_later), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)w;
  if (c) free(c->pre);
  free(c);
  MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

/* ---------------------------------------------------------------------- */
/* wslay callbacks (WebSocket thread)                                      */

static ssize_t cb_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *user_data) {
  ws_conn *c = user_data;
  if (c->pre_off < c->pre_len) {
    size_t n = c->pre_len - c->pre_off;
    if (n > len) n = len;
    memcpy(buf, c->pre + c->pre_off, n);
    c->pre_off += n;
    if (c->pre_off == c->pre_len) {
      free(c->pre);
      c->pre = NULL;
      c->pre_len = c->pre_off = 0;
    }
    return (ssize_t)n;
  }
  ssize_t r;
  do {
    r = recv(c->fd, buf, len, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    wslay_event_set_error(ctx, (errno == EAGAIN || errno == EWOULDBLOCK)
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  if (r == 0) { /* peer closed the TCP connection */
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  c->last_rx_ms = scribe_mono_ms();
  c->ping_ms = 0;
  return r;
}

static ssize_t cb_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user_data) {
  ws_conn *c = user_data;
  ssize_t r;
  int f = MSG_NOSIGNAL | ((flags & WSLAY_MSG_MORE) ? MSG_MORE : 0);
  do {
    r = send(c->fd, data, len, f);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    wslay_event_set_error(ctx, (errno == EAGAIN || errno == EWOULDBLOCK)
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  return r;
}

/* Queues a text message (wslay copies it). */
static void send_text(ws_conn *c, const char *text, size_t len) {
  if (c->dead) return;
  if (wslay_event_get_queued_msg_length(c->ctx) + len > SCRIBE_WS_OUT_MAX) {
    LOG_WARN("ws: slow client dropped (%zu bytes queued)",
             wslay_event_get_queued_msg_length(c->ctx));
    c->dead = true;
    return;
  }
  struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)text, len};
  wslay_event_queue_msg(c->ctx, &m); /* fails only once a close is queued */
}

static void send_json(ws_conn *c, json_t *msg) {
  char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
  json_decref(msg);
  if (!text) return;
  send_text(c, text, strlen(text));
  free(text);
}

static void send_error(ws_conn *c, const char *code, const char *message) {
  send_json(c, json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", message));
}

static void close_with(ws_conn *c, uint16_t code, const char *reason) {
  wslay_event_queue_close(c->ctx, code, (const uint8_t *)reason, strlen(reason));
}

static ssize_t find_sub(ws_conn *c, const char *key) {
  for (size_t i = 0; i < c->nsubs; i++)
    if (strcmp(c->subs[i], key) == 0) return (ssize_t)i;
  return -1;
}

/* The stored state of key as an event: completed (with the document),
 * failed (with its reason), queued or progress.  NULL when there is
 * nothing to tell (no record, or just uploaded). */
static json_t *snapshot_event(scribe_ws_hub *hub, const char *key) {
  json_t *doc = NULL;
  if (scribe_results_get(hub->app->results, key, &doc) != SCRIBE_OK) return NULL;
  const char *status = json_string_value(json_object_get(doc, "status"));
  int st = scribe_status_parse(status);
  json_t *ev = NULL;
  switch (st) {
    case SCRIBE_STATUS_COMPLETED:
      ev = json_pack("{s:s,s:s,s:O}", "type", "completed", "audioKey", key, "result", doc);
      break;
    case SCRIBE_STATUS_FAILED: {
      const char *reason = json_string_value(json_object_get(doc, "error"));
      ev = json_pack("{s:s,s:s,s:s}", "type", "failed", "audioKey", key, "reason",
                     reason ? reason : "processing failed");
      break;
    }
    case SCRIBE_STATUS_QUEUED:
      ev = json_pack("{s:s,s:s}", "type", "queued", "audioKey", key);
      break;
    case SCRIBE_STATUS_TRANSCRIBING:
    case SCRIBE_STATUS_EXTRACTING: {
      json_t *pct = json_object_get(doc, "stage_percent");
      ev = json_pack("{s:s,s:s,s:s,s:I}", "type", "progress", "audioKey", key, "stage", status,
                     "percent", (json_int_t)(json_is_integer(pct) ? json_integer_value(pct) : 0));
      break;
    }
    default:
      break;
  }
  json_decref(doc);
  return ev;
}

/* Subscriptions only to one's own consultations (admins: any); others look
 * absent, as over HTTP. */
static bool may_see(ws_conn *c, const char *key) {
  scribe_ws_hub *hub = c->hub;
  if (!hub->auth || c->admin) return true;
  int64_t owner = 0;
  return c->user_id > 0 && scribe_auth_owner_get(hub->auth, key, &owner) == SCRIBE_OK &&
         owner == c->user_id;
}

static void handle_subscribe(ws_conn *c, const char *key) {
  if (!may_see(c, key)) {
    send_error(c, "not_found", "no such consultation");
    return;
  }
  if (find_sub(c, key) < 0) {
    if (c->nsubs >= SCRIBE_WS_MAX_SUBS) {
      send_error(c, "too_many_subscriptions", "at most 100 subscriptions per connection");
      return;
    }
    char *copy = strdup(key);
    if (!copy) {
      send_error(c, "internal", "internal error");
      return;
    }
    c->subs[c->nsubs++] = copy;
  }
  send_json(c, json_pack("{s:s,s:s}", "type", "subscribed", "audioKey", key));
  json_t *ev = snapshot_event(c->hub, key);
  if (ev) send_json(c, ev);
}

static void handle_unsubscribe(ws_conn *c, const char *key) {
  if (!key) {
    for (size_t i = 0; i < c->nsubs; i++) free(c->subs[i]);
    c->nsubs = 0;
    send_json(c, json_pack("{s:s}", "type", "unsubscribed"));
    return;
  }
  ssize_t i = find_sub(c, key);
  if (i >= 0) {
    free(c->subs[i]);
    c->subs[i] = c->subs[--c->nsubs];
  }
  send_json(c, json_pack("{s:s,s:s}", "type", "unsubscribed", "audioKey", key));
}

static void handle_text(ws_conn *c, const uint8_t *msg, size_t len) {
  const char *why = NULL;
  json_t *v = scribe_http_json_parse((const char *)msg, len, c->hub->max_json_depth, &why);
  if (!v || !json_is_object(v)) {
    json_decref(v);
    send_error(c, "bad_message", "messages are JSON objects with an \"action\"");
    return;
  }
  const char *action = json_string_value(json_object_get(v, "action"));
  json_t *k = json_object_get(v, "audioKey");
  if (!k) k = json_object_get(v, "id");
  const char *key = json_string_value(k);
  bool key_ok = key && scribe_app_key_valid(key);
  if (!action) {
    send_error(c, "bad_message", "\"action\" is required");
  } else if (strcmp(action, "subscribe") == 0) {
    if (key_ok)
      handle_subscribe(c, key);
    else
      send_error(c, "invalid_key", "\"audioKey\" must be a valid key");
  } else if (strcmp(action, "unsubscribe") == 0) {
    if (k && !key_ok)
      send_error(c, "invalid_key", "\"audioKey\" must be a valid key");
    else
      handle_unsubscribe(c, key);
  } else if (strcmp(action, "ping") == 0) {
    send_json(c, json_pack("{s:s}", "type", "pong"));
  } else {
    send_error(c, "unknown_action", "action must be subscribe, unsubscribe or ping");
  }
  json_decref(v);
}

static void cb_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user_data) {
  ws_conn *c = user_data;
  if (arg->opcode == WSLAY_TEXT_FRAME)
    handle_text(c, arg->msg, arg->msg_length);
  else if (arg->opcode == WSLAY_BINARY_FRAME)
    close_with(c, WSLAY_CODE_UNSUPPORTED_DATA, "text messages only");
  /* ping (answered by wslay), pong and close (answered by wslay) */
}

/* ---------------------------------------------------------------------- */
/* Connections (WebSocket thread)                                          */

static void conn_destroy(scribe_ws_hub *hub, ws_conn *c) {
  if (c->prev)
    c->prev->next = c->next;
  else if (hub->conns == c)
    hub->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  if (c->interest) epoll_ctl(hub->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  if (c->ctx) wslay_event_context_free(c->ctx);
  for (size_t i = 0; i < c->nsubs; i++) free(c->subs[i]);
  free(c->pre);
  /* MHD closes the socket and finishes the HTTP connection. */
  MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
  free(c);
  atomic_fetch_sub(&hub->nconns, 1);
}

/* Sends what is queued, then decides: dead, or the epoll interest. */
static void conn_settle(scribe_ws_hub *hub, ws_conn *c) {
  if (!c->dead && wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx) != 0)
    c->dead = true;
  if (!c->dead && (wslay_event_get_queued_msg_count(c->ctx) > SCRIBE_WS_OUT_MSGS_MAX ||
                   wslay_event_get_queued_msg_length(c->ctx) > SCRIBE_WS_OUT_MAX)) {
    /* a peer that sends (pings, requests) but does not read */
    LOG_WARN("ws: client not reading, dropped (%zu messages queued)",
             wslay_event_get_queued_msg_count(c->ctx));
    c->dead = true;
  }
  if (!c->dead && !wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx))
    c->dead = true; /* close handshake done (or our close sent after an error) */
  if (c->dead) return;
  uint32_t want = 0;
  if (wslay_event_want_read(c->ctx)) want |= EPOLLIN;
  if (wslay_event_want_write(c->ctx)) want |= EPOLLOUT;
  if (want == c->interest) return;
  struct epoll_event ev = {.events = want, .data.ptr = c};
  if (epoll_ctl(hub->epfd, c->interest ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) != 0)
    c->dead = true;
  else
    c->interest = want;
}

static const struct wslay_event_callbacks callbacks = {
    cb_recv, cb_send, NULL, NULL, NULL, NULL, cb_msg,
};

static void conn_start(scribe_ws_hub *hub, ws_conn *c) {
  c->last_rx_ms = scribe_mono_ms();
  int fl = fcntl(c->fd, F_GETFL);
  if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
      wslay_event_context_server_init(&c->ctx, &callbacks, c) != 0) {
    LOG_WARN("ws: cannot set up a connection");
    free(c->pre);
    MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(c);
    atomic_fetch_sub(&hub->nconns, 1);
    return;
  }
  wslay_event_config_set_max_recv_msg_length(c->ctx, SCRIBE_WS_MSG_MAX);
  c->prev = NULL;
  c->next = hub->conns;
  if (hub->conns) hub->conns->prev = c;
  hub->conns = c;
  /* Frames that arrived with the handshake are not seen by epoll. */
  if (c->pre_len && wslay_event_recv(c->ctx) != 0) c->dead = true;
  conn_settle(hub, c);
}

static void conn_io(scribe_ws_hub *hub, ws_conn *c, uint32_t events) {
  if (c->dead) return;
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && wslay_event_recv(c->ctx) != 0)
    c->dead = true;
  if (!c->dead && (events & EPOLLOUT) && wslay_event_send(c->ctx) != 0) c->dead = true;
  conn_settle(hub, c);
}

/* ---------------------------------------------------------------------- */
/* Events (WebSocket thread)                                               */

static void dispatch(scribe_ws_hub *hub, ws_event *ev) {
  bool any = false;
  for (ws_conn *c = hub->conns; c && !any; c = c->next)
    if (!c->dead && find_sub(c, ev->key) >= 0) any = true;
  if (!any) return;
  /* A "completed" event may come without the document: add it. */
  char *owned = NULL;
  const char *text = ev->json;
  json_t *v = json_loads(ev->json, 0, NULL);
  const char *type = json_string_value(json_object_get(v, "type"));
  if (type && strcmp(type, "completed") == 0 && !json_object_get(v, "result")) {
    json_t *doc = NULL;
    if (scribe_results_get(hub->app->results, ev->key, &doc) == SCRIBE_OK) {
      json_object_set_new(v, "result", doc);
      owned = json_dumps(v, JSON_COMPACT);
      if (owned) text = owned;
    }
  }
  json_decref(v);
  size_t len = strlen(text);
  for (ws_conn *c = hub->conns; c; c = c->next)
    if (!c->dead && find_sub(c, ev->key) >= 0) {
      send_text(c, text, len);
      conn_settle(hub, c);
    }
  free(owned);
}

static void keepalive(scribe_ws_hub *hub, int64_t now) {
  for (ws_conn *c = hub->conns; c; c = c->next) {
    if (c->dead) continue;
    if (now - c->last_rx_ms > SCRIBE_WS_IDLE_MS) {
      LOG_DEBUG("ws: idle connection closed");
      c->dead = true;
    } else if (now - c->last_rx_ms > SCRIBE_WS_PING_MS && !c->ping_ms) {
      struct wslay_event_msg m = {WSLAY_PING, NULL, 0};
      wslay_event_queue_msg(c->ctx, &m);
      c->ping_ms = now;
      conn_settle(hub, c);
    }
  }
}

static void reap(scribe_ws_hub *hub) {
  ws_conn *c = hub->conns;
  while (c) {
    ws_conn *next = c->next;
    if (c->dead) conn_destroy(hub, c);
    c = next;
  }
}

static void *hub_main(void *arg) {
  scribe_ws_hub *hub = arg;
  struct epoll_event evs[64];
  bool closing = false;
  int64_t deadline = 0, last_keepalive = scribe_mono_ms();
  for (;;) {
    int n = epoll_wait(hub->epfd, evs, 64, closing ? 50 : 1000);
    if (n < 0 && errno != EINTR) {
      LOG_ERROR("ws: epoll_wait failed: %s", strerror(errno));
      break;
    }
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL) {
        uint64_t v;
        ssize_t r = read(hub->evfd, &v, sizeof(v));
        (void)r;
      } else {
        conn_io(hub, evs[i].data.ptr, evs[i].events);
      }
    }
    pthread_mutex_lock(&hub->mu);
    ws_conn *pending = hub->pending;
    hub->pending = NULL;
    ws_event *events = hub->ev_head;
    hub->ev_head = hub->ev_tail = NULL;
    hub->ev_count = 0;
    uint64_t dropped = hub->ev_dropped;
    hub->ev_dropped = 0;
    bool stopping = hub->stopping;
    pthread_mutex_unlock(&hub->mu);

    if (dropped) LOG_WARN("ws: %" PRIu64 " events dropped (queue full)", dropped);
    while (pending) {
      ws_conn *c = pending;
      pending = c->next;
      conn_start(hub, c);
    }
    while (events) {
      ws_event *ev = events;
      events = ev->next;
      if (!stopping) dispatch(hub, ev);
      free(ev->key);
      free(ev->json);
      free(ev);
    }
    int64_t now = scribe_mono_ms();
    if (now - last_keepalive >= 1000) {
      keepalive(hub, now);
      last_keepalive = now;
    }
    if (stopping && !closing) {
      closing = true;
      deadline = now + SCRIBE_WS_CLOSE_WAIT_MS;
      for (ws_conn *c = hub->conns; c; c = c->next) {
        if (c->dead) continue;
        close_with(c, WSLAY_CODE_GOING_AWAY, "server shutting down");
        conn_settle(hub, c);
      }
    }
    reap(hub);
    if (closing && (!hub->conns || now >= deadline)) break;
  }
  while (hub->conns) conn_destroy(hub, hub->conns);
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* Create / stop                                                           */

scribe_ws_hub *scribe_ws_hub_create(scribe_app *app, scribe_auth *auth, int max_conns,
                                    int max_json_depth, char *err, size_t errlen) {
  scribe_ws_hub *hub = calloc(1, sizeof(*hub));
  if (!hub) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  hub->app = app;
  hub->auth = auth;
  hub->max_conns = max_conns > 0 ? max_conns : 1;
  hub->max_json_depth = max_json_depth > 0 ? max_json_depth : 32;
  hub->epfd = hub->evfd = -1;
  atomic_init(&hub->nconns, 0);
  pthread_mutex_init(&hub->mu, NULL);
  hub->epfd = epoll_create1(EPOLL_CLOEXEC);
  hub->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (hub->epfd < 0 || hub->evfd < 0) {
    snprintf(err, errlen, "websocket: cannot create epoll/eventfd: %s", strerror(errno));
    goto fail;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(hub->epfd, EPOLL_CTL_ADD, hub->evfd, &ev) != 0) {
    snprintf(err, errlen, "websocket: epoll_ctl: %s", strerror(errno));
    goto fail;
  }
  if (app->notify) {
    if (scribe_notify_subscribe(app->notify, on_notify, hub, &hub->notify_id) != SCRIBE_OK) {
      snprintf(err, errlen, "websocket: cannot subscribe to notifications");
      goto fail;
    }
    hub->subscribed = true;
  }
  if (pthread_create(&hub->thread, NULL, hub_main, hub) != 0) {
    snprintf(err, errlen, "websocket: cannot start thread");
    goto fail;
  }
  hub->thread_started = true;
  return hub;

fail:
  scribe_ws_hub_free(hub);
  return NULL;
}

void scribe_ws_hub_stop(scribe_ws_hub *hub) {
  if (!hub) return;
  if (hub->subscribed) {
    scribe_notify_unsubscribe(hub->app->notify, hub->notify_id);
    hub->subscribed = false;
  }
  pthread_mutex_lock(&hub->mu);
  hub->stopping = true;
  pthread_mutex_unlock(&hub->mu);
  if (hub->thread_started) {
    wake(hub);
    pthread_join(hub->thread, NULL);
    hub->thread_started = false;
  }
  /* Connections handed over after the thread saw the stop. */
  pthread_mutex_lock(&hub->mu);
  ws_conn *pending = hub->pending;
  hub->pending = NULL;
  pthread_mutex_unlock(&hub->mu);
  while (pending) {
    ws_conn *c = pending;
    pending = c->next;
    ssize_t w = send(c->fd, close_try_later, sizeof(close_try_later), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(c->pre);
    free(c);
    atomic_fetch_sub(&hub->nconns, 1);
  }
}

void scribe_ws_hub_free(scribe_ws_hub *hub) {
  if (!hub) return;
  scribe_ws_hub_stop(hub);
  ws_event *ev = hub->ev_head;
  while (ev) {
    ws_event *next = ev->next;
    free(ev->key);
    free(ev->json);
    free(ev);
    ev = next;
  }
  if (hub->epfd >= 0) close(hub->epfd);
  if (hub->evfd >= 0) close(hub->evfd);
  pthread_mutex_destroy(&hub->mu);
  free(hub);
}
