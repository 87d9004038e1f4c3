/*
 * C test of libcopilot against the real Copilot CLI, with tests/fake-model as the BYOK model.
 * Environment: COPILOT_CLI_PATH (the CLI), FAKE_MODEL_BIN (the fake model server).
 * Prints "N passed, M failed" and exits non-zero on any failure. Every wait has a deadline that
 * only detects hangs; no assertion depends on timing.
 */
#include "harness.h"

/* ------------------------------------------------------------------------------------------ */
/* Session event log and request handlers */

#define MAX_EVENTS 4096

typedef struct {
    /* handler behaviour */
    const char *tool_reply;   /* JSON answer for tools */
    const char *tool_fail;    /* fail tools with this message */
    int tool_async;           /* answer tools from another thread */
    const char *permission;   /* JSON answer for permission requests */
    const char *user_input;   /* JSON answer for user input */
    int free_in_callback;     /* not a handler: see test_free_inside_callback */
    /* what was seen */
    pthread_mutex_t m;
    pthread_cond_t c;
    char *types[MAX_EVENTS];
    char *events[MAX_EVENTS];
    int n;
    char requests[64][32]; /* kinds of handler requests, in order */
    char names[64][48];    /* their copilot_request_name ("-" for none) */
    int n_requests;
    char hooks[64][48];
    int n_hooks;
    char questions[8][128];
    int n_questions;
    uint64_t last_request_id;
    int tool_payload_ok;
} Session;

static void session_init(Session *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->m, NULL);
    pthread_cond_init(&s->c, NULL);
}

static void session_destroy(Session *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->types[i]);
        free(s->events[i]);
    }
    pthread_mutex_destroy(&s->m);
    pthread_cond_destroy(&s->c);
}

