/*
 * The shared scenarios (the JSON files of tests/scenarios, format in tests/scenarios/README.md)
 * run through libcopilot against the real CLI, with tests/fake-model as the model. Every scenario
 * file of the directory runs; the program fails when one fails or cannot be run. JSON is read
 * with jansson.
 *
 * The host side is what a C program writes: an event callback (on_event, from the first event),
 * a request callback that records the payload it received and answers with the scenario's reply
 * as JSON text (copilot_request_reply) or fails (copilot_request_fail), a type-filtered
 * subscription per turn (copilot_session_subscribe) and send_and_wait's completion callback.
 *
 * Usage: test_scenarios [DIR [NAME...]] (DIR defaults to tests/scenarios; NAMEs run only those,
 * and such a partial run never counts as passed).
 */
#include "harness.h"

#include <dirent.h>
#include <jansson.h>

/* ------------------------------------------------------------------------------------------ */
/* Small JSON helpers */

/* Compact JSON text of any value (malloc'd). */
static char *dump(const json_t *v) {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) abort();
    return s;
}

static json_t *parse(const char *text) {
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v) {
        fprintf(stderr, "[%s] not JSON (%s): %.200s\n", g_test, e.text, text);
        abort();
    }
    return v;
}

static const char *str_or(const json_t *v, const char *dflt) {
    return json_is_string(v) ? json_string_value(v) : dflt;
}

/* True when the array `list` has a string equal to s. */
static int has_string(const json_t *list, const char *s) {
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) if (json_is_string(x) && strcmp(json_string_value(x), s) == 0) return 1;
    return 0;
}

/* True when the strings of `want` occur in `got` in this order (a subsequence). */
static int is_subsequence(const json_t *want, const json_t *got) {
    size_t j = 0, n = json_array_size(want);
    for (size_t i = 0; i < json_array_size(got) && j < n; i++)
        if (json_equal(json_array_get(got, i), json_array_get(want, j))) j++;
    return j == n;
}

/*
 * Matches a value against a scenario pattern: "<string>", "<number>", "<bool>", "<object>",
 * "<array>", "<any>", "<string|null>", "<sessionId>"; objects must have exactly the pattern's keys
 * (subset: at least them); arrays match element by element; anything else must be equal. On a
 * mismatch writes where and why to err and returns 0.
 */