/* Copies "type" out of an event JSON (the envelope's "type" precedes "data"). */
static char *event_type(const char *json) {
    const char *p = strstr(json, "\"type\":\"");
    if (!p) return xstrdup("?");
    p += 8;
    const char *e = strchr(p, '"');
    return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

static void on_event(void *ud, const char *json) {
    Session *s = ud;
    pthread_mutex_lock(&s->m);
    if (s->n < MAX_EVENTS) {
        s->types[s->n] = event_type(json);
        s->events[s->n] = xstrdup(json);
        s->n++;
    }
    pthread_cond_broadcast(&s->c);
    pthread_mutex_unlock(&s->m);
}

/* Index of the first event of this type at or after `from`, waiting for it; -1 on a hang. */
static int wait_event(Session *s, const char *type, int from) {
    struct timespec ts;
    deadline_in(&ts, HANG_SECONDS);
    pthread_mutex_lock(&s->m);
    int found = -1;
    for (;;) {
        for (int i = from; i < s->n && found < 0; i++)
            if (strcmp(s->types[i], type) == 0) found = i;
        if (found >= 0) break;
        if (pthread_cond_timedwait(&s->c, &s->m, &ts) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&s->m);
    return found;
}

static int event_count(Session *s) {
    pthread_mutex_lock(&s->m);
    int n = s->n;
    pthread_mutex_unlock(&s->m);
    return n;
}

/* True when the types appear in this order (a subsequence) in events [from, n). */
static int has_sequence(Session *s, int from, const char **types, int k) {
    pthread_mutex_lock(&s->m);
    int j = 0;
    for (int i = from; i < s->n && j < k; i++)
        if (strcmp(s->types[i], types[j]) == 0) j++;
    pthread_mutex_unlock(&s->m);
    return j == k;
}

static int has_type(Session *s, int from, const char *type) {
    return has_sequence(s, from, &type, 1);
}

typedef struct {
    uint64_t id;
    const char *message;
} LateAnswer;

static void *answer_later(void *arg) {
    LateAnswer *a = arg;
    usleep(50 * 1000);
    copilot_request_fail(a->id, a->message);
    /* A second answer is refused. */
    CopilotStatus again = copilot_request_fail(a->id, "twice");
    free(a);
    return (void *)(intptr_t)again;
}

static pthread_t g_late_thread;
static int g_late_started;

/* Copies `"key":"value"` out of a JSON text (first match). */
static void copy_field(const char *json, const char *key, char *out, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    out[0] = 0;
    if (!p) return;
    p += strlen(pat);
    size_t i = 0;
    while (*p && *p != '"' && i + 1 < cap) out[i++] = *p++;
    out[i] = 0;
}

static void on_request(void *ud, uint64_t id, const char *kind, const char *payload) {
    Session *s = ud;
    char *name = NULL;
    CopilotStatus named = copilot_request_name(id, &name);
    pthread_mutex_lock(&s->m);
    if (s->n_requests < 64) {
        snprintf(s->names[s->n_requests], 48, "%s", named != COPILOT_OK ? "?" : name ? name : "-");
        snprintf(s->requests[s->n_requests++], 32, "%s", kind);
    }
    s->last_request_id = id;
    pthread_mutex_unlock(&s->m);
    copilot_string_free(name);
    CopilotStatus st = COPILOT_OK;
    if (strcmp(kind, "tool") == 0) {
        s->tool_payload_ok = strstr(payload, "\"toolName\":\"get_weather\"") && strstr(payload, "\"arguments\":{") &&
                             strstr(payload, "\"toolCallId\":\"");
        if (s->tool_async) {
            LateAnswer *a = malloc(sizeof *a);
            a->id = id;
            a->message = s->tool_fail;
            pthread_create(&g_late_thread, NULL, answer_later, a);
            g_late_started = 1;
            return;
        }
        st = s->tool_fail ? copilot_request_fail(id, s->tool_fail) : copilot_request_reply(id, s->tool_reply);
    } else if (strcmp(kind, "permission") == 0) {
        if (!s->permission) return; /* left pending on purpose (see test_free_answers_pending_requests) */
        st = copilot_request_reply(id, s->permission);
    } else if (strcmp(kind, "userInput") == 0) {
        pthread_mutex_lock(&s->m);
        if (s->n_questions < 8) copy_field(payload, "question", s->questions[s->n_questions++], 128);
        pthread_mutex_unlock(&s->m);
        st = copilot_request_reply(id, s->user_input);
    } else if (strcmp(kind, "hook") == 0) {
        pthread_mutex_lock(&s->m);
        if (s->n_hooks < 64) copy_field(payload, "hookType", s->hooks[s->n_hooks++], 48);
        pthread_mutex_unlock(&s->m);
        st = copilot_request_reply(id, "null");
    } else {
        st = copilot_request_fail(id, "unexpected request kind");
    }
    if (st != COPILOT_OK) fprintf(stderr, "reply to %s failed: %d\n", kind, st);
}

/* A session config with the fake model as provider, plus extra members (may be ""). */
static char *session_config(const char *extra) {
    return fmt("{\"model\":\"gpt-4.1\",\"provider\":{\"type\":\"openai\",\"baseUrl\":\"%s\",\"apiKey\":\"x\"}%s%s}",
               g_model_url, *extra ? "," : "", extra);
}

static CopilotSession *create_session(CopilotClient *c, const char *extra, Session *log) {
    char *cfg = session_config(extra);
    CopilotSession *s = NULL;
    Waiter w;
    CopilotStatus st =
        RUN(&w, copilot_client_create_session(c, cfg, on_event, on_request, log, on_done, &w, &s, NULL));
    free(cfg);
    if (st != COPILOT_OK || w.status != COPILOT_OK) {
        fprintf(stderr, "[%s] create_session failed: %d/%d %s\n", g_test, st, w.status, w.json ? w.json : "");
        waiter_destroy(&w);
        copilot_session_free(s);
        return NULL;
    }
    waiter_destroy(&w);
    return s;
}

/* send_and_wait; returns the completion status and copies the JSON to *json (caller frees). */
static CopilotStatus ask(CopilotSession *s, const char *options, char **json) {
    Waiter w;
    CopilotStatus st = RUN(&w, copilot_session_send_and_wait(s, options, on_done, &w, NULL));
    if (st != COPILOT_OK) {
        *json = last_error_message();
        return st;
    }
    CopilotStatus done = w.status;
    *json = xstrdup(w.json);
    if (w.calls != 1) done = -1;
    waiter_destroy(&w);
    return done;
}

static char *prompt(const char *p) {
    char *q = json_str(p);
    char *o = fmt("{\"prompt\":%s,\"timeout\":120}", q);
    free(q);
    return o;
}

/* send_and_wait with a plain prompt. */
static CopilotStatus say(CopilotSession *s, const char *p, char **json) {
    char *o = prompt(p);
    CopilotStatus st = ask(s, o, json);
    free(o);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Tests */

static void test_version_errors_and_guards(void) {
    CHECK(strlen(copilot_version()) > 0, "empty version");
    CHECK(copilot_abi_version() == COPILOT_ABI_VERSION && COPILOT_ABI_VERSION == 7, "abi %u", copilot_abi_version());
    CHECK(strcmp(copilot_error_name(COPILOT_OK), "ok") == 0, "ok name");
    CHECK(strcmp(copilot_error_name(COPILOT_ERR_TIMEOUT), "timeout") == 0, "timeout name");
    CHECK(strcmp(copilot_error_name(COPILOT_ERR_RPC), "rpc_error") == 0, "rpc name");
    CHECK(strcmp(copilot_error_name(COPILOT_ERR_INTERNAL), "internal") == 0, "internal name");
    CHECK(strcmp(copilot_error_name(COPILOT_ERR_NULL_POINTER), "null_pointer") == 0, "null name");
    CHECK(strcmp(copilot_error_name(COPILOT_ERR_IN_CALLBACK), "in_callback") == 0, "in_callback name");
    CHECK(strcmp(copilot_error_name(4242), "unknown") == 0, "unknown name");
    CHECK(copilot_error_name(COPILOT_ERR_TIMEOUT) == copilot_error_name(COPILOT_ERR_TIMEOUT), "static name");

    CopilotClient *c = (CopilotClient *)0x1;
    CHECK(copilot_client_new(NULL, NULL, NULL, NULL) == COPILOT_ERR_NULL_POINTER, "NULL out");
    CHECK(copilot_client_new("{\"cliUrl\":\"\xff\"}", NULL, NULL, &c) == COPILOT_ERR_INVALID_UTF8, "bad utf8");
    CHECK(c == NULL, "out reset on failure");
    CHECK(copilot_client_new("{not json", NULL, NULL, &c) == COPILOT_ERR_INVALID_ARGUMENT, "bad json");
    CHECK(copilot_client_new("{\"colour\":\"red\"}", NULL, NULL, &c) == COPILOT_ERR_INVALID_CONFIG, "bad option");
    /* The reliability options pass through to the core, which checks their types. */
    const char *bad_options[] = {
        "{\"reconnect\":\"yes\"}", "{\"reconnect\":{\"maxAttempts\":-1}}", "{\"reconnect\":{\"sometimes\":1}}",
        "{\"requestTimeout\":\"soon\"}", "{\"heartbeatInterval\":-1}", "{\"heartbeatTimeout\":true}",
        "{\"tcpKeepalive\":[]}", "{\"tcpUserTimeout\":\"20\"}",
    };
    for (size_t i = 0; i < sizeof bad_options / sizeof bad_options[0]; i++) {
        CHECK(copilot_client_new(bad_options[i], NULL, NULL, &c) == COPILOT_ERR_INVALID_CONFIG && c == NULL, "%s",
              bad_options[i]);
    }
    CHECK(copilot_client_new("{\"cliUrl\":\"127.0.0.1:1\",\"reconnect\":{\"enabled\":true,\"maxAttempts\":3,"
                             "\"initialDelay\":0.05,\"maxDelay\":1,\"callWait\":0,\"maxRestarts\":2,\"restartWindow\":30},"
                             "\"requestTimeout\":0,\"heartbeatInterval\":0.5,\"heartbeatTimeout\":1,\"tcpKeepalive\":0,"
                             "\"tcpUserTimeout\":5}",
                             NULL, NULL, &c) == COPILOT_OK,
          "every reliability option: %s", copilot_error_name(COPILOT_OK));
    copilot_client_free(c);
    CHECK(copilot_client_new("{\"cliUrl\":\"127.0.0.1:1\",\"reconnect\":false}", NULL, NULL, &c) == COPILOT_OK,
          "reconnect false");
    copilot_client_free(c);
    c = (CopilotClient *)0x1;
    CHECK(copilot_client_new("{\"colour\":\"red\"}", NULL, NULL, &c) == COPILOT_ERR_INVALID_CONFIG, "bad option");
    CHECK(strcmp(copilot_error_name(COPILOT_ERR_RECONNECTING), "reconnecting") == 0 &&
              strcmp(copilot_error_name(COPILOT_ERR_RECONNECT_FAILED), "reconnect_failed") == 0 &&
              strcmp(copilot_error_name(COPILOT_ERR_TURN_OUTCOME_UNKNOWN), "turn_outcome_unknown") == 0,
          "reliability code names");
    char *msg = copilot_last_error_message();
    char *js = copilot_last_error_json();
    CHECK(msg && strstr(msg, "colour"), "message: %s", msg);
    CHECK(js && strstr(js, "\"code\":\"invalid_config\"") && strstr(js, "\"status\":16"), "json: %s", js);
    copilot_string_free(msg);
    copilot_string_free(js);
    copilot_string_free(NULL);
    CHECK(copilot_client_start(NULL, on_done, NULL, NULL) == COPILOT_ERR_NULL_POINTER, "NULL client");
    CHECK(copilot_session_send(NULL, "\"x\"", on_done, NULL, NULL) == COPILOT_ERR_NULL_POINTER, "NULL session");
    CHECK(copilot_client_info(NULL) == NULL, "info of NULL");
    CHECK(copilot_session_id(NULL) == NULL, "id of NULL");
    CHECK(copilot_cancel(987654321) == COPILOT_ERR_UNKNOWN_ID, "cancel unknown");
    CHECK(copilot_request_reply(987654321, "null") == COPILOT_ERR_UNKNOWN_ID, "reply unknown");
    CHECK(copilot_request_reply(1, "{oops") == COPILOT_ERR_INVALID_ARGUMENT, "reply bad json");
    CHECK(copilot_request_fail(987654321, "x") == COPILOT_ERR_UNKNOWN_ID, "fail unknown");
    char *name = (char *)0x1;
    CHECK(copilot_request_name(987654321, &name) == COPILOT_ERR_UNKNOWN_ID && name == NULL, "name of unknown");
    CHECK(copilot_request_name(1, NULL) == COPILOT_ERR_NULL_POINTER, "name NULL out");
    uint64_t sub = 7;
    CHECK(copilot_client_subscribe_lifecycle(NULL, NULL, on_event, NULL, &sub) == COPILOT_ERR_NULL_POINTER && sub == 0,
          "lifecycle NULL client");
    CHECK(copilot_client_unsubscribe_lifecycle(NULL, 1) == COPILOT_ERR_NULL_POINTER, "unsubscribe NULL client");
    copilot_client_free(NULL);
    copilot_session_free(NULL);

    /* A client that is never started starts on its first call; here the connection fails, typed. */
    CopilotClient *idle = NULL;
    CHECK(copilot_client_new("{\"cliUrl\":\"127.0.0.1:1\"}", NULL, NULL, &idle) == COPILOT_OK, "new");
    char *json = NULL;
    CHECK(simple_call(copilot_client_get_status, idle, &json) == COPILOT_ERR_CONNECT, "%s", json);
    CHECK(strstr(json, "\"code\":\"connect_failed\""), "%s", json);
    free(json);
    CHECK(simple_call(copilot_client_start, idle, &json) == COPILOT_ERR_CONNECT, "%s", json);
    CHECK(strstr(json, "\"transportFailure\":"), "%s", json);
    free(json);
    /* A per-call deadline is a finite number of seconds >= 0 (checked before the call starts). */
    const double bad_deadlines[] = {-1.0, 0.0 / 0.0, 1.0 / 0.0};
    for (int i = 0; i < 3; i++) {
        uint64_t call = 9;
        CHECK(copilot_client_rpc_with_timeout(idle, "ping", NULL, bad_deadlines[i], on_done, NULL, &call) ==
                      COPILOT_ERR_INVALID_ARGUMENT &&
                  call == 0,
              "deadline %f", bad_deadlines[i]);
    }
    CHECK(copilot_client_rpc_with_timeout(NULL, "ping", NULL, 1, on_done, NULL, NULL) == COPILOT_ERR_NULL_POINTER,
          "NULL client");
    CHECK(copilot_session_rpc_with_timeout(NULL, "x", NULL, 1, on_done, NULL, NULL) == COPILOT_ERR_NULL_POINTER,
          "NULL session");
    copilot_client_free(idle);
}

static void test_owner_spawns_tcp_cli(void) {
    REQUIRE(start_owner(), "the run's CLI did not start");
    char *info = copilot_client_info(g_owner);
    CHECK(strstr(info, "\"running\":true"), "%s", info);
    CHECK(strstr(info, "\"protocolVersion\":3"), "%s", info);
    CHECK(strstr(info, "\"serverVersion\":\"1.0.102\""), "%s", info);
    CHECK(strstr(info, "\"cliPid\":") && !strstr(info, "\"cliPid\":null"), "%s", info);
    copilot_string_free(info);
}

static void test_connection_token(void) {
    const char *tokens[] = {NULL, "wrong-token"};
    for (int i = 0; i < 2; i++) {
        char *o = tokens[i] ? fmt("{\"cliUrl\":\"http://127.0.0.1:%d\",\"connectionToken\":\"%s\"}", g_port, tokens[i])
                            : fmt("{\"cliUrl\":\"http://127.0.0.1:%d\"}", g_port);
        CopilotClient *c = NULL;
        CHECK(copilot_client_new(o, NULL, NULL, &c) == COPILOT_OK, "new");
        free(o);
        char *json = NULL;
        CopilotStatus st = simple_call(copilot_client_start, c, &json);
        CHECK(st == COPILOT_ERR_AUTHENTICATION, "token %s: %d %s", tokens[i] ? tokens[i] : "(none)", st, json);
        CHECK(strstr(json, "\"rpc\":{\"code\":-3200"), "%s", json);
        free(json);
        copilot_client_free(c);
    }
    CopilotClient *ok = connect_shared();
    char *json = NULL;
    CHECK(simple_call(copilot_client_get_status, ok, &json) == COPILOT_OK, "%s", json);
    free(json);
    free_and_stop(ok);
}

static CopilotStatus ping(const CopilotClient *c, const char *m, char **json) {
    Waiter w;
    CopilotStatus st = RUN(&w, copilot_client_ping(c, m, on_done, &w, NULL));
    if (st != COPILOT_OK) {
        *json = last_error_message();
        return st;
    }
    *json = xstrdup(w.json);
    st = w.status;
    waiter_destroy(&w);
    return st;
}

static CopilotStatus client_rpc(const CopilotClient *c, const char *method, const char *params, char **json) {
    Waiter w;
    CopilotStatus st = RUN(&w, copilot_client_rpc(c, method, params, on_done, &w, NULL));
    if (st != COPILOT_OK) {
        *json = last_error_message();
        return st;
    }
    *json = xstrdup(w.json);
    st = w.status;
    waiter_destroy(&w);
    return st;
}

static void test_client_methods(void) {
    CopilotClient *c = connect_shared();
    char *json = NULL;
    CHECK(ping(c, "x", &json) == COPILOT_OK && strstr(json, "\"message\":\"pong: x\""), "%s", json);
    free(json);
    CHECK(ping(c, NULL, &json) == COPILOT_OK && strstr(json, "\"protocolVersion\":3"), "%s", json);
    free(json);
    CHECK(simple_call(copilot_client_get_status, c, &json) == COPILOT_OK && strstr(json, "\"version\":\"1.0.102\""),
          "%s", json);
    free(json);
    CHECK(simple_call(copilot_client_get_auth_status, c, &json) == COPILOT_OK &&
              strstr(json, "\"isAuthenticated\":false"),
          "%s", json);
    free(json);
    /* Offline and unauthenticated: a typed RPC error. */
    CHECK(simple_call(copilot_client_list_models, c, &json) == COPILOT_ERR_RPC, "%s", json);
    CHECK(strstr(json, "\"code\":\"rpc_error\"") && strstr(json, "\"transportFailure\":false"), "%s", json);
    free(json);
    CHECK(simple_call(copilot_client_get_foreground_session_id, c, &json) == COPILOT_OK && strcmp(json, "null") == 0,
          "%s", json);
    free(json);
    Waiter w;
    RUN(&w, copilot_client_set_foreground_session_id(c, "nope", on_done, &w, NULL));
    CHECK(w.status != COPILOT_OK, "set foreground should fail: %s", w.json);
    waiter_destroy(&w);
    CHECK(client_rpc(c, "tools.list", NULL, &json) == COPILOT_OK && strstr(json, "\"tools\":["), "%.200s", json);
    free(json);
    CHECK(client_rpc(c, "no.such.method", "{}", &json) == COPILOT_ERR_RPC && strstr(json, "\"code\":-32601"), "%s",
          json);
    free(json);
    CHECK(client_rpc(c, "ping", "[1,", &json) == COPILOT_ERR_INVALID_ARGUMENT, "%s", json);
    free(json);
    CHECK(simple_call(copilot_client_stop, c, &json) == COPILOT_OK, "%s", json);
    free(json);
    CHECK(ping(c, NULL, &json) == COPILOT_ERR_NOT_CONNECTED, "%s", json);
    free(json);
    CHECK(simple_call(copilot_client_stop, c, &json) == COPILOT_OK, "stop is idempotent: %s", json);
    free(json);
    copilot_client_free(c);
}

/* ping_before_start: a never-started client answers ping by starting; after stop() calls fail
 * with not_connected until start(); with autoStart false a call before start() fails. */
static void test_ping_before_start(void) {
    char *o = fmt("{\"cliUrl\":\"127.0.0.1:%d\",\"connectionToken\":\"%s\"}", g_port, TOKEN);
    CopilotClient *c = NULL;
    CHECK(copilot_client_new(o, NULL, NULL, &c) == COPILOT_OK, "new");
    free(o);
    char *json = NULL;
    CHECK(ping(c, "early", &json) == COPILOT_OK && strstr(json, "\"message\":\"pong: early\""), "%s", json);
    free(json);
    char *info = copilot_client_info(c);
    CHECK(strstr(info, "\"running\":true"), "%s", info);
    copilot_string_free(info);
    CHECK(simple_call(copilot_client_stop, c, &json) == COPILOT_OK, "%s", json);
    free(json);
    CHECK(ping(c, NULL, &json) == COPILOT_ERR_NOT_CONNECTED && strstr(json, "\"code\":\"not_connected\""), "%s",
          json);
    free(json);
    CHECK(simple_call(copilot_client_start, c, &json) == COPILOT_OK, "%s", json);
    free(json);
    CHECK(ping(c, "again", &json) == COPILOT_OK && strstr(json, "pong: again"), "%s", json);
    free(json);
    free_and_stop(c);

    o = fmt("{\"cliUrl\":\"127.0.0.1:%d\",\"connectionToken\":\"%s\",\"autoStart\":false}", g_port, TOKEN);
    CHECK(copilot_client_new(o, NULL, NULL, &c) == COPILOT_OK, "new");
    free(o);
    CHECK(ping(c, NULL, &json) == COPILOT_ERR_NOT_CONNECTED, "%s", json);
    free(json);
    CHECK(simple_call(copilot_client_start, c, &json) == COPILOT_OK, "%s", json);
    free(json);
    CHECK(ping(c, NULL, &json) == COPILOT_OK, "%s", json);
    free(json);
    free_and_stop(c);
}

/* What one subscription saw. */
typedef struct {
    pthread_mutex_t m;
    char types[256][48];
    int n;
    CopilotSession *session; /* set: unsubscribe from inside the first callback */
    uint64_t id;
    CopilotStatus unsubscribed;
} SubLog;

static void sublog_init(SubLog *l) {
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->m, NULL);
    l->unsubscribed = -1;
}

static void on_sub_event(void *ud, const char *json) {
    SubLog *l = ud;
    char *t = event_type(json);
    pthread_mutex_lock(&l->m);
    if (l->n < 256) snprintf(l->types[l->n++], 48, "%s", t);
    pthread_mutex_unlock(&l->m);
    free(t);
    if (l->session && l->unsubscribed < 0) l->unsubscribed = copilot_session_unsubscribe(l->session, l->id);
}

static int sublog_count(SubLog *l, const char *type) {
    pthread_mutex_lock(&l->m);
    int k = 0;
    for (int i = 0; i < l->n; i++) k += type == NULL || strcmp(l->types[i], type) == 0;
    pthread_mutex_unlock(&l->m);
    return k;
}

/* Runs inside the send_and_wait completion: had the subscription seen the turn's idle? */
static int g_idle_before_completion;
static void idle_seen_at_completion(void *arg, CopilotStatus st) {
    (void)st;
    g_idle_before_completion = sublog_count(arg, "session.idle");
}

static void test_subscriptions(void) {
    CopilotClient *c = connect_shared();
    Session log;
    session_init(&log);
    CopilotSession *s = create_session(c, "", &log);
    if (!s) {
        session_destroy(&log);
        free_and_stop(c);
        return;
    }
    int from = event_count(&log); /* before subscribing: on_event's log from here has all's events */
    SubLog all, idle, once;
    sublog_init(&all);
    sublog_init(&idle);
    sublog_init(&once);
    uint64_t a = 0, b = 0, x = 7;
    CHECK(copilot_session_subscribe(s, NULL, on_sub_event, &all, &a) == COPILOT_OK && a != 0, "all");
    CHECK(copilot_session_subscribe(s, "[\"session.idle\"]", on_sub_event, &idle, &b) == COPILOT_OK && b != a, "idle");
    once.session = s;
    CHECK(copilot_session_subscribe(s, "null", on_sub_event, &once, &once.id) == COPILOT_OK, "once");
    CHECK(copilot_session_subscribe(s, "[1]", on_sub_event, &all, &x) == COPILOT_ERR_INVALID_ARGUMENT && x == 0,
          "types must be strings");
    CHECK(copilot_session_subscribe(s, "{\"a\":1}", on_sub_event, &all, &x) == COPILOT_ERR_INVALID_ARGUMENT, "object");
    CHECK(copilot_session_subscribe(s, "[", on_sub_event, &all, &x) == COPILOT_ERR_INVALID_ARGUMENT, "bad json");
    CHECK(copilot_session_subscribe(s, NULL, NULL, &all, &x) == COPILOT_ERR_NULL_POINTER, "NULL callback");
    CHECK(copilot_session_subscribe(NULL, NULL, on_sub_event, &all, &x) == COPILOT_ERR_NULL_POINTER, "NULL session");
    CHECK(copilot_session_subscribe(s, NULL, on_sub_event, &all, NULL) == COPILOT_ERR_NULL_POINTER, "NULL out");

    Waiter w;
    waiter_init(&w);
    w.then = idle_seen_at_completion;
    w.then_arg = &all;
    char *o = prompt("Say hello");
    CHECK(copilot_session_send_and_wait(s, o, on_done, &w, NULL) == COPILOT_OK, "start");
    free(o);
    CHECK(waiter_wait(&w) && w.status == COPILOT_OK, "%d %s", w.status, w.json);
    waiter_destroy(&w);
    CHECK(g_idle_before_completion == 1, "the completion ran before the subscription saw session.idle");
    /* A subscription sees each event once, in the order on_event does: what it saw is the tail of
     * on_event's log (an event queued before it subscribed may still reach on_event after). */
    pthread_mutex_lock(&log.m);
    pthread_mutex_lock(&all.m);
    int tail = all.n <= log.n - from && all.n >= 5;
    for (int i = 0; tail && i < all.n; i++) tail = strcmp(all.types[i], log.types[log.n - all.n + i]) == 0;
    CHECK(tail, "all saw %d events, on_event %d since the subscription", all.n, log.n - from);
    pthread_mutex_unlock(&all.m);
    pthread_mutex_unlock(&log.m);
    CHECK(sublog_count(&idle, NULL) == 1 && sublog_count(&idle, "session.idle") == 1, "filtered: %d",
          sublog_count(&idle, NULL));
    CHECK(sublog_count(&once, NULL) == 1 && once.unsubscribed == COPILOT_OK, "unsubscribed inside its callback: %d %d",
          sublog_count(&once, NULL), once.unsubscribed);

    CHECK(copilot_session_unsubscribe(s, b) == COPILOT_OK, "unsubscribe");
    CHECK(copilot_session_unsubscribe(s, b) == COPILOT_ERR_UNKNOWN_ID, "twice");
    CHECK(copilot_session_unsubscribe(s, once.id) == COPILOT_ERR_UNKNOWN_ID, "already gone");
    CHECK(copilot_session_unsubscribe(s, 0) == COPILOT_ERR_UNKNOWN_ID, "0 is no subscription");
    CHECK(copilot_session_unsubscribe(NULL, a) == COPILOT_ERR_NULL_POINTER, "NULL session");
    int all_before = sublog_count(&all, NULL);
    char *json = NULL;
    CHECK(say(s, "REPLY again", &json) == COPILOT_OK, "%s", json);
    free(json);
    CHECK(sublog_count(&all, "session.idle") == 2 && sublog_count(&all, NULL) > all_before, "all goes on");
    CHECK(sublog_count(&idle, NULL) == 1 && sublog_count(&once, NULL) == 1, "no callback after unsubscribe");
    copilot_session_free(s);
    session_destroy(&log);
    pthread_mutex_destroy(&all.m);
    pthread_mutex_destroy(&idle.m);
    pthread_mutex_destroy(&once.m);
    free_and_stop(c);
}

static void test_plain_turn_events_and_session_calls(void) {
    CopilotClient *c = connect_shared();
    Session log;
    session_init(&log);
    char *id = fmt("c-plain-%d", (int)getpid());
    char *extra = fmt("\"sessionId\":\"%s\"", id);
    CopilotSession *s = create_session(c, extra, &log);
    free(extra);
    if (!s) goto out;
    char *sid = copilot_session_id(s);
    CHECK(strcmp(sid, id) == 0, "%s", sid);
    copilot_string_free(sid);
    char *info = copilot_session_info(s);
    CHECK(strstr(info, "\"workspacePath\":\"/"), "%s", info);
    copilot_string_free(info);
    /* The event callback was bound before session.create went out. */
    CHECK(wait_event(&log, "session.start", 0) == 0, "first event is %s", log.n ? log.types[0] : "(none)");

    int from = event_count(&log);
    char *json = NULL;
    CopilotStatus st = say(s, "Say hello", &json);
    CHECK(st == COPILOT_OK, "%d %s", st, json);
    CHECK(strstr(json, "\"type\":\"assistant.message\"") && strstr(json, "\"content\":\"Hello from the fake model.\""),
          "%s", json);
    free(json);
    /* The completion came after the turn's events (no waiting here). */
    /* The schema's event-type names are constants of copilot.h. */
    const char *seq[] = {COPILOT_EVENT_USER_MESSAGE, COPILOT_EVENT_ASSISTANT_TURN_START, COPILOT_EVENT_ASSISTANT_MESSAGE,
                         COPILOT_EVENT_ASSISTANT_TURN_END, COPILOT_EVENT_SESSION_IDLE};
    CHECK(has_sequence(&log, from, seq, 5), "events of the turn missing or out of order");
    CHECK(!has_type(&log, from, "assistant.message_delta"), "no deltas without streaming");

    from = event_count(&log);
    CHECK(say(s, "REPLY second answer", &json) == COPILOT_OK && strstr(json, "\"content\":\"second answer\""),
          "%s", json);
    free(json);
    CHECK(ask(s, "\"REPLY plain string options\"", &json) == COPILOT_OK &&
              strstr(json, "\"content\":\"plain string options\""),
          "%s", json);
    free(json);

    /* Plain send: returns the message id; the turn's idle arrives as an event. */
    Waiter w;
    from = event_count(&log);
    RUN(&w, copilot_session_send(s, "{\"prompt\":\"REPLY sent\"}", on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK && strstr(w.json, "\"messageId\":\""), "%s", w.json);
    waiter_destroy(&w);
    CHECK(wait_event(&log, "session.idle", from) >= 0, "idle after send");

    RUN(&w, copilot_session_get_messages(s, on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK && strstr(w.json, "\"content\":\"Say hello\"") && w.json[0] == '[', "%.200s", w.json);
    waiter_destroy(&w);

    from = event_count(&log);
    RUN(&w, copilot_session_set_model(s, "gpt-5", NULL, on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK, "%s", w.json);
    waiter_destroy(&w);
    CHECK(wait_event(&log, COPILOT_EVENT_SESSION_MODEL_CHANGE, from) >= 0, "model_change event");
    RUN(&w, copilot_session_rpc(s, COPILOT_METHOD_SESSION_MODEL_GET_CURRENT, NULL, on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK && strstr(w.json, "\"modelId\":\"gpt-5\""), "%s", w.json);
    waiter_destroy(&w);
    CHECK(copilot_session_rpc(s, "session.mode.get", "[1]", on_done, &w, NULL) == COPILOT_ERR_INVALID_ARGUMENT,
          "array params");
    CHECK(copilot_session_send(s, "{\"nope\":1}", on_done, &w, NULL) == COPILOT_ERR_INVALID_CONFIG, "no prompt");
    CHECK(copilot_session_send(s, "{\"prompt\":\"x\"", on_done, &w, NULL) == COPILOT_ERR_INVALID_ARGUMENT, "bad json");
    CHECK(copilot_session_send(s, NULL, on_done, &w, NULL) == COPILOT_ERR_NULL_POINTER, "NULL options");

    RUN(&w, copilot_session_disconnect(s, on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK, "%s", w.json);
    waiter_destroy(&w);
    RUN(&w, copilot_session_disconnect(s, on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK, "disconnect is idempotent: %s", w.json);
    waiter_destroy(&w);
    RUN(&w, copilot_session_abort(s, on_done, &w, NULL));
    CHECK(w.status == COPILOT_ERR_SESSION_NOT_FOUND, "calls after disconnect: %d %s", w.status, w.json);
    waiter_destroy(&w);
    copilot_session_free(s);
out:
    free(id);
    session_destroy(&log);
    free_and_stop(c);
}

static const char *WEATHER_TOOL =
    "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Get the weather for a city\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}%s}]";

static void test_tool_and_permission(void) {
    CopilotClient *c = connect_shared();
    Session log;
    session_init(&log);
    log.tool_reply = "\"Sunny, 21C\"";
    log.permission = "\"approve-once\"";
    char *tool = fmt(WEATHER_TOOL, "");
    char *extra = fmt("%s,\"handlers\":[\"permission\"]", tool);
    CopilotSession *s = create_session(c, extra, &log);
    free(extra);
    free(tool);
    if (s) {
        char *json = NULL;
        CopilotStatus st = say(s, "CALL get_weather {\"city\":\"Paris\"}", &json);
        CHECK(st == COPILOT_OK && strstr(json, "\"content\":\"Tool returned: Sunny, 21C\""), "%d %s", st, json);
        free(json);
        CHECK(log.n_requests == 2 && strcmp(log.requests[0], "permission") == 0 && strcmp(log.requests[1], "tool") == 0,
              "requests: %d %s", log.n_requests, log.n_requests ? log.requests[0] : "");
        CHECK(log.tool_payload_ok, "tool payload");
        const char *seq[] = {"tool.execution_start", "permission.requested", "external_tool.requested",
                             "tool.execution_complete", "session.idle"};
        CHECK(has_sequence(&log, 0, seq, 5), "tool events");
        copilot_session_free(s);
    }
    session_destroy(&log);
    free_and_stop(c);
}

/* Hooks are named as the host registered them ("on_pre_tool_use"), tools by their name, and the
 * other kinds have no name; the payload keeps the CLI's hookType. */
static void test_request_names(void) {
    CopilotClient *c = connect_shared();
    Session log;
    session_init(&log);
    log.tool_reply = "\"Sunny\"";
    log.permission = "\"approve-once\"";
    char *tool = fmt(WEATHER_TOOL, "");
    char *extra = fmt("%s,\"handlers\":[\"permission\"],\"hooks\":[\"on_pre_tool_use\"]", tool);
    CopilotSession *s = create_session(c, extra, &log);
    free(extra);
    free(tool);
    if (s) {
        char *json = NULL;
        CopilotStatus st = say(s, "CALL get_weather {\"city\":\"Paris\"}", &json);
        CHECK(st == COPILOT_OK && strstr(json, "Tool returned: Sunny"), "%d %s", st, json);
        free(json);
        pthread_mutex_lock(&log.m);
        char seen[1024] = "";
        for (int i = 0; i < log.n_requests; i++)
            snprintf(seen + strlen(seen), sizeof seen - strlen(seen), "%s%s:%s", i ? "," : "", log.requests[i],
                     log.names[i]);
        pthread_mutex_unlock(&log.m);
        CHECK(strcmp(seen, "hook:on_pre_tool_use,permission:-,tool:get_weather") == 0, "requests: %s", seen);
        CHECK(log.n_hooks == 1 && strcmp(log.hooks[0], "preToolUse") == 0, "payload hookType: %d %s", log.n_hooks,
              log.n_hooks ? log.hooks[0] : "");
        copilot_session_free(s);
    }
    session_destroy(&log);
    free_and_stop(c);
}

/* "toolHandlers": a session declares two tools and runs one. The CLI sends a tool call only to the
 * connection that declared the tool, so the other one's call reaches this client's events
 * (external_tool.requested) but not its request callback; another connection answers it with
 * session.tools.handlePendingToolCall. */
static const char *TWO_TOOLS =
    "\"tools\":[{\"name\":\"get_weather\",\"description\":\"weather\",\"skipPermission\":true,"
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}},"
    "{\"name\":\"get_time\",\"description\":\"time\",\"skipPermission\":true,"
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}]";

static void test_tool_subset(void) {
    CopilotClient *a = connect_shared(), *b = connect_shared();
    Session log;
    session_init(&log);
    log.tool_reply = "\"Sunny\"";
    char *extra = fmt("%s,\"toolHandlers\":[\"get_weather\"]", TWO_TOOLS);
    CopilotSession *s = create_session(a, extra, &log);
    free(extra);
    if (!s) goto out;
    char *id = copilot_session_id(s);
    int from = event_count(&log);
    Waiter w;
    waiter_init(&w);
    char *o = prompt("CALL get_time {\"city\":\"Oslo\"}");
    CHECK(copilot_session_send_and_wait(s, o, on_done, &w, NULL) == COPILOT_OK, "start");
    free(o);
    int at = wait_event(&log, "external_tool.requested", from);
    CHECK(at >= 0, "the declared-only tool was requested");
    if (at >= 0) {
        char request[128];
        copy_field(log.events[at], "requestId", request, sizeof request);
        char *params = fmt("{\"sessionId\":\"%s\",\"requestId\":\"%s\",\"result\":\"Noon by hand\"}", id, request);
        char *json = NULL;
        CHECK(client_rpc(b, "session.tools.handlePendingToolCall", params, &json) == COPILOT_OK &&
                  strstr(json, "\"success\":true"),
              "answered by another connection: %s", json);
        free(json);
        free(params);
    }
    CHECK(waiter_wait(&w) && w.status == COPILOT_OK && strstr(w.json, "Tool returned: Noon by hand"), "%d %s",
          w.status, w.json);
    waiter_destroy(&w);
    char *json = NULL;
    CopilotStatus st = say(s, "CALL get_weather {\"city\":\"Oslo\"}", &json);
    CHECK(st == COPILOT_OK && strstr(json, "Tool returned: Sunny"), "%d %s", st, json);
    free(json);
    pthread_mutex_lock(&log.m);
    CHECK(log.n_requests == 1 && strcmp(log.names[0], "get_weather") == 0, "requests: %d %s", log.n_requests,
          log.n_requests ? log.names[0] : "");
    pthread_mutex_unlock(&log.m);
    copilot_string_free(id);
    copilot_session_free(s);

    /* Config errors: an undeclared name, a wrong shape, tool handlers without a request callback. */
    CopilotSession *bad = (CopilotSession *)0x1;
    char *undeclared = fmt("{%s,\"toolHandlers\":[\"nope\"]}", TWO_TOOLS);
    CHECK(copilot_client_create_session(a, undeclared, NULL, on_request, NULL, on_done, &w, &bad, NULL) ==
              COPILOT_ERR_INVALID_CONFIG,
          "undeclared tool");
    free(undeclared);
    CHECK(bad == NULL, "no handle on failure");
    CHECK(copilot_client_create_session(a, "{\"toolHandlers\":\"get_time\"}", NULL, on_request, NULL, on_done, &w,
                                        &bad, NULL) == COPILOT_ERR_INVALID_CONFIG,
          "not an array");
    char *no_cb = fmt("{%s,\"toolHandlers\":[\"get_time\"]}", TWO_TOOLS);
    CHECK(copilot_client_create_session(a, no_cb, NULL, NULL, NULL, on_done, &w, &bad, NULL) ==
              COPILOT_ERR_INVALID_ARGUMENT,
          "toolHandlers without a request callback");
    free(no_cb);
out:
    session_destroy(&log);
    free_and_stop(a);
    free_and_stop(b);
}

static void test_tool_fails_later_from_another_thread(void) {
    CopilotClient *c = connect_shared();
    Session log;
    session_init(&log);
    log.tool_fail = "weather service down";
    log.tool_async = 1;
    char *tool = fmt(WEATHER_TOOL, ",\"skipPermission\":true");
    CopilotSession *s = create_session(c, tool, &log);
    free(tool);
    if (s) {
        char *json = NULL;
        CopilotStatus st = say(s, "CALL get_weather {\"city\":\"Oslo\"}", &json);
        CHECK(st == COPILOT_OK && strstr(json, "Tool returned:") && strstr(json, "weather service down"), "%d %s", st,
              json);
        free(json);
        CHECK(!has_type(&log, 0, "permission.requested"), "skipPermission");
        if (g_late_started) {
            void *again;
            pthread_join(g_late_thread, &again);
            g_late_started = 0;
            CHECK((CopilotStatus)(intptr_t)again == COPILOT_ERR_UNKNOWN_ID, "second answer: %d",
                  (int)(intptr_t)again);
        } else {
            CHECK(0, "the tool request never came");
        }
        copilot_session_free(s);
    }
    session_destroy(&log);
    free_and_stop(c);
}

static void test_permission_reject_user_input_and_hooks(void) {
    CopilotClient *c = connect_shared();
    Session log;
    session_init(&log);
    log.permission = "{\"kind\":\"reject\",\"feedback\":\"not on my machine\"}";
    log.user_input = "{\"answer\":\"blue\",\"wasFreeform\":false}";
    CopilotSession *s = create_session(c, "\"handlers\":[\"permission\",\"userInput\",\"hook\"]", &log);
    if (s) {
        char *json = NULL;
        CopilotStatus st = say(s, "CALL bash {\"command\":\"echo never\",\"description\":\"echo\",\"mode\":\"sync\"}", &json);
        CHECK(st == COPILOT_OK && strstr(json, "not on my machine"), "%d %s", st, json);
        free(json);
        const char *seq[] = {"permission.requested", "permission.completed", "tool.execution_complete"};
        CHECK(has_sequence(&log, 0, seq, 3), "permission events");
        int hooks_pre = 0;
        for (int i = 0; i < log.n_hooks; i++) hooks_pre += strcmp(log.hooks[i], "preToolUse") == 0;
        CHECK(log.n_hooks >= 2 && hooks_pre == 1, "hooks seen: %d", log.n_hooks);
        /* The tool was denied: no postToolUse for it. */
        const char *want[] = {"sessionStart", "userPromptSubmitted", "preToolUse", "agentStop"};
        int j = 0;
        for (int i = 0; i < log.n_hooks && j < 4; i++) j += strcmp(log.hooks[i], want[j]) == 0;
        CHECK(j == 4, "hook order: matched %d of 4 (last seen %s)", j, log.n_hooks ? log.hooks[log.n_hooks - 1] : "");

        st = say(s, "CALL ask_user {\"question\":\"Favourite colour?\",\"choices\":[\"red\",\"blue\"]}", &json);
        CHECK(st == COPILOT_OK && strstr(json, "blue"), "%d %s", st, json);
        free(json);
        CHECK(log.n_questions == 1 && strcmp(log.questions[0], "Favourite colour?") == 0, "questions %d",
              log.n_questions);
        copilot_session_free(s);
    }
    session_destroy(&log);

    /* Config errors found before anything starts. */
    CopilotSession *bad = (CopilotSession *)0x1;
    Waiter w;
    CHECK(copilot_client_create_session(c, "{\"handlers\":[\"telepathy\"]}", NULL, on_request, NULL, on_done, &w, &bad,
                                        NULL) == COPILOT_ERR_INVALID_CONFIG,
          "unknown handler kind");
    CHECK(bad == NULL, "no handle on failure");
    CHECK(copilot_client_create_session(c, "{\"handlers\":[\"permission\"]}", NULL, NULL, NULL, on_done, &w, &bad,
                                        NULL) == COPILOT_ERR_INVALID_ARGUMENT,
          "handlers without a request callback");
    CHECK(copilot_client_create_session(c, "{\"model\":5}", NULL, NULL, NULL, on_done, &w, &bad, NULL) ==
              COPILOT_ERR_INVALID_CONFIG,
          "wrong type");
    char *m = last_error_message();
    CHECK(strstr(m, "`model` must be a string"), "%s", m);
    free(m);
    free_and_stop(c);
}

static void test_model_error_then_recovery(void) {
    CopilotClient *c = connect_shared();
    Session log;
    session_init(&log);
    CopilotSession *s = create_session(c, "", &log);
    if (s) {
        char *json = NULL;
        CopilotStatus st = say(s, "ERROR 400", &json);
        CHECK(st == COPILOT_ERR_SESSION_ERROR && strstr(json, "\"code\":\"session_error\""), "%d %s", st, json);
        free(json);
        st = say(s, "Say hello", &json);
        CHECK(st == COPILOT_OK && strstr(json, "Hello from the fake model."), "%d %s", st, json);
        free(json);
        copilot_session_free(s);
    }
    session_destroy(&log);
    free_and_stop(c);
}

static void test_cancel_abort_and_timeout(void) {
    CopilotClient *c = connect_shared();
    Session log;
    session_init(&log);
    CopilotSession *s = create_session(c, "\"streaming\":true", &log);
    if (!s) goto out;
    /* Cancel a send-and-wait: the callback runs once, with CANCELLED. */
    Waiter w;
    waiter_init(&w);
    uint64_t call = 0;
    int from = event_count(&log);
    CHECK(copilot_session_send_and_wait(s, "{\"prompt\":\"HANG\",\"timeout\":600}", on_done, &w, &call) == COPILOT_OK,
          "start");
    CHECK(call != 0, "call id");
    CHECK(wait_event(&log, "assistant.turn_start", from) >= 0, "turn started");
    CHECK(copilot_cancel(call) == COPILOT_OK, "cancel");
    CHECK(waiter_wait(&w), "cancelled callback");
    CHECK(w.status == COPILOT_ERR_CANCELLED && strstr(w.json, "\"code\":\"cancelled\""), "%d %s", w.status, w.json);
    CHECK(copilot_cancel(call) == COPILOT_ERR_UNKNOWN_ID, "second cancel");
    /* The turn is still running: abort it. */
    Waiter a;
    RUN(&a, copilot_session_abort(s, on_done, &a, NULL));
    CHECK(a.status == COPILOT_OK, "%s", a.json);
    waiter_destroy(&a);
    int idle = wait_event(&log, "session.idle", from);
    CHECK(idle >= 0 && strstr(log.events[idle], "\"aborted\":true"), "aborted idle");
    CHECK(w.calls == 1, "exactly once: %d", w.calls);
    waiter_destroy(&w);

    /* abort_mid_stream: abort while deltas stream, then the session still works. */
    from = event_count(&log);
    RUN(&w, copilot_session_send(s, "\"SLOW 40 250\"", on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK, "%s", w.json);
    waiter_destroy(&w);
    CHECK(wait_event(&log, "assistant.message_delta", from) >= 0, "a delta");
    RUN(&a, copilot_session_abort(s, on_done, &a, NULL));
    CHECK(a.status == COPILOT_OK, "%s", a.json);
    waiter_destroy(&a);
    idle = wait_event(&log, "session.idle", from);
    CHECK(idle >= 0 && strstr(log.events[idle], "\"aborted\":true"), "aborted idle after deltas");
    char *json = NULL;
    CopilotStatus st = say(s, "REPLY after abort", &json);
    CHECK(st == COPILOT_OK && strstr(json, "\"content\":\"after abort\""), "%d %s", st, json);
    free(json);

    /* Timeout with abort-on-timeout. */
    from = event_count(&log);
    st = ask(s, "{\"prompt\":\"HANG\",\"timeout\":1.5,\"abortOnTimeout\":true}", &json);
    CHECK(st == COPILOT_ERR_TIMEOUT && strstr(json, "1500ms"), "%d %s", st, json);
    free(json);
    idle = wait_event(&log, "session.idle", from);
    CHECK(idle >= 0 && strstr(log.events[idle], "\"aborted\":true"), "abort on timeout");

    /* The inactivity timeout: a silent turn fails after idleTimeout, long before its timeout. */
    from = event_count(&log);
    double t0 = now_seconds();
    st = ask(s, "{\"prompt\":\"HANG\",\"timeout\":60,\"idleTimeout\":1,\"abortOnTimeout\":true}", &json);
    CHECK(st == COPILOT_ERR_TIMEOUT && strstr(json, "idle timeout"), "%d %s", st, json);
    CHECK(now_seconds() - t0 < 20, "idle timeout took %.1f s", now_seconds() - t0);
    free(json);
    idle = wait_event(&log, "session.idle", from);
    CHECK(idle >= 0 && strstr(log.events[idle], "\"aborted\":true"), "abort on idle timeout");
    copilot_session_free(s);
out:
    session_destroy(&log);
    free_and_stop(c);
}

/* A request callback that leaves tool requests pending and records their cancellation. */
typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int tools;
    uint64_t tool_id;
    int cancels;
    uint64_t cancel_id;
    char reason[256];
    double cancelled_at;
    CopilotStatus name_after, reply_after, fail_after;
    int other;
} Held;

static void held_init(Held *h) {
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->m, NULL);
    pthread_cond_init(&h->c, NULL);
}

static void held_destroy(Held *h) {
    pthread_mutex_destroy(&h->m);
    pthread_cond_destroy(&h->c);
}

static void on_held_request(void *ud, uint64_t id, const char *kind, const char *payload) {
    Held *h = ud;
    if (strcmp(kind, "cancel") == 0) {
        /* The request is no longer pending: these are refused, harmlessly. */
        char *name = NULL;
        CopilotStatus named = copilot_request_name(id, &name);
        CopilotStatus replied = copilot_request_reply(id, "\"too late\"");
        CopilotStatus failed = copilot_request_fail(id, "too late");
        pthread_mutex_lock(&h->m);
        h->cancels++;
        h->cancel_id = id;
        h->cancelled_at = now_seconds();
        copy_field(payload, "reason", h->reason, sizeof h->reason);
        h->name_after = named;
        h->reply_after = replied;
        h->fail_after = failed;
        pthread_cond_broadcast(&h->c);
        pthread_mutex_unlock(&h->m);
        return;
    }
    if (strcmp(kind, "tool") == 0) { /* left pending: a handler that runs "forever" */
        pthread_mutex_lock(&h->m);
        h->tools++;
        h->tool_id = id;
        pthread_cond_broadcast(&h->c);
        pthread_mutex_unlock(&h->m);
        return;
    }
    pthread_mutex_lock(&h->m);
    h->other++;
    pthread_mutex_unlock(&h->m);
    copilot_request_fail(id, "unexpected request kind");
}

/* Waits until *counter reaches n (up to `seconds`); 1 when it did. */
static int held_wait(Held *h, const int *counter, int n, int seconds) {
    struct timespec ts;
    deadline_in(&ts, seconds);
    pthread_mutex_lock(&h->m);
    while (*counter < n && pthread_cond_timedwait(&h->c, &h->m, &ts) != ETIMEDOUT) {
    }
    int ok = *counter >= n;
    pthread_mutex_unlock(&h->m);
    return ok;
}

static const char *WAIT_TOOL = "\"tools\":[{\"name\":\"wait_forever\",\"description\":\"Waits\","
                               "\"parameters\":{\"type\":\"object\",\"properties\":{}}}]";

/* A pending tool request gets the "cancel" call (same id, a reason) within 2 s of
 * copilot_session_abort, of a send_and_wait timeout with abortOnTimeout and of a disconnect;
 * afterwards the id is unknown. The session's own tool runs without a permission handler. */
static void test_cancellation_reaches_the_request_callback(void) {
    CopilotClient *c = connect_shared();
    Held h;
    held_init(&h);
    char *cfg = session_config(WAIT_TOOL);
    CopilotSession *s = NULL;
    Waiter w;
    RUN(&w, copilot_client_create_session(c, cfg, NULL, on_held_request, &h, on_done, &w, &s, NULL));
    free(cfg);
    int created = w.status == COPILOT_OK;
    CHECK(created, "create: %s", w.json);
    waiter_destroy(&w);
    if (created) {
        /* 1. abort */
        RUN(&w, copilot_session_send(s, "\"CALL wait_forever {}\"", on_done, &w, NULL));
        CHECK(w.status == COPILOT_OK, "%s", w.json);
        waiter_destroy(&w);
        if (!held_wait(&h, &h.tools, 1, 60)) {
            CHECK(0, "the tool request did not arrive");
            goto done;
        }
        double t0 = now_seconds();
        Waiter a;
        RUN(&a, copilot_session_abort(s, on_done, &a, NULL));
        CHECK(a.status == COPILOT_OK, "%s", a.json);
        waiter_destroy(&a);
        CHECK(held_wait(&h, &h.cancels, 1, 2), "no cancel call within 2 s of the abort");
        pthread_mutex_lock(&h.m);
        printf("     abort reached the request callback in %.0f ms\n", (h.cancelled_at - t0) * 1000);
        CHECK(h.cancel_id == h.tool_id && h.cancel_id != 0, "cancel id %llu, tool id %llu",
              (unsigned long long)h.cancel_id, (unsigned long long)h.tool_id);
        CHECK(strstr(h.reason, "abort"), "reason: %s", h.reason);
        CHECK(h.name_after == COPILOT_ERR_UNKNOWN_ID && h.reply_after == COPILOT_ERR_UNKNOWN_ID &&
                  h.fail_after == COPILOT_ERR_UNKNOWN_ID,
              "after cancel: %d %d %d", h.name_after, h.reply_after, h.fail_after);
        pthread_mutex_unlock(&h.m);
        CHECK(copilot_request_reply(h.tool_id, "\"late\"") == COPILOT_ERR_UNKNOWN_ID, "late reply");

        /* 2. a send_and_wait timeout with abortOnTimeout */
        char *json = NULL;
        CopilotStatus st = ask(s, "{\"prompt\":\"CALL wait_forever {}\",\"timeout\":3,\"abortOnTimeout\":true}", &json);
        CHECK(st == COPILOT_ERR_TIMEOUT, "%d %s", st, json);
        free(json);
        CHECK(held_wait(&h, &h.tools, 2, 1), "second tool request");
        CHECK(held_wait(&h, &h.cancels, 2, 2), "no cancel call after the timeout");
        pthread_mutex_lock(&h.m);
        CHECK(h.cancel_id == h.tool_id && strstr(h.reason, "abort"), "timeout cancel: %s", h.reason);
        pthread_mutex_unlock(&h.m);

        /* 3. a disconnect with the request pending */
        RUN(&w, copilot_session_send(s, "\"CALL wait_forever {}\"", on_done, &w, NULL));
        waiter_destroy(&w);
        CHECK(held_wait(&h, &h.tools, 3, 60), "third tool request");
        RUN(&w, copilot_session_disconnect(s, on_done, &w, NULL));
        CHECK(w.status == COPILOT_OK, "disconnect: %s", w.json);
        waiter_destroy(&w);
        CHECK(held_wait(&h, &h.cancels, 3, 2), "no cancel call after the disconnect");
        pthread_mutex_lock(&h.m);
        CHECK(h.cancel_id == h.tool_id && h.reason[0], "disconnect cancel: %s", h.reason);
        pthread_mutex_unlock(&h.m);
    }
done:
    copilot_session_free(s);
    pthread_mutex_lock(&h.m);
    CHECK(h.cancels == h.tools && h.other == 0, "%d cancels for %d tools, %d other", h.cancels, h.tools, h.other);
    pthread_mutex_unlock(&h.m);
    held_destroy(&h);
    free_and_stop(c);
}

/* A client of a hostile peer (tests/chaos peer): errors are typed and bounded, never a hang. */
static CopilotClient *peer_client(const Chaos *peer, const char *more) {
    char *o = fmt("{\"cliUrl\":\"127.0.0.1:%d\",\"requestTimeout\":1,\"startTimeout\":5%s}", peer->port, more);
    CopilotClient *c = NULL;
    CopilotStatus st = copilot_client_new(o, NULL, NULL, &c);
    free(o);
    if (st != COPILOT_OK) return NULL;
    char *json = NULL;
    st = simple_call(copilot_client_start, c, &json);
    if (st != COPILOT_OK) fprintf(stderr, "[%s] start against the peer: %d %s\n", g_test, st, json);
    free(json);
    if (st != COPILOT_OK) {
        copilot_client_free(c);
        return NULL;
    }
    return c;
}

/* One call against a peer: its status, its error JSON in *json, its duration in *took. */
static CopilotStatus timed_rpc(CopilotClient *c, double timeout, char **json, double *took) {
    Waiter w;
    double t0 = now_seconds();
    CopilotStatus st = timeout < 0 ? RUN(&w, copilot_client_rpc(c, "session.list", NULL, on_done, &w, NULL))
                                   : RUN(&w, copilot_client_rpc_with_timeout(c, "session.list", NULL, timeout, on_done,
                                                                             &w, NULL));
    *took = now_seconds() - t0;
    if (st != COPILOT_OK) {
        *json = last_error_message();
        return st;
    }
    *json = xstrdup(w.json);
    st = w.status;
    waiter_destroy(&w);
    return st;
}

static void test_hostile_peers(void) {
    struct {
        const char *mode;
        CopilotStatus want;
        double min, max;
    } cases[] = {
        /* nothing answers: the request timeout (1 s) ends the call */
        {"silent", COPILOT_ERR_TIMEOUT, 0.9, 3.0},
        /* a reply with an id nobody asked for is ignored (and counted): a timeout too */
        {"unknown-id", COPILOT_ERR_TIMEOUT, 0.9, 3.0},
        /* a header without a colon: the framing error, at once */
        {"bad-header", COPILOT_ERR_FRAME_HEADER, 0, 2.0},
        /* a well-framed body that is not JSON */
        {"garbage-json", COPILOT_ERR_INVALID_JSON, 0, 2.0},
        /* a frame larger than maxMessageSize */
        {"huge", COPILOT_ERR_MESSAGE_TOO_LARGE, 0, 2.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Chaos peer;
        const char *args[] = {"peer", "--mode", cases[i].mode, NULL};
        if (!chaos_start(&peer, args)) {
            CHECK(0, "copilot-chaos peer --mode %s did not start", cases[i].mode);
            chaos_stop(&peer);
            return;
        }
        /* No reconnection: the first failure is the one under test. */
        CopilotClient *c = peer_client(&peer, ",\"reconnect\":false,\"heartbeatInterval\":0");
        CHECK(c != NULL, "%s: no client", cases[i].mode);
        if (c) {
            char *json = NULL;
            double took = 0;
            CopilotStatus st = timed_rpc(c, -1, &json, &took);
            printf("     peer %s: %s after %.0f ms\n", cases[i].mode, copilot_error_name(st), took * 1000);
            CHECK(st == cases[i].want, "%s: %d %s", cases[i].mode, st, json);
            CHECK(took >= cases[i].min && took <= cases[i].max, "%s: took %.3f s", cases[i].mode, took);
            free(json);
            copilot_client_free(c);
        }
        chaos_stop(&peer);
    }

    /* The per-call deadline overrides requestTimeout both ways, on the generic rpc calls. */
    Chaos peer;
    const char *args[] = {"peer", "--mode", "silent", "--answer-pings", NULL};
    if (!chaos_start(&peer, args)) {
        CHECK(0, "copilot-chaos peer did not start");
        chaos_stop(&peer);
        return;
    }
    CopilotClient *c = peer_client(&peer, "");
    if (c) {
        char *json = NULL;
        double took = 0;
        CopilotStatus st = timed_rpc(c, 0.3, &json, &took);
        CHECK(st == COPILOT_ERR_TIMEOUT && took < 0.9, "0.3 s deadline: %d after %.3f s %s", st, took, json);
        free(json);
        st = timed_rpc(c, 2.5, &json, &took);
        CHECK(st == COPILOT_ERR_TIMEOUT && took >= 2.4 && took < 5, "2.5 s deadline: %d after %.3f s", st, took);
        free(json);
        /* The heartbeat's pings are answered (--answer-pings): the connection lives on. */
        st = ping(c, "still there", &json);
        CHECK(st == COPILOT_OK, "ping: %d %s", st, json);
        free(json);
        copilot_client_free(c);
    } else {
        CHECK(0, "no client");
    }
    chaos_stop(&peer);
}

typedef struct {
    pthread_mutex_t m;
    char seen[16][160];
    int n;
} Lifecycle;

static void on_lifecycle(void *ud, const char *json) {
    Lifecycle *l = ud;
    pthread_mutex_lock(&l->m);
    if (l->n < 16 && strstr(json, "\"type\":\"session.deleted\"")) {
        copy_field(json, "sessionId", l->seen[l->n++], 160);
    }
    pthread_mutex_unlock(&l->m);
}

static void test_resume_list_and_delete(void) {
    Lifecycle lc;
    memset(&lc, 0, sizeof lc);
    pthread_mutex_init(&lc.m, NULL);
    CopilotClient *a = connect_shared();
    /* B connects the official SDKs' way: a RuntimeConnection of kind uri. */
    char *o = fmt("{\"connection\":{\"kind\":\"uri\",\"url\":\"127.0.0.1:%d\",\"connectionToken\":\"%s\"}}", g_port,
                  TOKEN);
    CopilotClient *b = NULL;
    CHECK(copilot_client_new(o, on_lifecycle, &lc, &b) == COPILOT_OK, "new b");
    free(o);
    char *json = NULL;
    CHECK(simple_call(copilot_client_start, b, &json) == COPILOT_OK, "%s", json);
    free(json);

    Session la, lb;
    session_init(&la);
    session_init(&lb);
    char *id = fmt("c-list-delete-%d", (int)getpid());
    char *extra = fmt("\"sessionId\":\"%s\"", id);
    CopilotSession *sa = create_session(a, extra, &la), *sb = NULL;
    free(extra);
    if (!sa) goto out;
    CHECK(say(sa, "REPLY first from A", &json) == COPILOT_OK, "%s", json);
    free(json);

    /* resume_from_second_client: B joins the live session without any config. */
    Waiter w;
    RUN(&w, copilot_client_resume_session(b, id, NULL, on_event, on_request, &lb, on_done, &w, &sb, NULL));
    CHECK(w.status == COPILOT_OK && strstr(w.json, id), "%d %s", w.status, w.json);
    waiter_destroy(&w);
    RUN(&w, copilot_session_get_messages(sb, on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK && strstr(w.json, "REPLY first from A"), "history");
    waiter_destroy(&w);
    int from_a = event_count(&la);
    CHECK(say(sb, "REPLY second from B", &json) == COPILOT_OK && strstr(json, "\"content\":\"second from B\""), "%s",
          json);
    free(json);
    int seen = wait_event(&la, "assistant.message", from_a);
    CHECK(seen >= 0 && strstr(la.events[seen], "second from B"), "A sees B's turn");
    RUN(&w, copilot_session_disconnect(sa, on_done, &w, NULL));
    waiter_destroy(&w);
    CHECK(say(sb, "REPLY still here", &json) == COPILOT_OK && strstr(json, "still here"), "%s", json);
    free(json);
    RUN(&w, copilot_session_disconnect(sb, on_done, &w, NULL));
    waiter_destroy(&w);

    /* list_and_delete */
    RUN(&w, copilot_client_list_sessions(a, NULL, on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK && w.json[0] == '[', "%.100s", w.json);
    char *needle = fmt("\"sessionId\":\"%s\"", id);
    const char *me = strstr(w.json, needle);
    CHECK(me && strstr(me, "\"createdAt\":\"") && strstr(me, "\"startTime\":\"") && strstr(me, "\"modifiedTime\":\""),
          "listed");
    waiter_destroy(&w);
    RUN(&w, copilot_client_get_session_metadata(a, id, on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK && strstr(w.json, needle) && strstr(w.json, "\"createdAt\":\"") && w.json[0] == '{',
          "metadata: %s", w.json);
    waiter_destroy(&w);
    RUN(&w, copilot_client_get_session_metadata(a, "no-such-session", on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK && strcmp(w.json, "null") == 0, "no metadata: %s", w.json);
    waiter_destroy(&w);
    RUN(&w, copilot_client_list_sessions(a, "{\"cwd\":\"/nonexistent\"}", on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK && strcmp(w.json, "[]") == 0, "%s", w.json);
    waiter_destroy(&w);
    CHECK(copilot_client_list_sessions(a, "{\"colour\":\"x\"}", on_done, &w, NULL) == COPILOT_ERR_INVALID_CONFIG,
          "filter");
    CHECK(simple_call(copilot_client_get_last_session_id, a, &json) == COPILOT_OK && json[0] == '"', "%s", json);
    free(json);
    RUN(&w, copilot_client_delete_session(a, id, on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK, "%s", w.json);
    waiter_destroy(&w);
    RUN(&w, copilot_client_list_sessions(a, NULL, on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK && !strstr(w.json, needle), "still listed");
    waiter_destroy(&w);
    free(needle);
    RUN(&w, copilot_client_delete_session(a, id, on_done, &w, NULL));
    CHECK(w.status == COPILOT_ERR_SESSION_NOT_FOUND, "%d %s", w.status, w.json);
    waiter_destroy(&w);
    /* Resuming a deleted session fails; the handle stays valid but closed. */
    CopilotSession *gone = NULL;
    RUN(&w, copilot_client_resume_session(a, id, NULL, NULL, NULL, NULL, on_done, &w, &gone, NULL));
    CHECK(w.status == COPILOT_ERR_SESSION_NOT_FOUND, "%d %s", w.status, w.json);
    waiter_destroy(&w);
    CHECK(gone != NULL, "handle written");
    CHECK(copilot_session_send(gone, "\"x\"", on_done, &w, NULL) == COPILOT_ERR_SESSION_NOT_FOUND, "closed handle");
    copilot_session_free(gone);
    /* The lifecycle callback saw the deletion (wait: the notification may trail the reply). */
    for (int i = 0; i < HANG_SECONDS * 20; i++) {
        pthread_mutex_lock(&lc.m);
        int n = lc.n;
        pthread_mutex_unlock(&lc.m);
        if (n) break;
        usleep(50 * 1000);
    }
    pthread_mutex_lock(&lc.m);
    CHECK(lc.n >= 1 && strcmp(lc.seen[0], id) == 0, "lifecycle: %d", lc.n);
    pthread_mutex_unlock(&lc.m);
    copilot_session_free(sb);
    copilot_session_free(sa);
out:
    free(id);
    session_destroy(&la);
    session_destroy(&lb);
    free_and_stop(a);
    free_and_stop(b);
    pthread_mutex_destroy(&lc.m);
}

/* What one lifecycle subscription saw: "type:sessionId" entries. */
typedef struct {
    pthread_mutex_t m;
    char seen[64][200];
    int n;
    CopilotClient *client; /* set: unsubscribe from inside the first callback */
    uint64_t id;
    CopilotStatus unsubscribed;
} LifeLog;

static void lifelog_init(LifeLog *l) {
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->m, NULL);
    l->unsubscribed = -1;
}

static void on_life(void *ud, const char *json) {
    LifeLog *l = ud;
    char type[48], sid[140];
    copy_field(json, "type", type, sizeof type);
    copy_field(json, "sessionId", sid, sizeof sid);
    pthread_mutex_lock(&l->m);
    if (l->n < 64) snprintf(l->seen[l->n++], 200, "%s:%s", type, sid);
    pthread_mutex_unlock(&l->m);
    if (l->client && l->unsubscribed < 0) l->unsubscribed = copilot_client_unsubscribe_lifecycle(l->client, l->id);
}

/* The types seen for this session, joined with ","; a repeat in a row is folded (the CLI sends
 * session.created and session.deleted twice). */
static void lifelog_of(LifeLog *l, const char *sid, char *out, size_t cap) {
    out[0] = 0;
    const char *last = "";
    int last_len = 0;
    pthread_mutex_lock(&l->m);
    for (int i = 0; i < l->n; i++) {
        const char *colon = strchr(l->seen[i], ':');
        int len = colon ? (int)(colon - l->seen[i]) : 0;
        if (!colon || strcmp(colon + 1, sid) != 0 || (len == last_len && strncmp(last, l->seen[i], len) == 0)) continue;
        snprintf(out + strlen(out), cap - strlen(out), "%s%.*s", out[0] ? "," : "", len, l->seen[i]);
        last = l->seen[i];
        last_len = len;
    }
    pthread_mutex_unlock(&l->m);
}

/* Lifecycle subscriptions with core type filters, made before the client starts (the session
 * create starts it implicitly): a "session.deleted" subscription sees exactly the deletion. */
static void test_lifecycle_subscriptions(void) {
    char *o = fmt("{\"cliUrl\":\"127.0.0.1:%d\",\"connectionToken\":\"%s\"}", g_port, TOKEN);
    CopilotClient *c = NULL;
    CHECK(copilot_client_new(o, NULL, NULL, &c) == COPILOT_OK, "new");
    free(o);
    LifeLog deleted, both, all, none, once, gone;
    lifelog_init(&deleted);
    lifelog_init(&both);
    lifelog_init(&all);
    lifelog_init(&none);
    lifelog_init(&once);
    lifelog_init(&gone);
    uint64_t d = 0, b = 0, a = 0, n = 0, g = 0, x = 7;
    CHECK(copilot_client_subscribe_lifecycle(c, "[\"session.deleted\"]", on_life, &deleted, &d) == COPILOT_OK && d,
          "deleted");
    CHECK(copilot_client_subscribe_lifecycle(c, "[\"session.created\",\"session.deleted\"]", on_life, &both, &b) ==
              COPILOT_OK && b != d,
          "both");
    CHECK(copilot_client_subscribe_lifecycle(c, NULL, on_life, &all, &a) == COPILOT_OK, "all");
    CHECK(copilot_client_subscribe_lifecycle(c, "[]", on_life, &none, &n) == COPILOT_OK, "none");
    once.client = c;
    CHECK(copilot_client_subscribe_lifecycle(c, "null", on_life, &once, &once.id) == COPILOT_OK, "once");
    CHECK(copilot_client_subscribe_lifecycle(c, NULL, on_life, &gone, &g) == COPILOT_OK, "gone");
    CHECK(copilot_client_subscribe_lifecycle(c, "[1]", on_life, &all, &x) == COPILOT_ERR_INVALID_ARGUMENT && x == 0,
          "types must be strings");
    CHECK(copilot_client_subscribe_lifecycle(c, "\"session.deleted\"", on_life, &all, &x) ==
              COPILOT_ERR_INVALID_ARGUMENT,
          "not an array");
    CHECK(copilot_client_subscribe_lifecycle(c, NULL, NULL, &all, &x) == COPILOT_ERR_NULL_POINTER, "NULL callback");
    CHECK(copilot_client_subscribe_lifecycle(c, NULL, on_life, &all, NULL) == COPILOT_ERR_NULL_POINTER, "NULL out");
    CHECK(copilot_client_unsubscribe_lifecycle(c, g) == COPILOT_OK, "unsubscribe");
    CHECK(copilot_client_unsubscribe_lifecycle(c, g) == COPILOT_ERR_UNKNOWN_ID, "twice");
    CHECK(copilot_client_unsubscribe_lifecycle(c, 0) == COPILOT_ERR_UNKNOWN_ID, "0 is no subscription");
    char *info = copilot_client_info(c);
    CHECK(strstr(info, "\"running\":false"), "not started yet: %s", info);
    copilot_string_free(info);

    Session log;
    session_init(&log);
    char *id = fmt("c-lifecycle-%d", (int)getpid());
    char *extra = fmt("\"sessionId\":\"%s\"", id);
    CopilotSession *s = create_session(c, extra, &log);
    free(extra);
    if (!s) goto out;
    char *json = NULL;
    CHECK(say(s, "REPLY hi", &json) == COPILOT_OK, "%s", json);
    free(json);
    Waiter w;
    RUN(&w, copilot_session_disconnect(s, on_done, &w, NULL));
    waiter_destroy(&w);
    RUN(&w, copilot_client_delete_session(c, id, on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK, "delete: %s", w.json);
    waiter_destroy(&w);
    /* Wait for the deletion in every subscription that wants it (it may trail the reply). */
    char got[1024];
    LifeLog *waiting[] = {&deleted, &both, &all};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < HANG_SECONDS * 20; i++) {
            lifelog_of(waiting[k], id, got, sizeof got);
            if (strstr(got, "session.deleted")) break;
            usleep(50 * 1000);
        }
    lifelog_of(&deleted, id, got, sizeof got);
    CHECK(strcmp(got, "session.deleted") == 0, "deleted only: %s", got);
    pthread_mutex_lock(&deleted.m);
    for (int i = 0; i < deleted.n; i++) CHECK(strncmp(deleted.seen[i], "session.deleted:", 16) == 0, "%s", deleted.seen[i]);
    pthread_mutex_unlock(&deleted.m);
    lifelog_of(&both, id, got, sizeof got);
    CHECK(strcmp(got, "session.created,session.deleted") == 0, "created and deleted, in order: %s", got);
    lifelog_of(&all, id, got, sizeof got);
    const char *end = strstr(got, ",session.deleted");
    CHECK(strncmp(got, "session.created,", 16) == 0 && strstr(got, "session.updated") && end &&
              strcmp(end, ",session.deleted") == 0,
          "every type, created first, deleted last: %s", got);
    CHECK(none.n == 0, "an empty type list matches nothing: %d", none.n);
    CHECK(once.n == 1 && once.unsubscribed == COPILOT_OK, "unsubscribed inside its callback: %d %d", once.n,
          once.unsubscribed);
    CHECK(gone.n == 0, "no callback after unsubscribe: %d", gone.n);
    CHECK(copilot_client_unsubscribe_lifecycle(c, d) == COPILOT_OK, "unsubscribe deleted");
    copilot_session_free(s);
out:
    free(id);
    session_destroy(&log);
    free_and_stop(c);
    LifeLog *logs[] = {&deleted, &both, &all, &none, &once, &gone};
    for (int k = 0; k < 6; k++) pthread_mutex_destroy(&logs[k]->m);
}

/* Called inside a completion callback (on the dispatcher thread). */
static CopilotSession *g_free_me;
static CopilotStatus g_shutdown_in_callback = -1;
static int g_freed_inside;
static void free_session_inside(void *arg, CopilotStatus st) {
    (void)arg;
    (void)st;
    g_shutdown_in_callback = copilot_shutdown();
    copilot_session_free(g_free_me);
    g_freed_inside = 1;
}

static void test_free_semantics(void) {
    /* 1. Freeing a client completes its in-flight calls (CANCELLED) before returning. */
    CopilotClient *c = connect_shared();
    Session log;
    session_init(&log);
    CopilotSession *s = create_session(c, "", &log);
    if (!s) {
        session_destroy(&log);
        free_and_stop(c);
        return;
    }
    Waiter w;
    waiter_init(&w);
    int from = event_count(&log);
    CHECK(copilot_session_send_and_wait(s, "{\"prompt\":\"HANG\",\"timeout\":600}", on_done, &w, NULL) == COPILOT_OK,
          "start");
    CHECK(wait_event(&log, "assistant.turn_start", from) >= 0, "turn started");
    copilot_client_free(c);
    pthread_mutex_lock(&w.m);
    CHECK(w.calls == 1 && w.status == COPILOT_ERR_CANCELLED, "completed before free returned: %d %d", w.calls, w.status);
    pthread_mutex_unlock(&w.m);
    int n_after = event_count(&log);
    /* The session handle is inert now. */
    Waiter x;
    CHECK(copilot_session_abort(s, on_done, &x, NULL) == COPILOT_ERR_NOT_CONNECTED, "inert session");
    usleep(300 * 1000);
    CHECK(event_count(&log) == n_after, "no event after free");
    CHECK(w.calls == 1, "exactly once");
    waiter_destroy(&w);
    copilot_session_free(s);
    session_destroy(&log);

    /* 2. Freeing a session answers its pending handler requests as failed. */
    c = connect_shared();
    session_init(&log);
    log.permission = NULL; /* never answered by the handler */
    s = create_session(c, "\"handlers\":[\"permission\"]", &log);
    if (s) {
        waiter_init(&w);
        from = event_count(&log);
        CHECK(copilot_session_send_and_wait(
                  s, "{\"prompt\":\"CALL bash {\\\"command\\\":\\\"echo x\\\",\\\"description\\\":\\\"e\\\",\\\"mode\\\":\\\"sync\\\"}\",\"timeout\":600}",
                  on_done, &w, NULL) == COPILOT_OK,
              "start");
        CHECK(wait_event(&log, "permission.requested", from) >= 0, "permission asked");
        /* The request callback runs right after the event on the same thread: wait for it. */
        for (int i = 0; i < HANG_SECONDS * 20 && log.n_requests == 0; i++) usleep(50 * 1000);
        uint64_t pending = log.last_request_id;
        CHECK(pending != 0, "request id");
        copilot_session_free(s);
        CHECK(w.calls == 1 && w.status == COPILOT_ERR_CANCELLED, "%d %d", w.calls, w.status);
        CHECK(copilot_request_reply(pending, "\"approve-once\"") == COPILOT_ERR_UNKNOWN_ID, "request dropped");
        waiter_destroy(&w);
    }
    session_destroy(&log);

    /* 3. Free a session from inside a callback; copilot_shutdown is refused there. */
    session_init(&log);
    s = create_session(c, "", &log);
    if (s) {
        g_free_me = s;
        waiter_init(&w);
        w.then = free_session_inside;
        CHECK(copilot_session_send_and_wait(s, "\"REPLY bye\"", on_done, &w, NULL) == COPILOT_OK, "start");
        CHECK(waiter_wait(&w), "done");
        CHECK(w.status == COPILOT_OK && g_freed_inside, "%d", w.status);
        CHECK(g_shutdown_in_callback == COPILOT_ERR_IN_CALLBACK, "shutdown in callback: %d", g_shutdown_in_callback);
        waiter_destroy(&w);
    }
    session_destroy(&log);
    free_and_stop(c);
}

/* What a connection-lifecycle subscription saw: each notification's JSON, in order. */
typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    char *seen[256];
    int n;
} ConnLog;

static void connlog_init(ConnLog *l) {
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->m, NULL);
    pthread_cond_init(&l->c, NULL);
}

static void connlog_destroy(ConnLog *l) {
    for (int i = 0; i < l->n; i++) free(l->seen[i]);
    pthread_mutex_destroy(&l->m);
    pthread_cond_destroy(&l->c);
}

static void on_conn(void *ud, const char *json) {
    ConnLog *l = ud;
    pthread_mutex_lock(&l->m);
    if (l->n < 256) l->seen[l->n++] = xstrdup(json);
    pthread_cond_broadcast(&l->c);
    pthread_mutex_unlock(&l->m);
}

/* Index of the first notification of this type at or after `from`, waiting up to `seconds`;
 * -1 when none came. */
static int connlog_wait(ConnLog *l, const char *type, int from, int seconds) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"type\":\"%s\"", type);
    struct timespec ts;
    deadline_in(&ts, seconds);
    pthread_mutex_lock(&l->m);
    int found = -1;
    for (;;) {
        for (int i = from; i < l->n && found < 0; i++)
            if (strstr(l->seen[i], pat)) found = i;
        if (found >= 0) break;
        if (pthread_cond_timedwait(&l->c, &l->m, &ts) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&l->m);
    return found;
}

static int cli_pid(const CopilotClient *c) {
    char *info = copilot_client_info(c);
    const char *p = strstr(info, "\"cliPid\":");
    int pid = p ? atoi(p + 9) : 0;
    copilot_string_free(info);
    return pid;
}

static const char *CONNECTION_TYPES =
    "[\"connection.lost\",\"connection.reconnecting\",\"connection.restored\",\"connection.gave_up\"]";

/* A spawned CLI killed mid-turn: the waiting send_and_wait fails at once with
 * TURN_OUTCOME_UNKNOWN (naming the session), the lifecycle subscription sees connection.lost and
 * connection.restored with their metadata, the CLI is restarted (a new pid) and the session,
 * resumed, answers. With reconnection off, the client gives up instead. */
static void test_cli_killed_mid_turn(void) {
    char *base = own_cli_options(0);
    base[strlen(base) - 1] = 0; /* drop the closing brace: more members follow */
    char *o = fmt("%s,\"reconnect\":{\"initialDelay\":0.05,\"maxDelay\":0.3}}", base);
    CopilotClient *c = NULL;
    CHECK(copilot_client_new(o, NULL, NULL, &c) == COPILOT_OK, "new");
    free(o);
    ConnLog life;
    connlog_init(&life);
    uint64_t sub = 0;
    CHECK(copilot_client_subscribe_lifecycle(c, CONNECTION_TYPES, on_conn, &life, &sub) == COPILOT_OK, "subscribe");
    char *json = NULL;
    CopilotStatus st = simple_call(copilot_client_start, c, &json);
    free(json);
    Session log;
    session_init(&log);
    CopilotSession *s = NULL;
    int pid = cli_pid(c);
    CHECK(st == COPILOT_OK && pid > 0, "start stdio CLI: %d, pid %d", st, pid);
    if (st == COPILOT_OK) s = create_session(c, "", &log);
    if (s && pid > 0) {
        char *sid = copilot_session_id(s);
        Waiter w;
        waiter_init(&w);
        CHECK(copilot_session_send_and_wait(s, "{\"prompt\":\"HANG\",\"timeout\":600}", on_done, &w, NULL) == COPILOT_OK,
              "start");
        CHECK(wait_event(&log, "assistant.turn_start", 0) >= 0, "turn started");
        double killed = now_seconds();
        kill(pid, SIGKILL);
        CHECK(waiter_wait(&w), "completion after the kill");
        double took = now_seconds() - killed;
        printf("     mid-turn kill: send_and_wait failed %.0f ms after the kill\n", took * 1000);
        CHECK(w.status == COPILOT_ERR_TURN_OUTCOME_UNKNOWN && strstr(w.json, "\"code\":\"turn_outcome_unknown\"") &&
                  strstr(w.json, sid),
              "%d %s", w.status, w.json);
        CHECK(took < 1.0, "took %.3f s", took);
        waiter_destroy(&w);
        int lost = connlog_wait(&life, "connection.lost", 0, 10);
        CHECK(lost >= 0 && strstr(life.seen[lost], "\"sessionId\":\"\"") &&
                  strstr(life.seen[lost], "\"code\":\"transport_closed\""),
              "lost: %s", lost >= 0 ? life.seen[lost] : "none");
        int restored = connlog_wait(&life, "connection.restored", 0, 60);
        CHECK(restored > lost && strstr(life.seen[restored], "\"restarted\":true") &&
                  strstr(life.seen[restored], "\"sessionsResumed\":1") &&
                  strstr(life.seen[restored], "\"downtimeMs\":"),
              "restored: %s", restored >= 0 ? life.seen[restored] : "none");
        int pid2 = cli_pid(c);
        CHECK(pid2 > 0 && pid2 != pid, "a new CLI: %d -> %d", pid, pid2);
        st = say(s, "REPLY back", &json);
        CHECK(st == COPILOT_OK && strstr(json, "\"content\":\"back\""), "%d %s", st, json);
        free(json);
        copilot_string_free(sid);
    }
    copilot_session_free(s);
    session_destroy(&log);
    CHECK(copilot_client_unsubscribe_lifecycle(c, sub) == COPILOT_OK, "unsubscribe");
    free_and_stop(c);
    connlog_destroy(&life);

    /* Reconnection off: the client gives up at once; calls fail until it is started again. */
    o = fmt("%s,\"reconnect\":false}", base);
    c = NULL;
    connlog_init(&life);
    CHECK(copilot_client_new(o, on_conn, &life, &c) == COPILOT_OK, "new");
    free(o);
    st = simple_call(copilot_client_start, c, &json);
    free(json);
    pid = cli_pid(c);
    if (st == COPILOT_OK && pid > 0) {
        kill(pid, SIGKILL);
        int gave_up = connlog_wait(&life, "connection.gave_up", 0, 10);
        CHECK(gave_up >= 0 && strstr(life.seen[gave_up], "\"code\":\"transport_closed\"") &&
                  strstr(life.seen[gave_up], "\"attempts\":0"),
              "gave_up: %s", gave_up >= 0 ? life.seen[gave_up] : "none");
        CHECK(connlog_wait(&life, "connection.restored", 0, 0) < 0, "no restore");
        st = ping(c, NULL, &json);
        CHECK(st == COPILOT_ERR_TRANSPORT_CLOSED, "%d %s", st, json);
        free(json);
    } else {
        CHECK(0, "start: %d", st);
    }
    copilot_client_free(c);
    connlog_destroy(&life);
    free(base);
}

static int pid_alive(int pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    return !(p && p[1] == ' ' && p[2] == 'Z'); /* a zombie is dead */
}

static void test_force_stop_kills_the_cli(void) {
    char *o = own_cli_options(1);
    CopilotClient *c = NULL;
    CHECK(copilot_client_new(o, NULL, NULL, &c) == COPILOT_OK, "new");
    free(o);
    char *json = NULL;
    CopilotStatus st = simple_call(copilot_client_start, c, &json);
    CHECK(st == COPILOT_OK, "%d %s", st, json);
    free(json);
    char *info = copilot_client_info(c);
    const char *p = strstr(info, "\"cliPid\":");
    int pid = p ? atoi(p + 9) : 0;
    copilot_string_free(info);
    CHECK(pid > 0 && pid_alive(pid), "pid %d", pid);
    CHECK(simple_call(copilot_client_force_stop, c, &json) == COPILOT_OK, "%s", json);
    free(json);
    int dead = 0;
    for (int i = 0; i < HANG_SECONDS * 20 && !dead; i++) {
        dead = !pid_alive(pid);
        if (!dead) usleep(50 * 1000);
    }
    CHECK(dead, "the CLI outlived force_stop");
    CHECK(ping(c, NULL, &json) == COPILOT_ERR_NOT_CONNECTED, "%s", json);
    free(json);
    info = copilot_client_info(c);
    CHECK(strstr(info, "\"running\":false"), "%s", info);
    copilot_string_free(info);
    copilot_client_free(c);
}

static void test_concurrent_calls(void) {
    CopilotClient *c = connect_shared();
    enum { N = 32 };
    Waiter w[N];
    for (int i = 0; i < N; i++) {
        waiter_init(&w[i]);
        CHECK(copilot_client_ping(c, "many", on_done, &w[i], NULL) == COPILOT_OK, "ping %d", i);
    }
    for (int i = 0; i < N; i++) {
        CHECK(waiter_wait(&w[i]) && w[i].status == COPILOT_OK && w[i].calls == 1, "ping %d", i);
        waiter_destroy(&w[i]);
    }
    free_and_stop(c);
}

static void test_shutdown_and_restart(void) {
    CHECK(copilot_shutdown() == COPILOT_OK, "shutdown");
    CHECK(copilot_shutdown() == COPILOT_OK, "shutdown twice");
    /* The library works again afterwards (a new dispatcher thread starts). */
    CopilotClient *c = connect_shared();
    char *json = NULL;
    CHECK(ping(c, "again", &json) == COPILOT_OK, "ping after shutdown");
    free(json);
    free_and_stop(c);
}

/* ------------------------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    void (*fn)(void);
} Test;

int main(void) {
    harness_setup("c-test");

    Test tests[] = {
        {"version_errors_and_guards", test_version_errors_and_guards},
        {"owner_spawns_tcp_cli", test_owner_spawns_tcp_cli},
        {"connection_token", test_connection_token},
        {"client_methods", test_client_methods},
        {"ping_before_start", test_ping_before_start},
        {"subscriptions", test_subscriptions},
        {"plain_turn_events_and_session_calls", test_plain_turn_events_and_session_calls},
        {"tool_and_permission", test_tool_and_permission},
        {"request_names", test_request_names},
        {"tool_subset", test_tool_subset},
        {"tool_fails_later_from_another_thread", test_tool_fails_later_from_another_thread},
        {"permission_reject_user_input_and_hooks", test_permission_reject_user_input_and_hooks},
        {"model_error_then_recovery", test_model_error_then_recovery},
        {"cancel_abort_and_timeout", test_cancel_abort_and_timeout},
        {"cancellation_reaches_the_request_callback", test_cancellation_reaches_the_request_callback},
        {"hostile_peers", test_hostile_peers},
        {"resume_list_and_delete", test_resume_list_and_delete},
        {"lifecycle_subscriptions", test_lifecycle_subscriptions},
        {"free_semantics", test_free_semantics},
        {"cli_killed_mid_turn", test_cli_killed_mid_turn},
        {"force_stop_kills_the_cli", test_force_stop_kills_the_cli},
        {"concurrent_calls", test_concurrent_calls},
        {"shutdown_and_restart", test_shutdown_and_restart},
    };
    int n = (int)(sizeof tests / sizeof tests[0]), passed = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        g_test = tests[i].name;
        g_failures_in_test = 0;
        tests[i].fn();
        if (g_failures_in_test == 0) {
            passed++;
            printf("ok   %s\n", g_test);
        } else {
            failed++;
            printf("FAIL %s (%d checks)\n", g_test, g_failures_in_test);
        }
        if (i == 1 && g_failures_in_test) break; /* no shared CLI: nothing else can run */
    }

    harness_teardown();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed == n ? 0 : 1;
}