static int matches(const json_t *pattern, const json_t *value, const char *sid, int subset, const char *at, char *err,
                   size_t cap) {
    const char *p = json_is_string(pattern) ? json_string_value(pattern) : NULL;
    size_t pn = p ? strlen(p) : 0;
    int ok;
    if (p && pn > 1 && p[0] == '<' && p[pn - 1] == '>') {
        if (!strcmp(p, "<string>")) ok = json_is_string(value);
        else if (!strcmp(p, "<number>")) ok = json_is_number(value);
        else if (!strcmp(p, "<bool>")) ok = json_is_boolean(value);
        else if (!strcmp(p, "<object>")) ok = json_is_object(value);
        else if (!strcmp(p, "<array>")) ok = json_is_array(value);
        else if (!strcmp(p, "<any>")) ok = 1;
        else if (!strcmp(p, "<string|null>")) ok = json_is_string(value) || json_is_null(value);
        else if (!strcmp(p, "<sessionId>")) ok = json_is_string(value) && !strcmp(json_string_value(value), sid);
        else {
            snprintf(err, cap, "%s: unknown pattern %s", at, p);
            return 0;
        }
    } else if (json_is_object(pattern) && json_is_object(value)) {
        const char *k;
        json_t *pv;
        if (!subset) {
            json_t *vv;
            json_object_foreach((json_t *)value, k, vv) if (!json_object_get(pattern, k)) {
                char *v = dump(value);
                snprintf(err, cap, "%s: unexpected key `%s` in %s", at, k, v);
                free(v);
                return 0;
            }
        }
        json_object_foreach((json_t *)pattern, k, pv) {
            json_t *got = json_object_get(value, k);
            char *sub = fmt("%s.%s", at, k);
            int m = got != NULL;
            if (!m) {
                char *v = dump(value);
                snprintf(err, cap, "%s: no `%s` in %s", at, k, v);
                free(v);
            } else {
                m = matches(pv, got, sid, subset, sub, err, cap);
            }
            free(sub);
            if (!m) return 0;
        }
        return 1;
    } else if (json_is_array(pattern) && json_is_array(value) && json_array_size(pattern) == json_array_size(value)) {
        for (size_t i = 0; i < json_array_size(pattern); i++) {
            char *sub = fmt("%s[%zu]", at, i);
            int m = matches(json_array_get(pattern, i), json_array_get(value, i), sid, subset, sub, err, cap);
            free(sub);
            if (!m) return 0;
        }
        return 1;
    } else {
        ok = json_equal(pattern, value);
    }
    if (!ok) {
        char *pt = dump(pattern), *vt = dump(value);
        snprintf(err, cap, "%s: expected %s, got %s", at, pt, vt);
        free(pt);
        free(vt);
    }
    return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* The host side of a scenario */

/*
 * A handler's answer from the scenario: {"reply": v}, {"replies": [v, ...]} (call i gets item i,
 * the last repeats) or {"fail": "message"}.
 */
typedef struct {
    json_t *spec;
    size_t calls;
} Answer;

/* Answers request `id` as the scenario says. */
static void answer(Answer *a, uint64_t id) {
    json_t *fail = json_object_get(a->spec, "fail");
    json_t *replies = json_object_get(a->spec, "replies");
    CopilotStatus st;
    if (json_is_string(fail)) {
        st = copilot_request_fail(id, json_string_value(fail));
    } else {
        json_t *v = json_object_get(a->spec, "reply");
        if (json_is_array(replies) && json_array_size(replies) > 0) {
            size_t n = json_array_size(replies);
            v = json_array_get(replies, a->calls < n ? a->calls : n - 1);
            a->calls++;
        }
        json_t *null = json_null();
        char *text = dump(v ? v : null);
        st = copilot_request_reply(id, text);
        free(text);
        json_decref(null);
    }
    if (st != COPILOT_OK) fprintf(stderr, "[%s] answering request %llu failed: %d\n", g_test, (unsigned long long)id, st);
}

typedef struct {
    char *name;
    Answer answer;
} Named;

#define MAX_NAMED 16

typedef struct {
    Named tools[MAX_NAMED];
    int n_tools;
    Named kinds[MAX_NAMED]; /* request kind -> answer */
    int n_kinds;
    Named hooks[MAX_NAMED]; /* hook type -> answer */
    int n_hooks;
    int all_hooks; /* "hooks": true: every hook type, answered with null */
    /* what the host saw during the current turn (under m) */
    pthread_mutex_t m;
    json_t *types;    /* event types, in order (on_event) */
    json_t *events;   /* the events */
    json_t *filtered; /* event types seen by the turn's subscription */
    json_t *requests; /* [{"kind", "payload"}] */
    json_t *hooks_seen;
    int idle_at_completion; /* set by the completion callback */
} Host;

static Named *find(Named *list, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i].name, name)) return &list[i];
    return NULL;
}

static void add(Named *list, int *n, const char *name, json_t *spec) {
    if (*n == MAX_NAMED) abort();
    list[*n].name = xstrdup(name);
    list[*n].answer.spec = spec;
    list[*n].answer.calls = 0;
    (*n)++;
}

static void host_reset(Host *h) {
    pthread_mutex_lock(&h->m);
    json_array_clear(h->types);
    json_array_clear(h->events);
    json_array_clear(h->filtered);
    json_array_clear(h->requests);
    json_array_clear(h->hooks_seen);
    h->idle_at_completion = 0;
    pthread_mutex_unlock(&h->m);
}

static void on_event(void *ud, const char *event_json) {
    Host *h = ud;
    json_t *ev = parse(event_json);
    pthread_mutex_lock(&h->m);
    json_array_append(h->types, json_object_get(ev, "type"));
    json_array_append_new(h->events, ev);
    pthread_mutex_unlock(&h->m);
}

static void on_filtered(void *ud, const char *event_json) {
    Host *h = ud;
    json_t *ev = parse(event_json);
    pthread_mutex_lock(&h->m);
    json_array_append(h->filtered, json_object_get(ev, "type"));
    pthread_mutex_unlock(&h->m);
    json_decref(ev);
}

static void on_request(void *ud, uint64_t id, const char *kind, const char *payload_json) {
    Host *h = ud;
    json_t *payload = parse(payload_json);
    /* Tools and hooks: the handler is picked by the request's name (as registered). */
    char *name = NULL;
    copilot_request_name(id, &name);
    pthread_mutex_lock(&h->m);
    json_array_append_new(h->requests, json_pack("{s:s, s:O}", "kind", kind, "payload", payload));
    Named *who = NULL;
    int null_answer = 0;
    if (!strcmp(kind, "tool")) {
        who = find(h->tools, h->n_tools, name ? name : "");
    } else if (!strcmp(kind, "hook")) {
        json_array_append(h->hooks_seen, json_object_get(payload, "hookType"));
        who = find(h->hooks, h->n_hooks, name ? name : "");
        null_answer = h->all_hooks || !who;
    } else {
        who = find(h->kinds, h->n_kinds, kind);
    }
    pthread_mutex_unlock(&h->m);
    json_decref(payload);
    copilot_string_free(name);
    if (null_answer) {
        copilot_request_reply(id, "null");
    } else if (who) {
        answer(&who->answer, id);
    } else {
        fprintf(stderr, "[%s] a %s request the scenario has no handler for\n", g_test, kind);
        copilot_request_fail(id, "the scenario has no handler for this request");
    }
}

/* Inside send_and_wait's completion: had on_event seen the turn's session.idle? */
static void note_idle(void *arg, CopilotStatus status) {
    (void)status;
    Host *h = arg;
    pthread_mutex_lock(&h->m);
    h->idle_at_completion = has_string(h->types, "session.idle");
    pthread_mutex_unlock(&h->m);
}

/* The request kinds the core knows (tests/request-kinds.json, generated from the core). */
static json_t *g_kinds;

/*
 * The session config JSON of a scenario, and the host's answers. Short forms of the first
 * scenarios: "permission", "permissionFeedback", "userInput", "hooks": true; the general form:
 * "handlers" (per kind, and "hooks" per hook type); tools answer with "result", "fail" or "reply".
 */
static json_t *build(const json_t *s, Host *h) {
    json_t *cfg = json_pack("{s:s, s:{s:s, s:s, s:s}}", "model", "gpt-4.1", "provider", "type", "openai", "baseUrl",
                            g_model_url, "apiKey", "x");
    const char *pass[] = {"streaming", "systemMessage", "mode"};
    for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++)
        if (json_object_get(s, pass[i])) json_object_set(cfg, pass[i], json_object_get(s, pass[i]));
    json_t *tools = json_array(), *t;
    size_t i;
    json_array_foreach(json_object_get(s, "tools"), i, t) {
        json_t *def = json_deep_copy(t);
        json_t *spec;
        if (json_object_get(def, "result")) spec = json_pack("{s:O}", "reply", json_object_get(def, "result"));
        else if (json_object_get(def, "fail")) spec = json_pack("{s:O}", "fail", json_object_get(def, "fail"));
        else if (json_object_get(def, "reply")) spec = json_pack("{s:O}", "reply", json_object_get(def, "reply"));
        else spec = json_pack("{s:n}", "reply");
        json_object_del(def, "result");
        json_object_del(def, "fail");
        json_object_del(def, "reply");
        add(h->tools, &h->n_tools, str_or(json_object_get(def, "name"), ""), spec);
        json_array_append_new(tools, def);
    }
    if (json_array_size(tools)) json_object_set(cfg, "tools", tools);
    json_decref(tools);

    const char *p = str_or(json_object_get(s, "permission"), NULL);
    if (p) {
        json_t *spec;
        if (!strcmp(p, "fail")) spec = json_pack("{s:s}", "fail", "permission handler exploded");
        else if (!strcmp(p, "reject"))
            spec = json_pack("{s:{s:s, s:O}}", "reply", "kind", "reject", "feedback",
                             json_object_get(s, "permissionFeedback") ? json_object_get(s, "permissionFeedback")
                                                                       : json_null());
        else spec = json_pack("{s:s}", "reply", p);
        add(h->kinds, &h->n_kinds, "permission", spec);
    }
    json_t *u = json_object_get(s, "userInput");
    if (u) {
        json_t *f = json_object_get(u, "fail");
        add(h->kinds, &h->n_kinds, "userInput", f ? json_pack("{s:O}", "fail", f) : json_pack("{s:O}", "reply", u));
    }
    h->all_hooks = json_is_true(json_object_get(s, "hooks"));
    const char *k;
    json_t *spec;
    json_object_foreach(json_object_get(s, "handlers"), k, spec) {
        if (!strcmp(k, "hooks")) {
            const char *hook;
            json_t *hs;
            json_object_foreach(spec, hook, hs) add(h->hooks, &h->n_hooks, hook, json_incref(hs));
        } else {
            if (!has_string(g_kinds, k)) {
                fprintf(stderr, "[%s] unknown handler kind %s\n", g_test, k);
                abort();
            }
            add(h->kinds, &h->n_kinds, k, json_incref(spec));
        }
    }
    json_t *kinds = json_array();
    for (int j = 0; j < h->n_kinds; j++) json_array_append_new(kinds, json_string(h->kinds[j].name));
    if (h->all_hooks) json_array_append_new(kinds, json_string("hook"));
    json_object_set_new(cfg, "handlers", kinds);
    if (!h->all_hooks && h->n_hooks) {
        json_t *hooks = json_array();
        for (int j = 0; j < h->n_hooks; j++) json_array_append_new(hooks, json_string(h->hooks[j].name));
        json_object_set_new(cfg, "hooks", hooks);
    }
    return cfg;
}

static void host_free(Host *h) {
    Named *lists[] = {h->tools, h->kinds, h->hooks};
    int counts[] = {h->n_tools, h->n_kinds, h->n_hooks};
    for (int l = 0; l < 3; l++)
        for (int i = 0; i < counts[l]; i++) {
            free(lists[l][i].name);
            json_decref(lists[l][i].answer.spec);
        }
    json_decref(h->types);
    json_decref(h->events);
    json_decref(h->filtered);
    json_decref(h->requests);
    json_decref(h->hooks_seen);
    pthread_mutex_destroy(&h->m);
}

/* ------------------------------------------------------------------------------------------ */
/* One turn's expectations */

/* The last event of this type, or NULL. */
static json_t *last_event(json_t *events, const char *type) {
    for (size_t i = json_array_size(events); i-- > 0;) {
        json_t *e = json_array_get(events, i);
        if (!strcmp(str_or(json_object_get(e, "type"), ""), type)) return e;
    }
    return NULL;
}

/* The given field of the requests of one kind, as an array (new reference). */
static json_t *request_field(json_t *requests, const char *kind, const char *field) {
    json_t *out = json_array(), *r;
    size_t i;
    json_array_foreach(requests, i, r) if (!strcmp(str_or(json_object_get(r, "kind"), ""), kind)) {
        json_t *v = json_object_get(json_object_get(r, "payload"), field);
        json_array_append_new(out, json_string(str_or(v, "")));
    }
    return out;
}

static void check_turn(const json_t *x, Host *h, CopilotStatus status, const char *result, const char *sid) {
    json_t *res = parse(result);
    const char *error = str_or(json_object_get(x, "error"), NULL);
    if (error) {
        CHECK(status != COPILOT_OK && !strcmp(str_or(json_object_get(res, "code"), ""), error), "expected %s: %d %s",
              error, status, result);
        json_decref(res);
        return;
    }
    CHECK(status == COPILOT_OK, "send_and_wait failed: %d %s", status, result);
    const char *content = str_or(json_object_get(json_object_get(res, "data"), "content"), "");
    const char *want = str_or(json_object_get(x, "answer"), NULL);
    if (want) CHECK(!strcmp(content, want), "answer %s, expected %s", content, want);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(x, "answerContains"), i, v)
        CHECK(strstr(content, json_string_value(v)), "answer %s lacks %s", content, json_string_value(v));
    char *types = dump(h->types);
    if (json_object_get(x, "events"))
        CHECK(is_subsequence(json_object_get(x, "events"), h->types), "events not in order: %s", types);
    json_array_foreach(json_object_get(x, "noEvents"), i, v)
        CHECK(!has_string(h->types, json_string_value(v)), "unexpected %s in %s", json_string_value(v), types);
    json_t *tc = json_object_get(x, "toolComplete");
    if (tc) {
        json_t *last = last_event(h->events, "tool.execution_complete");
        json_t *data = json_object_get(last, "data");
        char *text = last ? dump(data) : xstrdup("");
        CHECK(last && json_equal(json_object_get(data, "success"), json_object_get(tc, "success")),
              "tool.execution_complete: %s", text);
        const char *contains = str_or(json_object_get(tc, "contains"), NULL);
        if (contains) CHECK(strstr(text, contains), "%s lacks %s", text, contains);
        free(text);
    }
    const char *lists[][3] = {{"permissionKinds", "permission", "kind"}, {"userInputQuestions", "userInput", "question"}};
    for (int l = 0; l < 2; l++) {
        json_t *want_list = json_object_get(x, lists[l][0]);
        if (!want_list) continue;
        json_t *got = request_field(h->requests, lists[l][1], lists[l][2]);
        char *g = dump(got);
        CHECK(json_equal(got, want_list), "%s: %s", lists[l][0], g);
        free(g);
        json_decref(got);
    }
    if (json_object_get(x, "hooks")) {
        char *g = dump(h->hooks_seen);
        CHECK(is_subsequence(json_object_get(x, "hooks"), h->hooks_seen), "hooks: %s", g);
        free(g);
    }
    json_t *reqs = json_object_get(x, "requests");
    if (reqs) {
        char *g = dump(h->requests);
        CHECK(json_array_size(reqs) == json_array_size(h->requests), "host requests: %s", g);
        char err[1024];
        for (i = 0; i < json_array_size(reqs) && i < json_array_size(h->requests); i++) {
            char *at = fmt("request %zu", i);
            CHECK(matches(json_array_get(reqs, i), json_array_get(h->requests, i), sid, 0, at, err, sizeof err), "%s",
                  err);
            free(at);
        }
        free(g);
    }
    const char *ty;
    json_object_foreach(json_object_get(x, "eventData"), ty, v) {
        json_t *ev = last_event(h->events, ty);
        char err[1024];
        CHECK(ev, "no %s event in %s", ty, types);
        if (ev) CHECK(matches(v, json_object_get(ev, "data"), sid, 1, ty, err, sizeof err), "%s", err);
    }
    if (json_object_get(x, "filteredEvents")) {
        char *g = dump(h->filtered);
        CHECK(json_equal(h->filtered, json_object_get(x, "filteredEvents")), "filtered subscription saw %s", g);
        free(g);
    }
    if (json_is_true(json_object_get(x, "resultAfterEvents")))
        CHECK(h->idle_at_completion, "the result arrived before the turn's session.idle reached on_event");
    if (json_is_true(json_object_get(x, "deltasConcatenate"))) {
        json_t *id = json_object_get(json_object_get(res, "data"), "messageId");
        size_t n = 0, len = 0;
        char *all = xstrdup("");
        json_t *e;
        json_array_foreach(h->events, i, e) {
            json_t *d = json_object_get(e, "data");
            if (strcmp(str_or(json_object_get(e, "type"), ""), "assistant.message_delta")) continue;
            n++;
            if (!json_equal(json_object_get(d, "messageId"), id)) continue;
            const char *delta = str_or(json_object_get(d, "deltaContent"), "");
            all = realloc(all, len + strlen(delta) + 1);
            memcpy(all + len, delta, strlen(delta) + 1);
            len += strlen(delta);
        }
        CHECK(n >= 2, "deltas: %zu in %s", n, types);
        CHECK(!strcmp(all, content), "deltas %s, answer %s", all, content);
        free(all);
    }
    free(types);
    json_decref(res);
}

/* ------------------------------------------------------------------------------------------ */
/* One scenario */

static void run(const char *name, const json_t *sc) {
    CHECK(!strcmp(str_or(json_object_get(sc, "name"), ""), name), "the scenario's name differs from its file");
    Host h;
    memset(&h, 0, sizeof h);
    pthread_mutex_init(&h.m, NULL);
    h.types = json_array();
    h.events = json_array();
    h.filtered = json_array();
    h.requests = json_array();
    h.hooks_seen = json_array();
    json_t *cfg = build(json_object_get(sc, "session"), &h);
    char *cfg_text = dump(cfg);
    json_decref(cfg);
    CopilotClient *c = connect_shared();
    CopilotSession *s = NULL;
    Waiter w;
    CopilotStatus st =
        RUN(&w, copilot_client_create_session(c, cfg_text, on_event, on_request, &h, on_done, &w, &s, NULL));
    int opened = st == COPILOT_OK && w.status == COPILOT_OK;
    CHECK(opened, "create_session: %d %d %s", st, w.status, w.json ? w.json : "");
    waiter_destroy(&w);
    free(cfg_text);
    char *sid = copilot_session_id(s);
    size_t i;
    json_t *turn;
    json_array_foreach(json_object_get(sc, "turns"), i, turn) {
        if (!opened || g_failures_in_test) break;
        host_reset(&h);
        uint64_t sub = 0;
        json_t *filter = json_object_get(turn, "subscribe");
        if (filter) {
            char *types = dump(filter);
            CHECK(copilot_session_subscribe(s, types, on_filtered, &h, &sub) == COPILOT_OK, "subscribe %s", types);
            free(types);
        }
        json_t *opts = json_pack("{s:O, s:i}", "prompt", json_object_get(turn, "prompt"), "timeout", 90);
        char *options = dump(opts);
        json_decref(opts);
        waiter_init(&w);
        w.then = note_idle;
        w.then_arg = &h;
        st = copilot_session_send_and_wait(s, options, on_done, &w, NULL);
        free(options);
        CHECK(st == COPILOT_OK, "send_and_wait refused: %d", st);
        if (st == COPILOT_OK && !waiter_wait(&w)) {
            fprintf(stderr, "HANG in %s turn %zu\n", name, i);
            exit(3);
        }
        if (sub) CHECK(copilot_session_unsubscribe(s, sub) == COPILOT_OK, "unsubscribe");
        if (st == COPILOT_OK) {
            pthread_mutex_lock(&h.m);
            check_turn(json_object_get(turn, "expect"), &h, w.status, w.json, sid);
            pthread_mutex_unlock(&h.m);
        }
        waiter_destroy(&w);
    }
    if (opened) {
        RUN(&w, copilot_session_disconnect(s, on_done, &w, NULL));
        CHECK(w.status == COPILOT_OK, "disconnect: %s", w.json);
        waiter_destroy(&w);
    }
    copilot_string_free(sid);
    copilot_session_free(s);
    free_and_stop(c);
    host_free(&h);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/scenarios";
    char *kinds_path = fmt("%s/../request-kinds.json", dir);
    json_error_t e;
    g_kinds = json_load_file(kinds_path, 0, &e);
    if (!json_is_array(g_kinds)) {
        fprintf(stderr, "%s: %s\n", kinds_path, e.text);
        return 2;
    }
    free(kinds_path);
    /* Every scenario file of the directory. */
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return 2;
    }
    char *files[256];
    int n = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        size_t len = strlen(ent->d_name);
        if (len > 5 && !strcmp(ent->d_name + len - 5, ".json") && n < 256)
            files[n++] = strndup(ent->d_name, len - 5);
    }
    closedir(d);
    qsort(files, n, sizeof files[0], by_name);

    harness_setup("c-scenarios");
    g_test = "setup";
    if (!start_owner()) {
        fprintf(stderr, "the CLI did not start\n");
        return 2;
    }
    int passed = 0, failed = 0, chosen = 0;
    for (int i = 0; i < n; i++) {
        int wanted = argc <= 2;
        for (int a = 2; a < argc; a++) wanted |= !strcmp(argv[a], files[i]);
        if (!wanted) continue;
        chosen++;
        g_test = files[i];
        g_failures_in_test = 0;
        char *path = fmt("%s/%s.json", dir, files[i]);
        json_t *sc = json_load_file(path, 0, &e);
        free(path);
        if (!json_is_object(sc) || !json_is_array(json_object_get(sc, "turns"))) {
            CHECK(0, "not a scenario: %s", e.text);
        } else {
            run(files[i], sc);
        }
        json_decref(sc);
        if (g_failures_in_test == 0) {
            passed++;
            printf("ok   %s\n", files[i]);
        } else {
            failed++;
            printf("FAIL %s (%d checks)\n", files[i], g_failures_in_test);
        }
    }
    harness_teardown();
    for (int i = 0; i < n; i++) free(files[i]);
    json_decref(g_kinds);
    printf("%d passed, %d failed (%d scenario files)\n", passed, failed, n);
    if (chosen < n) printf("a partial run (%d of %d scenario files) does not pass\n", chosen, n);
    return failed == 0 && n > 0 && passed == n ? 0 : 1;
}
