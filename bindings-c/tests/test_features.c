/*
 * The official SDKs' features that go through the generic host-request mechanism (issue 12),
 * tested through libcopilot against the real Copilot CLI with tests/fake-model as the model:
 *   - UI elicitation: copilot_session_ui ("confirm", "select", "input", "elicitation") makes the
 *     CLI ask the session's own "elicitation" handler, whose answer is the result; a session
 *     without the capability is refused;
 *   - slash commands: a session's "commands" run on the "command" handler when
 *     session.commands.execute is called, a failing handler's message comes back as the
 *     command's error, and session.commands.list shows them as client commands;
 *   - MCP OAuth: the fake model's OAuth-protected MCP server makes the CLI ask the session's
 *     "mcpAuth" handler, whose token connects the server (its tool then runs); a cancelled
 *     answer leaves it unconnected;
 *   - a session filesystem: a client with "sessionFs" keeps the sessions' state in the host's
 *     "sessionFs" handler (here an in-memory path -> content table), events.jsonl included;
 *   - a GitHub token provider: the "gitHubToken" handler is asked for the session's token
 *     (reason "initial"), and creation fails on this offline machine when the CLI validates it;
 *   - telemetry: a client with a file exporter and a W3C traceparent: the tool call carries the
 *     same trace id and the exporter's file holds spans of that trace;
 *   - mode "empty": sessions must name their tools, and the system prompt has no environment
 *     context.
 * Environment: COPILOT_CLI_PATH, FAKE_MODEL_BIN. Prints "N passed, M failed"; exits non-zero on
 * any failure. Every wait has a deadline that only detects hangs. JSON is read with jansson.
 */
#include "harness.h"

#include <jansson.h>

/* ------------------------------------------------------------------------------------------ */
/* JSON helpers */

static json_t *parse(const char *text) {
    json_error_t e;
    json_t *v = json_loads(text ? text : "null", JSON_DECODE_ANY, &e);
    if (!v) {
        fprintf(stderr, "[%s] not JSON (%s): %.300s\n", g_test, e.text, text);
        abort();
    }
    return v;
}

static char *dump(const json_t *v) {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) abort();
    return s;
}

/* A string member of an object, or "" (never NULL). */
static const char *sget(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* Options JSON `base` (an object text) with the members `extra` added. */
static char *with_members(const char *base, const char *extra) {
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] != '}') n--;
    return fmt("%.*s,%s}", (int)(n - 1), base, extra);
}

/* ------------------------------------------------------------------------------------------ */
/* An in-memory session filesystem: path -> content, and directories */

#define FS_MAX 2048

typedef struct {
    char *path;
    char *content; /* NULL for a directory */
    long long mtime_ms, birth_ms;
} FsEntry;

typedef struct {
    FsEntry e[FS_MAX];
    int n;
    int ops;      /* requests served */
    int enoent;   /* ENOENT answers */
    char seen_ops[512];
} Fs;

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A path without its trailing slashes ("/" stays). */
static char *norm(const char *p) {
    char *s = xstrdup(p);
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '/') s[--n] = 0;
    return s;
}

static int fs_find(const Fs *fs, const char *path) {
    for (int i = 0; i < fs->n; i++)
        if (strcmp(fs->e[i].path, path) == 0) return i;
    return -1;
}

/* Is `path` strictly below `dir`? */
static int is_below(const char *path, const char *dir) {
    size_t n = strlen(dir);
    if (strcmp(dir, "/") == 0) return path[0] == '/' && path[1] != 0;
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static int fs_add(Fs *fs, const char *path, const char *content) {
    int i = fs_find(fs, path);
    if (i < 0) {
        if (fs->n == FS_MAX) abort();
        i = fs->n++;
        fs->e[i].path = xstrdup(path);
        fs->e[i].content = NULL;
        fs->e[i].birth_ms = now_ms();
    }
    free(fs->e[i].content);
    fs->e[i].content = content ? xstrdup(content) : NULL;
    fs->e[i].mtime_ms = now_ms();
    return i;
}

/* Makes every ancestor directory of `path` (not `path` itself). */
static void fs_add_parents(Fs *fs, const char *path) {
    if (path[0] != '/') return;
    char *p = xstrdup(path);
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = 0;
        int i = fs_find(fs, p);
        if (i < 0) fs_add(fs, p, NULL);
        *s = '/';
    }
    if (fs_find(fs, "/") < 0) fs_add(fs, "/", NULL);
    free(p);
}

static void fs_remove_at(Fs *fs, int i) {
    free(fs->e[i].path);
    free(fs->e[i].content);
    fs->e[i] = fs->e[--fs->n];
}

static void fs_free(Fs *fs) {
    while (fs->n) fs_remove_at(fs, fs->n - 1);
}

static char *iso_time(long long ms) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt("%s.%03dZ", buf, (int)(ms % 1000));
}

/* Serves one sessionFs operation: replies (or fails) the request. */
static void fs_serve(Fs *fs, uint64_t id, const char *op, const json_t *p) {
    char *path = norm(sget(p, "path"));
    json_t *result = NULL; /* the reply; NULL with `fail` set: fail the request */
    const char *fail = NULL;
    int enoent = 0;
    int i = fs_find(fs, path);
    fs->ops++;
    if (strlen(fs->seen_ops) + strlen(op) + 2 < sizeof fs->seen_ops && !strstr(fs->seen_ops, op))
        snprintf(fs->seen_ops + strlen(fs->seen_ops), sizeof fs->seen_ops - strlen(fs->seen_ops), "%s ", op);

    if (strcmp(op, "readFile") == 0) {
        if (i < 0) enoent = 1;
        else if (!fs->e[i].content) fail = "EISDIR: is a directory";
        else result = json_string(fs->e[i].content);
    } else if (strcmp(op, "writeFile") == 0 || strcmp(op, "appendFile") == 0) {
        const char *content = sget(p, "content");
        if (i >= 0 && !fs->e[i].content) fail = "EISDIR: is a directory";
        else {
            fs_add_parents(fs, path);
            if (strcmp(op, "appendFile") == 0 && i >= 0) {
                char *joined = fmt("%s%s", fs->e[i].content, content);
                fs_add(fs, path, joined);
                free(joined);
            } else {
                fs_add(fs, path, content);
            }
            result = json_null();
        }
    } else if (strcmp(op, "exists") == 0) {
        result = json_boolean(i >= 0);
    } else if (strcmp(op, "stat") == 0) {
        if (i < 0) enoent = 1;
        else {
            char *m = iso_time(fs->e[i].mtime_ms), *b = iso_time(fs->e[i].birth_ms);
            result = json_pack("{s:b,s:b,s:I,s:s,s:s}", "isFile", fs->e[i].content != NULL, "isDirectory",
                               fs->e[i].content == NULL, "size",
                               (json_int_t)(fs->e[i].content ? strlen(fs->e[i].content) : 0), "mtime", m,
                               "birthtime", b);
            free(m);
            free(b);
        }
    } else if (strcmp(op, "mkdir") == 0) {
        if (i >= 0 && fs->e[i].content) fail = "EEXIST: a file is there";
        else {
            fs_add_parents(fs, path);
            if (i < 0) fs_add(fs, path, NULL);
            result = json_null();
        }
    } else if (strcmp(op, "readdir") == 0 || strcmp(op, "readdirWithTypes") == 0) {
        if (i < 0) enoent = 1;
        else if (fs->e[i].content) fail = "ENOTDIR: not a directory";
        else {
            result = json_array();
            for (int k = 0; k < fs->n; k++) {
                const char *q = fs->e[k].path;
                if (!is_below(q, path)) continue;
                const char *name = strcmp(path, "/") == 0 ? q + 1 : q + strlen(path) + 1;
                if (strchr(name, '/')) continue;
                if (strcmp(op, "readdir") == 0) json_array_append_new(result, json_string(name));
                else
                    json_array_append_new(result, json_pack("{s:s,s:s}", "name", name, "type",
                                                            fs->e[k].content ? "file" : "directory"));
            }
        }
    } else if (strcmp(op, "rm") == 0) {
        int recursive = json_is_true(json_object_get(p, "recursive"));
        int force = json_is_true(json_object_get(p, "force"));
        if (i < 0) {
            if (force) result = json_null();
            else enoent = 1;
        } else {
            int children = 0;
            for (int k = 0; k < fs->n; k++) children += is_below(fs->e[k].path, path);
            if (children && !recursive) fail = "ENOTEMPTY: directory not empty";
            else {
                for (int k = fs->n - 1; k >= 0; k--)
                    if (strcmp(fs->e[k].path, path) == 0 || is_below(fs->e[k].path, path)) fs_remove_at(fs, k);
                result = json_null();
            }
        }
    } else if (strcmp(op, "rename") == 0) {
        char *src = norm(sget(p, "src")), *dest = norm(sget(p, "dest"));
        int s = fs_find(fs, src);
        if (s < 0) enoent = 1;
        else {
            int d = fs_find(fs, dest);
            if (d >= 0 && fs->e[d].content) fs_remove_at(fs, d);
            fs_add_parents(fs, dest);
            size_t sl = strlen(src);
            for (int k = 0; k < fs->n; k++) {
                if (strcmp(fs->e[k].path, src) == 0 || is_below(fs->e[k].path, src)) {
                    char *moved = fmt("%s%s", dest, fs->e[k].path + sl);
                    free(fs->e[k].path);
                    fs->e[k].path = moved;
                }
            }
            result = json_null();
        }
        free(src);
        free(dest);
    } else {
        fail = "operation not supported by this provider";
    }

    if (enoent) {
        fs->enoent++;
        char *msg = fmt("ENOENT: no such file or directory, '%s'", path);
        result = json_pack("{s:{s:s,s:s}}", "error", "code", "ENOENT", "message", msg);
        free(msg);
    }
    if (result) {
        char *text = dump(result);
        CopilotStatus st = copilot_request_reply(id, text);
        if (st != COPILOT_OK) fprintf(stderr, "[%s] sessionFs %s reply failed: %d\n", g_test, op, st);
        free(text);
        json_decref(result);
    } else {
        copilot_request_fail(id, fail ? fail : "failed");
    }
    free(path);
}

/* ------------------------------------------------------------------------------------------ */
/* The host: a session's event log and its request callback */

#define MAX_EVENTS 2048
#define MAX_REQ 32

typedef enum { EL_ACCEPT, EL_DECLINE_BARE, EL_FAIL, EL_RAW } ElicitMode;

typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    /* behaviour */
    ElicitMode elicit_mode;
    const char *elicit_value; /* EL_ACCEPT: the JSON value of the schema's first field; EL_RAW: the reply */
    const char *token_reply;  /* gitHubToken: the JSON reply (NULL: fail) */
    Fs *fs;                   /* sessionFs: the provider (NULL: fail) */
    /* what was seen */
    char *events[MAX_EVENTS];
    int n_events;
    char *elicitations[MAX_REQ]; /* payloads */
    int n_elicitations;
    char *commands[MAX_REQ];     /* payloads */
    char command_names[MAX_REQ][32];
    int n_commands;
    char *tokens[MAX_REQ]; /* payloads */
    int n_tokens;
    char *tools[MAX_REQ]; /* payloads */
    int n_tools;
    const char *mcp_reply; /* mcpAuth: the JSON reply */
    char *mcp_auths[MAX_REQ]; /* payloads */
    int n_mcp_auths;
    int n_fs;
    char other[256]; /* unexpected kinds */
} Host;

static void host_init(Host *h) {
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->m, NULL);
    pthread_cond_init(&h->c, NULL);
}

static void free_all(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
}

static void host_destroy(Host *h) {
    free_all(h->events, h->n_events);
    free_all(h->elicitations, h->n_elicitations);
    free_all(h->commands, h->n_commands);
    free_all(h->tokens, h->n_tokens);
    free_all(h->tools, h->n_tools);
    free_all(h->mcp_auths, h->n_mcp_auths);
    pthread_mutex_destroy(&h->m);
    pthread_cond_destroy(&h->c);
}

static void on_event(void *ud, const char *json) {
    Host *h = ud;
    pthread_mutex_lock(&h->m);
    if (h->n_events < MAX_EVENTS) h->events[h->n_events++] = xstrdup(json);
    pthread_cond_broadcast(&h->c);
    pthread_mutex_unlock(&h->m);
}

/* The name of the first field of an elicitation payload's requestedSchema ("value" without). */
static char *first_field(const json_t *payload) {
    const json_t *props = json_object_get(json_object_get(payload, "requestedSchema"), "properties");
    const char *key = "value";
    void *it = json_object_iter((json_t *)props);
    if (it) key = json_object_iter_key(it);
    return xstrdup(key);
}

static void answer_elicitation(Host *h, uint64_t id, const json_t *payload) {
    CopilotStatus st = COPILOT_OK;
    switch (h->elicit_mode) {
    case EL_ACCEPT: {
        char *key = first_field(payload), *k = json_str(key);
        char *reply = fmt("{\"action\":\"accept\",\"content\":{%s:%s}}", k, h->elicit_value);
        st = copilot_request_reply(id, reply);
        free(reply);
        free(k);
        free(key);
        break;
    }
    case EL_DECLINE_BARE: st = copilot_request_reply(id, "\"decline\""); break;
    case EL_FAIL: st = copilot_request_fail(id, "the user closed the dialog"); break;
    case EL_RAW: st = copilot_request_reply(id, h->elicit_value); break;
    }
    if (st != COPILOT_OK) fprintf(stderr, "[%s] elicitation reply failed: %d\n", g_test, st);
}

static void push(Host *h, char **list, int *n, const char *payload) {
    pthread_mutex_lock(&h->m);
    if (*n < MAX_REQ) list[(*n)++] = xstrdup(payload);
    pthread_cond_broadcast(&h->c);
    pthread_mutex_unlock(&h->m);
}

static void on_request(void *ud, uint64_t id, const char *kind, const char *payload_json) {
    Host *h = ud;
    if (strcmp(kind, "cancel") == 0) return;
    char *name = NULL;
    copilot_request_name(id, &name);
    json_t *payload = parse(payload_json);
    if (strcmp(kind, "elicitation") == 0) {
        push(h, h->elicitations, &h->n_elicitations, payload_json);
        answer_elicitation(h, id, payload);
    } else if (strcmp(kind, "command") == 0) {
        pthread_mutex_lock(&h->m);
        if (h->n_commands < MAX_REQ) snprintf(h->command_names[h->n_commands], 32, "%s", name ? name : "(none)");
        pthread_mutex_unlock(&h->m);
        push(h, h->commands, &h->n_commands, payload_json);
        if (name && strcmp(name, "broken") == 0) copilot_request_fail(id, "boom: the deploy target is down");
        else copilot_request_reply(id, "{\"ok\":true}");
    } else if (strcmp(kind, "gitHubToken") == 0) {
        push(h, h->tokens, &h->n_tokens, payload_json);
        if (h->token_reply) copilot_request_reply(id, h->token_reply);
        else copilot_request_fail(id, "no token here");
    } else if (strcmp(kind, "mcpAuth") == 0 && h->mcp_reply) {
        push(h, h->mcp_auths, &h->n_mcp_auths, payload_json);
        copilot_request_reply(id, h->mcp_reply);
    } else if (strcmp(kind, "tool") == 0) {
        push(h, h->tools, &h->n_tools, payload_json);
        copilot_request_reply(id, "\"Sunny, 21C\"");
    } else if (strcmp(kind, "sessionFs") == 0) {
        pthread_mutex_lock(&h->m);
        h->n_fs++;
        if (h->fs) fs_serve(h->fs, id, name ? name : "", payload);
        pthread_mutex_unlock(&h->m);
        if (!h->fs) copilot_request_fail(id, "no filesystem");
    } else if (strcmp(kind, "permission") == 0) {
        copilot_request_reply(id, "\"approve-once\"");
    } else {
        pthread_mutex_lock(&h->m);
        if (strlen(h->other) + strlen(kind) + 2 < sizeof h->other) strcat(strcat(h->other, kind), " ");
        pthread_mutex_unlock(&h->m);
        copilot_request_fail(id, "unexpected request kind");
    }
    json_decref(payload);
    copilot_string_free(name);
}

/* ------------------------------------------------------------------------------------------ */
/* Calls */

/* A call's outcome: the immediate status when the call did not start (json: the last error
 * message), else the completion's status and JSON. */
typedef struct {
    CopilotStatus status;
    char *json;
} Outcome;

static void outcome_free(Outcome *o) {
    free(o->json);
    o->json = NULL;
}

static Outcome finish(Waiter *w, CopilotStatus st) {
    Outcome o;
    if (st != COPILOT_OK) {
        o.status = st;
        o.json = last_error_message();
        waiter_destroy(w);
        return o;
    }
    o.status = w->calls == 1 ? w->status : -1;
    o.json = xstrdup(w->json);
    waiter_destroy(w);
    return o;
}

static char *fake_provider(void) {
    return fmt("\"provider\":{\"type\":\"openai\",\"baseUrl\":\"%s\",\"apiKey\":\"x\"}", g_model_url);
}

/* Creates a session from `members` (JSON object members, may be ""); *out gets the outcome. */
static CopilotSession *create(const CopilotClient *c, const char *members, Host *h, Outcome *out) {
    char *cfg = fmt("{\"model\":\"gpt-4.1\"%s%s}", *members ? "," : "", members);
    CopilotSession *s = NULL;
    Waiter w;
    CopilotStatus st = RUN(&w, copilot_client_create_session(c, cfg, on_event, on_request, h, on_done, &w, &s, NULL));
    free(cfg);
    *out = finish(&w, st);
    return s;
}

/* Creates a session with the fake model as provider, plus `members`; NULL (reported) on failure. */
static CopilotSession *create_byok(const CopilotClient *c, const char *members, Host *h) {
    char *prov = fake_provider();
    char *all = *members ? fmt("%s,%s", prov, members) : xstrdup(prov);
    Outcome o;
    CopilotSession *s = create(c, all, h, &o);
    free(all);
    free(prov);
    if (o.status != COPILOT_OK) {
        CHECK(0, "create_session failed: %d %s", o.status, o.json);
        copilot_session_free(s);
        s = NULL;
    }
    outcome_free(&o);
    return s;
}

static Outcome ui(const CopilotSession *s, const char *op, const char *params) {
    Waiter w;
    CopilotStatus st = RUN(&w, copilot_session_ui(s, op, params, on_done, &w, NULL));
    return finish(&w, st);
}

static Outcome rpc(const CopilotSession *s, const char *method, const char *params) {
    Waiter w;
    CopilotStatus st = RUN(&w, copilot_session_rpc(s, method, params, on_done, &w, NULL));
    return finish(&w, st);
}

static Outcome send_wait(const CopilotSession *s, const char *options) {
    Waiter w;
    CopilotStatus st = RUN(&w, copilot_session_send_and_wait(s, options, on_done, &w, NULL));
    return finish(&w, st);
}

static Outcome say(const CopilotSession *s, const char *text) {
    char *q = json_str(text);
    char *o = fmt("{\"prompt\":%s,\"timeout\":120}", q);
    Outcome out = send_wait(s, o);
    free(o);
    free(q);
    return out;
}

/* A client spawning its own CLI over stdio (isolated HOME), with `members` added to the options. */
static CopilotClient *spawn_client(const char *members, CopilotStatus *st_out) {
    char *base = own_cli_options(0);
    char *o = *members ? with_members(base, members) : xstrdup(base);
    free(base);
    CopilotClient *c = NULL;
    CopilotStatus st = copilot_client_new(o, NULL, NULL, &c);
    free(o);
    if (st_out) *st_out = st;
    return c;
}

static CopilotStatus start_client(CopilotClient *c, char **json) {
    return simple_call(copilot_client_start, c, json);
}

/* The session info's JSON (parsed; decref it): {sessionId, workspacePath, info: the create result, ...}. */
static json_t *session_info(const CopilotSession *s) {
    char *info = copilot_session_info(s);
    json_t *v = parse(info);
    copilot_string_free(info);
    return v;
}

/* The create result's capabilities.ui.elicitation (NULL when absent). */
static const json_t *elicitation_capability(const json_t *info) {
    const json_t *caps = json_object_get(json_object_get(info, "info"), "capabilities");
    return json_object_get(json_object_get(caps, "ui"), "elicitation");
}

/* ------------------------------------------------------------------------------------------ */
/* 1. UI elicitation */

static void test_elicitation(void) {
    CopilotClient *plain = connect_shared(), *c = connect_shared();
    Host none, h;
    host_init(&none);
    host_init(&h);

    /* First, on a server where no session asked for elicitation: the capability is absent and
     * the UI helpers are refused without reaching the CLI. */
    CopilotSession *b = create_byok(plain, "", &none);
    if (b) {
        json_t *info = session_info(b);
        const json_t *cap = elicitation_capability(info);
        CHECK(cap != NULL, "no capabilities.ui.elicitation in the create result");
        if (!json_is_true(cap)) {
            Outcome o = ui(b, "confirm", "{\"message\":\"Deploy?\"}");
            CHECK(o.status == COPILOT_ERR_INVALID_CONFIG, "confirm without the capability: %d %s", o.status, o.json);
            outcome_free(&o);
        } else {
            printf("   note: a session without handler reports capabilities.ui.elicitation true\n");
        }
        json_decref(info);
    }

    CopilotSession *s = create_byok(c, "\"handlers\":[\"elicitation\"]", &h);
    if (!s) goto out;
    char *sid = copilot_session_id(s);
    json_t *info = session_info(s);
    char *caps = dump(info);
    CHECK(json_is_true(elicitation_capability(info)), "capabilities of a session with an elicitation handler: %.600s",
          caps);
    free(caps);
    json_decref(info);

    /* confirm, accepted: the handler saw the message and a schema, on this session. */
    h.elicit_mode = EL_ACCEPT;
    h.elicit_value = "true";
    Outcome o = ui(s, "confirm", "{\"message\":\"Deploy?\"}");
    CHECK(o.status == COPILOT_OK && strcmp(o.json, "true") == 0, "confirm accepted: %d %s", o.status, o.json);
    outcome_free(&o);
    CHECK(h.n_elicitations == 1, "elicitation requests: %d", h.n_elicitations);
    if (h.n_elicitations >= 1) {
        json_t *p = parse(h.elicitations[0]);
        CHECK(strcmp(sget(p, "message"), "Deploy?") == 0, "message: %s", h.elicitations[0]);
        CHECK(strcmp(sget(p, "sessionId"), sid) == 0, "sessionId: %s", h.elicitations[0]);
        const json_t *schema = json_object_get(p, "requestedSchema");
        CHECK(json_is_object(schema) && json_object_size(json_object_get(schema, "properties")) >= 1,
              "requestedSchema: %s", h.elicitations[0]);
        CHECK(*sget(p, "requestId"), "requestId: %s", h.elicitations[0]);
        json_decref(p);
    }

    /* confirm, declined (the bare string form) -> false. */
    h.elicit_mode = EL_DECLINE_BARE;
    o = ui(s, "confirm", "{\"message\":\"Really deploy?\"}");
    CHECK(o.status == COPILOT_OK && strcmp(o.json, "false") == 0, "confirm declined: %d %s", o.status, o.json);
    outcome_free(&o);

    /* A failing handler cancels: confirm is false. */
    h.elicit_mode = EL_FAIL;
    o = ui(s, "confirm", "{\"message\":\"Deploy now?\"}");
    CHECK(o.status == COPILOT_OK && strcmp(o.json, "false") == 0, "confirm, handler failed: %d %s", o.status, o.json);
    outcome_free(&o);

    /* select: the chosen option; the options reached the handler in the schema. */
    int before = h.n_elicitations;
    h.elicit_mode = EL_ACCEPT;
    h.elicit_value = "\"staging\"";
    o = ui(s, "select", "{\"message\":\"Where to?\",\"options\":[\"prod\",\"staging\"]}");
    CHECK(o.status == COPILOT_OK && strcmp(o.json, "\"staging\"") == 0, "select: %d %s", o.status, o.json);
    outcome_free(&o);
    CHECK(h.n_elicitations == before + 1 && strstr(h.elicitations[before], "\"prod\"") &&
              strstr(h.elicitations[before], "\"staging\"") && strstr(h.elicitations[before], "Where to?"),
          "select payload: %s", h.n_elicitations > before ? h.elicitations[before] : "(none)");

    /* select declined -> null. */
    h.elicit_mode = EL_DECLINE_BARE;
    o = ui(s, "select", "{\"message\":\"Where to?\",\"options\":[\"prod\",\"staging\"]}");
    CHECK(o.status == COPILOT_OK && strcmp(o.json, "null") == 0, "select declined: %d %s", o.status, o.json);
    outcome_free(&o);

    /* input: the value typed; the options' title reached the schema. */
    before = h.n_elicitations;
    h.elicit_mode = EL_ACCEPT;
    h.elicit_value = "\"Ada Lovelace\"";
    o = ui(s, "input", "{\"message\":\"Your name?\",\"options\":{\"title\":\"Name\",\"minLength\":1}}");
    CHECK(o.status == COPILOT_OK && strcmp(o.json, "\"Ada Lovelace\"") == 0, "input: %d %s", o.status, o.json);
    outcome_free(&o);
    CHECK(h.n_elicitations == before + 1 && strstr(h.elicitations[before], "\"Name\""), "input payload: %s",
          h.n_elicitations > before ? h.elicitations[before] : "(none)");

    /* elicitation: a schema of the caller's; a reply without "action" is an accept with it as content. */
    h.elicit_mode = EL_RAW;
    h.elicit_value = "{\"replicas\":3,\"region\":\"eu\"}";
    o = ui(s, "elicitation",
           "{\"message\":\"Scale\",\"requestedSchema\":{\"type\":\"object\",\"properties\":{\"replicas\":{\"type\":"
           "\"number\"},\"region\":{\"type\":\"string\"}},\"required\":[\"replicas\"]}}");
    if (o.status == COPILOT_OK) {
        json_t *r = parse(o.json);
        CHECK(strcmp(sget(r, "action"), "accept") == 0 &&
                  json_integer_value(json_object_get(json_object_get(r, "content"), "replicas")) == 3 &&
                  strcmp(sget(json_object_get(r, "content"), "region"), "eu") == 0,
              "elicitation: %s", o.json);
        json_decref(r);
    } else {
        CHECK(0, "elicitation: %d %s", o.status, o.json);
    }
    outcome_free(&o);
    CHECK(h.n_elicitations >= 1 && strstr(h.elicitations[h.n_elicitations - 1], "\"replicas\""), "schema passed on");

    /* null = cancel. */
    h.elicit_mode = EL_RAW;
    h.elicit_value = "null";
    o = ui(s, "elicitation", "{\"message\":\"Scale\",\"requestedSchema\":{\"type\":\"object\",\"properties\":{}}}");
    CHECK(o.status == COPILOT_OK && strstr(o.json, "\"action\":\"cancel\""), "null reply: %d %s", o.status, o.json);
    outcome_free(&o);

    /* An unknown op and a bad params text are refused before anything is sent. */
    Waiter w;
    waiter_init(&w);
    CHECK(copilot_session_ui(s, "confirm", "{\"message\":", on_done, &w, NULL) == COPILOT_ERR_INVALID_ARGUMENT,
          "bad JSON");
    CHECK(copilot_session_ui(NULL, "confirm", "{}", on_done, &w, NULL) == COPILOT_ERR_NULL_POINTER, "NULL session");
    waiter_destroy(&w);
    o = ui(s, "dance", "{\"message\":\"x\"}");
    CHECK(o.status == COPILOT_ERR_INVALID_CONFIG || o.status == COPILOT_ERR_INVALID_ARGUMENT, "unknown op: %d %s",
          o.status, o.json);
    outcome_free(&o);
    CHECK(h.other[0] == 0, "unexpected requests: %s", h.other);

    copilot_string_free(sid);
    copilot_session_free(s);
out:
    copilot_session_free(b);
    host_destroy(&h);
    host_destroy(&none);
    free_and_stop(c);
    free_and_stop(plain);
}

/* ------------------------------------------------------------------------------------------ */
/* 2. Slash commands */

static void test_commands(void) {
    CopilotClient *c = connect_shared();
    Host h;
    host_init(&h);
    CopilotSession *s = create_byok(c,
                                    "\"commands\":[{\"name\":\"deploy\",\"description\":\"Deploy the app\"},"
                                    "{\"name\":\"broken\",\"description\":\"Always fails\"}],"
                                    "\"handlers\":[\"command\"]",
                                    &h);
    if (!s) goto out;
    char *sid = copilot_session_id(s);

    /* Listed as client commands. */
    Outcome o = rpc(s, COPILOT_METHOD_SESSION_COMMANDS_LIST, "{\"includeClientCommands\":true}");
    CHECK(o.status == COPILOT_OK, "list: %d %s", o.status, o.json);
    if (o.status == COPILOT_OK) {
        json_t *r = parse(o.json);
        size_t i;
        json_t *cmd;
        int deploy = 0;
        json_array_foreach(json_object_get(r, "commands"), i, cmd) {
            if (strcmp(sget(cmd, "name"), "deploy") == 0) {
                deploy = 1;
                CHECK(strcmp(sget(cmd, "kind"), "client") == 0 && strcmp(sget(cmd, "description"), "Deploy the app") == 0,
                      "deploy entry: %s", o.json);
            }
        }
        CHECK(deploy, "deploy not listed: %.500s", o.json);
        json_decref(r);
    }
    outcome_free(&o);

    /* Executed: the handler gets the name (also as the request's name), the args, the command line. */
    o = rpc(s, COPILOT_METHOD_SESSION_COMMANDS_EXECUTE, "{\"commandName\":\"deploy\",\"args\":\"prod now\"}");
    CHECK(o.status == COPILOT_OK && !strstr(o.json, "\"error\""), "execute deploy: %d %s", o.status, o.json);
    outcome_free(&o);
    CHECK(h.n_commands == 1, "command requests: %d", h.n_commands);
    if (h.n_commands >= 1) {
        json_t *p = parse(h.commands[0]);
        CHECK(strcmp(h.command_names[0], "deploy") == 0, "request name: %s", h.command_names[0]);
        CHECK(strcmp(sget(p, "commandName"), "deploy") == 0 && strcmp(sget(p, "args"), "prod now") == 0 &&
                  strcmp(sget(p, "command"), "/deploy prod now") == 0 && strcmp(sget(p, "sessionId"), sid) == 0,
              "payload: %s", h.commands[0]);
        json_decref(p);
    }

    /* A failing handler: its message is the command's error. */
    o = rpc(s, COPILOT_METHOD_SESSION_COMMANDS_EXECUTE, "{\"commandName\":\"broken\",\"args\":\"\"}");
    CHECK(strstr(o.json, "boom: the deploy target is down"), "execute broken: %d %s", o.status, o.json);
    printf("   note: a failing command handler gives status %d, %s\n", o.status, o.json);
    outcome_free(&o);
    CHECK(h.n_commands == 2 && strcmp(h.command_names[1], "broken") == 0, "broken reached the handler: %d",
          h.n_commands);

    /* A name the session did not declare never reaches the handler. */
    o = rpc(s, COPILOT_METHOD_SESSION_COMMANDS_EXECUTE, "{\"commandName\":\"nosuch\",\"args\":\"x\"}");
    CHECK(strstr(o.json, "nosuch") && (o.status != COPILOT_OK || strstr(o.json, "\"error\"")), "execute nosuch: %d %s",
          o.status, o.json);
    printf("   note: an undeclared command gives status %d, %.200s\n", o.status, o.json);
    outcome_free(&o);
    CHECK(h.n_commands == 2, "nosuch reached the handler");
    CHECK(h.other[0] == 0, "unexpected requests: %s", h.other);

    copilot_string_free(sid);
    copilot_session_free(s);
out:
    host_destroy(&h);
    free_and_stop(c);
}

/* ------------------------------------------------------------------------------------------ */
/* 4. MCP OAuth: the fake model serves an MCP server ("issues", tool issue_count) at /mcp that
 * answers 401 until it gets the bearer token "mcp-test-token": the CLI asks the session's
 * "mcpAuth" handler once, connects with its token and runs the tool; a cancelled answer leaves
 * the server needing auth. */

/* Whether the session reported the MCP server "issues" with `status`. Caller holds h->m. */
static int mcp_status_seen_locked(const Host *h, const char *status) {
    int seen = 0;
    for (int i = 0; i < h->n_events && !seen; i++) {
        if (!strstr(h->events[i], "session.mcp_server_status_changed")) continue;
        json_t *e = parse(h->events[i]);
        const json_t *d = json_object_get(e, "data");
        seen = strcmp(sget(e, "type"), "session.mcp_server_status_changed") == 0 &&
               strcmp(sget(d, "serverName"), "issues") == 0 && strcmp(sget(d, "status"), status) == 0;
        json_decref(e);
    }
    return seen;
}

/* Waits up to `seconds` for that status; returns whether it came. */
static int wait_mcp_status(Host *h, const char *status, int seconds) {
    struct timespec ts;
    deadline_in(&ts, seconds);
    pthread_mutex_lock(&h->m);
    int rc = 0, seen;
    while (!(seen = mcp_status_seen_locked(h, status)) && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&h->c, &h->m, &ts);
    pthread_mutex_unlock(&h->m);
    return seen;
}

/* Waits up to a minute for the first mcpAuth request. */
static int wait_mcp_auth(Host *h) {
    struct timespec ts;
    deadline_in(&ts, 60);
    pthread_mutex_lock(&h->m);
    int rc = 0;
    while (h->n_mcp_auths == 0 && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&h->c, &h->m, &ts);
    int n = h->n_mcp_auths;
    pthread_mutex_unlock(&h->m);
    return n > 0;
}

/* The session config members with the MCP server "issues"; `*url` gets the server's URL. */
static char *mcp_members(char **url) {
    const char *host = g_model_url + strlen("http://");
    size_t len = strcspn(host, "/");
    *url = fmt("http://%.*s/mcp", (int)len, host);
    char *u = json_str(*url);
    char *m = fmt("\"handlers\":[\"mcpAuth\",\"permission\"],"
                  "\"mcpServers\":{\"issues\":{\"type\":\"http\",\"url\":%s,\"tools\":[\"*\"]}}", u);
    free(u);
    return m;
}

static void test_mcp_auth(void) {
    CopilotClient *c = connect_shared();
    char *url = NULL, *members = mcp_members(&url);
    Host h;
    host_init(&h);
    h.mcp_reply = "{\"accessToken\":\"mcp-test-token\"}";
    CopilotSession *s = create_byok(c, members, &h);
    if (s) {
        CHECK(wait_mcp_status(&h, "connected", 60), "the MCP server never connected");
        pthread_mutex_lock(&h.m);
        CHECK(h.n_mcp_auths == 1, "the handler was asked %d times", h.n_mcp_auths);
        if (h.n_mcp_auths >= 1) {
            json_t *p = parse(h.mcp_auths[0]);
            char *sid = copilot_session_id(s);
            CHECK(strcmp(sget(p, "serverName"), "issues") == 0 && strcmp(sget(p, "serverUrl"), url) == 0 &&
                      *sget(p, "requestId") && strcmp(sget(p, "sessionId"), sid) == 0,
                  "mcpAuth payload %s (session %s, URL %s)", h.mcp_auths[0], sid, url);
            copilot_string_free(sid);
            json_decref(p);
        }
        pthread_mutex_unlock(&h.m);
        Outcome o = say(s, "CALL issues-issue_count {}");
        json_t *r = o.status == COPILOT_OK ? parse(o.json) : NULL;
        const json_t *data = json_object_get(r, "data");
        CHECK(o.status == COPILOT_OK && strcmp(sget(data ? data : r, "content"), "Tool returned: 42 open issues") == 0,
              "the MCP tool: %d %s", o.status, o.json);
        json_decref(r);
        outcome_free(&o);
        copilot_session_free(s);
    }
    CHECK(h.other[0] == 0, "unexpected requests: %s", h.other);
    host_destroy(&h);

    /* A cancelled answer: asked, then "needs-auth" and no connection. */
    host_init(&h);
    h.mcp_reply = "{\"kind\":\"cancelled\"}";
    s = create_byok(c, members, &h);
    if (s) {
        CHECK(wait_mcp_auth(&h), "the cancelling handler was not asked");
        CHECK(!wait_mcp_status(&h, "connected", 3), "connected without a token");
        CHECK(wait_mcp_status(&h, "needs-auth", 1), "no needs-auth status without a token");
        copilot_session_free(s);
    }
    CHECK(h.other[0] == 0, "unexpected requests: %s", h.other);

    /* An unknown kind is refused. */
    Outcome o;
    s = create(c, "\"handlers\":[\"mcpAuthorization\"]", &h, &o);
    CHECK(o.status == COPILOT_ERR_INVALID_CONFIG, "unknown handler kind: %d %s", o.status, o.json);
    outcome_free(&o);
    copilot_session_free(s);
    host_destroy(&h);
    free(members);
    free(url);
    free_and_stop(c);
}

/* ------------------------------------------------------------------------------------------ */
/* 5. Session filesystem */

#define STATE_PATH "/vfs/session-state"

static void test_session_fs(void) {
    Fs *fs = calloc(1, sizeof *fs);
    char *work = json_str(g_work);
    char *members = fmt("\"sessionFs\":{\"initialCwd\":%s,\"sessionStatePath\":\"" STATE_PATH
                        "\",\"conventions\":\"posix\"}",
                        work);
    free(work);
    CopilotStatus st;
    CopilotClient *c = spawn_client(members, &st);
    free(members);
    Host h, bare;
    host_init(&h);
    host_init(&bare);
    h.fs = fs;
    REQUIRE(st == COPILOT_OK, "client_new with sessionFs: %d", st);
    char *json = NULL;
    st = start_client(c, &json);
    CHECK(st == COPILOT_OK, "start: %d %s", st, json);
    free(json);
    if (st != COPILOT_OK) goto out;

    /* Without the provider, creation is refused. */
    char *prov = fake_provider();
    Outcome o;
    CopilotSession *none = create(c, prov, &bare, &o);
    CHECK(o.status == COPILOT_ERR_INVALID_CONFIG, "a session without the sessionFs handler: %d %s", o.status, o.json);
    CHECK(bare.n_fs == 0, "no filesystem request for it");
    outcome_free(&o);
    copilot_session_free(none);
    free(prov);

    CopilotSession *s = create_byok(c, "\"handlers\":[\"sessionFs\"]", &h);
    if (!s) goto out;
    char *sid = copilot_session_id(s);
    json_t *info = session_info(s);
    const char *ws = sget(info, "workspacePath");
    CHECK(strcmp(ws, STATE_PATH) == 0 || strncmp(ws, STATE_PATH "/", strlen(STATE_PATH) + 1) == 0,
          "workspacePath %s is not under " STATE_PATH, ws);
    json_decref(info);

    o = say(s, "Say hello");
    CHECK(o.status == COPILOT_OK && strstr(o.json, "Hello from the fake model."), "turn: %d %s", o.status, o.json);
    outcome_free(&o);

    /* The session's events.jsonl lives in the provider and has the turn's assistant.message
     * (the CLI may write it after the turn: wait for it, the deadline only detects a hang). The
     * provider is the session's own, so the CLI 1.0.102 keeps the session's state at
     * sessionStatePath itself (STATE_PATH/events.jsonl); STATE_PATH/<id>/events.jsonl is
     * accepted too. */
    char *want = fmt(STATE_PATH "/%s/events.jsonl", sid);
    int found = 0;
    char where[512] = "";
    for (int tries = 0; tries < HANG_SECONDS * 10 && !found; tries++) {
        pthread_mutex_lock(&h.m);
        for (int i = 0; i < fs->n && !found; i++) {
            const FsEntry *e = &fs->e[i];
            size_t n = strlen(e->path);
            if (!e->content || n < 13 || strcmp(e->path + n - 13, "/events.jsonl") != 0) continue;
            if (strncmp(e->path, STATE_PATH "/", strlen(STATE_PATH) + 1) != 0) continue;
            snprintf(where, sizeof where, "%s", e->path);
            found = strstr(e->content, "\"type\":\"assistant.message\"") && strstr(e->content, "Hello from the fake model.");
        }
        pthread_mutex_unlock(&h.m);
        if (!found) usleep(100 * 1000);
    }
    CHECK(found, "no events.jsonl with the turn's assistant.message under " STATE_PATH " (last seen: %s; ops: %s)",
          where[0] ? where : "none", fs->seen_ops);
    CHECK(!found || strcmp(where, want) == 0 || strcmp(where, STATE_PATH "/events.jsonl") == 0,
          "events.jsonl at %s, expected %s or " STATE_PATH "/events.jsonl", where, want);
    if (found) {
        /* Each line is one event (JSON). */
        pthread_mutex_lock(&h.m);
        int i = fs_find(fs, where), lines = 0, bad = 0;
        char *copy = xstrdup(fs->e[i].content), *save = NULL;
        pthread_mutex_unlock(&h.m);
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            json_error_t e;
            json_t *v = json_loads(line, 0, &e);
            lines++;
            bad += !v || !*sget(v, "type");
            json_decref(v);
        }
        free(copy);
        CHECK(lines >= 3 && bad == 0, "events.jsonl: %d lines, %d not events", lines, bad);
    }
    printf("   note: sessionFs: %d requests (%s), %d ENOENT answers, %d entries\n", fs->ops, fs->seen_ops, fs->enoent,
           fs->n);
    CHECK(h.other[0] == 0, "unexpected requests: %s", h.other);
    free(want);
    copilot_string_free(sid);
    copilot_session_free(s);
out:
    host_destroy(&h);
    host_destroy(&bare);
    free_and_stop(c);
    fs_free(fs);
    free(fs);
}

/* ------------------------------------------------------------------------------------------ */
/* 6. GitHub token provider */

static void test_github_token_provider(void) {
    CopilotClient *c = connect_shared();
    Host h;
    host_init(&h);

    /* Asked once for the new session (reason "initial"); the CLI cannot validate the token
     * offline, so creation fails. */
    h.token_reply = "\"gho_not_a_real_token\"";
    char *sid = fmt("c-token-%d", (int)getpid());
    char *members = fmt("\"sessionId\":\"%s\",\"handlers\":[\"gitHubToken\"]", sid);
    Outcome o;
    CopilotSession *s = create(c, members, &h, &o);
    free(members);
    CHECK(o.status != COPILOT_OK && strstr(o.json, "GitHub token validation failed"), "create: %d %s", o.status,
          o.json);
    outcome_free(&o);
    copilot_session_free(s);
    CHECK(h.n_tokens == 1, "token requests: %d", h.n_tokens);
    if (h.n_tokens >= 1) {
        json_t *p = parse(h.tokens[0]);
        CHECK(strcmp(sget(p, "reason"), "initial") == 0 && strcmp(sget(p, "host"), "https://github.com") == 0 &&
                  strcmp(sget(p, "sessionId"), sid) == 0,
              "payload: %s", h.tokens[0]);
        json_decref(p);
    }

    /* A provider that cancels: creation fails, saying so. */
    Host k;
    host_init(&k);
    k.token_reply = "{\"kind\":\"cancelled\"}";
    members = fmt("\"sessionId\":\"%s-cancel\",\"handlers\":[\"gitHubToken\"]", sid);
    s = create(c, members, &k, &o);
    free(members);
    CHECK(o.status != COPILOT_OK && strstr(o.json, "cancel"), "cancelled: %d %s", o.status, o.json);
    printf("   note: a cancelling token provider: status %d, %.300s\n", o.status, o.json);
    outcome_free(&o);
    copilot_session_free(s);
    CHECK(k.n_tokens == 1, "token requests: %d", k.n_tokens);

    /* A static token with the provider, and a BYOK provider with it: refused before the CLI. */
    Host z;
    host_init(&z);
    s = create(c, "\"gitHubToken\":\"gho_static\",\"handlers\":[\"gitHubToken\"]", &z, &o);
    CHECK(o.status == COPILOT_ERR_INVALID_CONFIG, "gitHubToken + provider: %d %s", o.status, o.json);
    outcome_free(&o);
    copilot_session_free(s);
    char *prov = fake_provider();
    members = fmt("%s,\"handlers\":[\"gitHubToken\"]", prov);
    s = create(c, members, &z, &o);
    free(members);
    free(prov);
    CHECK(o.status == COPILOT_ERR_INVALID_CONFIG, "BYOK + token provider: %d %s", o.status, o.json);
    outcome_free(&o);
    copilot_session_free(s);
    CHECK(z.n_tokens == 0, "the refused configs asked for a token: %d", z.n_tokens);

    free(sid);
    host_destroy(&h);
    host_destroy(&k);
    host_destroy(&z);
    free_and_stop(c);
}

/* ------------------------------------------------------------------------------------------ */
/* 7. Telemetry and trace context */

static const char *TRACED_TOOL =
    "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Get the weather for a city\",\"skipPermission\":true,"
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}]";

/* The trace id of a traceparent "00-<32 hex>-<16 hex>-<2 hex>" ("" when it is not one). */
static void trace_id_of(const char *tp, char out[33]) {
    out[0] = 0;
    if (tp && strlen(tp) == 55 && tp[2] == '-' && tp[35] == '-' && tp[52] == '-') snprintf(out, 33, "%.32s", tp + 3);
}

static void test_telemetry(void) {
    /* A URL connection cannot carry the exporter's settings (they are the spawned CLI's env). */
    CopilotClient *url = NULL;
    char *o_url = fmt("{\"cliUrl\":\"127.0.0.1:%d\",\"connectionToken\":\"%s\",\"telemetry\":{\"exporterType\":"
                      "\"file\",\"filePath\":\"/tmp/never.jsonl\"}}",
                      g_port, TOKEN);
    CopilotStatus st = copilot_client_new(o_url, NULL, NULL, &url);
    free(o_url);
    if (st == COPILOT_OK) {
        char *json = NULL;
        st = start_client(url, &json);
        free(json);
        copilot_client_free(url);
    }
    CHECK(st == COPILOT_ERR_INVALID_CONFIG, "telemetry with cliUrl: %d", st);

    char *file = fmt("%s/otel-%d.jsonl", g_work, (int)getpid());
    char *qfile = json_str(file);
    char *members = fmt("\"telemetry\":{\"exporterType\":\"file\",\"filePath\":%s,\"sourceName\":\"c-features\"}", qfile);
    free(qfile);
    CopilotClient *c = spawn_client(members, &st);
    free(members);
    Host h;
    host_init(&h);
    CopilotSession *s = NULL;
    REQUIRE(st == COPILOT_OK, "client_new with telemetry: %d", st);
    char *json = NULL;
    st = start_client(c, &json);
    CHECK(st == COPILOT_OK, "start: %d %s", st, json);
    free(json);
    if (st != COPILOT_OK) goto out;

    char trace[33], span[17];
    snprintf(trace, sizeof trace, "%08x4bf92f3577b34da6a3ce929d", (unsigned)getpid());
    snprintf(span, sizeof span, "00f067aa0ba902b7");
    char *tp = fmt("00-%s-%s-01", trace, span);

    /* Malformed trace context is refused. */
    Outcome o;
    char *prov = fake_provider();
    char *bad = fmt("%s,\"traceparent\":\"00-nothex-01\"", prov);
    CopilotSession *refused = create(c, bad, &h, &o);
    free(bad);
    CHECK(o.status == COPILOT_ERR_INVALID_CONFIG, "malformed traceparent at create: %d %s", o.status, o.json);
    outcome_free(&o);
    copilot_session_free(refused);

    char *cfg = fmt("%s,\"traceparent\":\"%s\",\"tracestate\":\"vendor=c\"", TRACED_TOOL, tp);
    s = create_byok(c, cfg, &h);
    free(cfg);
    free(prov);
    if (!s) goto done;

    o = send_wait(s, "{\"prompt\":\"REPLY x\",\"traceparent\":\"zz\"}");
    CHECK(o.status == COPILOT_ERR_INVALID_CONFIG, "malformed traceparent at send: %d %s", o.status, o.json);
    outcome_free(&o);

    char *opts = fmt("{\"prompt\":\"CALL get_weather {\\\"city\\\":\\\"Paris\\\"}\",\"timeout\":120,"
                     "\"traceparent\":\"%s\",\"tracestate\":\"vendor=c\"}",
                     tp);
    o = send_wait(s, opts);
    free(opts);
    CHECK(o.status == COPILOT_OK && strstr(o.json, "Tool returned: Sunny, 21C"), "turn: %d %s", o.status, o.json);
    outcome_free(&o);
    CHECK(h.n_tools == 1, "tool requests: %d", h.n_tools);
    if (h.n_tools >= 1) {
        json_t *p = parse(h.tools[0]);
        char got[33];
        trace_id_of(sget(p, "traceparent"), got);
        CHECK(strcmp(got, trace) == 0, "the tool call's traceparent is not of trace %s: %s", trace, h.tools[0]);
        CHECK(json_object_get(p, "tracestate") != NULL, "no tracestate member: %s", h.tools[0]);
        json_decref(p);
    }
    copilot_session_free(s);
    s = NULL;

done:
    free(tp);
    /* Stopping the CLI flushes the exporter. */
    {
        char *stop = NULL;
        simple_call(copilot_client_stop, c, &stop);
        free(stop);
    }
    FILE *f = fopen(file, "r");
    CHECK(f != NULL, "no telemetry file %s", file);
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        int spans = 0, ours = 0;
        while (getline(&line, &cap, f) > 0) {
            json_error_t e;
            json_t *v = json_loads(line, 0, &e);
            if (v && strcmp(sget(v, "type"), "span") == 0) {
                spans++;
                ours += strstr(line, trace) != NULL;
            }
            json_decref(v);
        }
        free(line);
        fclose(f);
        CHECK(spans > 0 && ours > 0, "telemetry file: %d spans, %d of trace %s", spans, ours, trace);
        printf("   note: telemetry file: %d spans, %d of the caller's trace\n", spans, ours);
    }
out:
    free(file);
    host_destroy(&h);
    copilot_client_free(c);
}

/* ------------------------------------------------------------------------------------------ */
/* 8. mode "empty" */

/* The fake model's "SYSTEM <needle>" answer: whether the system prompt has `needle`. */
static int system_has(const CopilotSession *s, const char *needle) {
    char *p = fmt("SYSTEM %s", needle);
    Outcome o = say(s, p);
    free(p);
    int r = -1;
    if (o.status == COPILOT_OK) r = strstr(o.json, "system has ") ? 1 : strstr(o.json, "system lacks ") ? 0 : -1;
    if (r < 0) CHECK(0, "SYSTEM %s: %d %s", needle, o.status, o.json);
    outcome_free(&o);
    return r;
}

/* The default system prompt has this section (and the working directory in it). */
static const char *ENV_MARKER = "<environment_context>";

static void test_mode_empty(void) {
    /* Empty mode needs a place for the sessions' state. */
    CopilotStatus st;
    CopilotClient *c = spawn_client("\"mode\":\"empty\"", &st);
    if (st == COPILOT_OK) {
        char *json = NULL;
        st = start_client(c, &json);
        free(json);
    }
    CHECK(st == COPILOT_ERR_INVALID_CONFIG, "mode empty without baseDirectory: %d", st);
    copilot_client_free(c);

    char *base = fmt("%s/empty-base", g_work);
    mkdir(base, 0700);
    char *qbase = json_str(base);
    char *members = fmt("\"mode\":\"empty\",\"baseDirectory\":%s", qbase);
    free(qbase);
    c = spawn_client(members, &st);
    free(members);
    Host h, d;
    host_init(&h);
    host_init(&d);
    CopilotClient *plain = NULL;
    REQUIRE(st == COPILOT_OK, "client_new, mode empty: %d", st);
    char *json = NULL;
    st = start_client(c, &json);
    CHECK(st == COPILOT_OK, "start: %d %s", st, json);
    free(json);
    if (st != COPILOT_OK) goto out;

    /* A session must name its tools. */
    char *prov = fake_provider();
    Outcome o;
    CopilotSession *s = create(c, prov, &h, &o);
    CHECK(o.status == COPILOT_ERR_INVALID_CONFIG, "no availableTools: %d %s", o.status, o.json);
    outcome_free(&o);
    copilot_session_free(s);
    free(prov);

    /* With them, a turn runs, and the system prompt has no environment context, which a
     * default-mode session's has. */
    s = create_byok(c, "\"availableTools\":[]", &h);
    if (s) {
        o = say(s, "Say hello");
        CHECK(o.status == COPILOT_OK && strstr(o.json, "Hello from the fake model."), "turn: %d %s", o.status, o.json);
        outcome_free(&o);
        CHECK(system_has(s, ENV_MARKER) == 0, "empty mode: the system prompt has %s", ENV_MARKER);
        copilot_session_free(s);
    }
    plain = connect_shared();
    CopilotSession *ds = create_byok(plain, "", &d);
    if (ds) {
        CHECK(system_has(ds, ENV_MARKER) == 1, "default mode: the system prompt lacks %s", ENV_MARKER);
        copilot_session_free(ds);
    }
    free_and_stop(plain);
out:
    free(base);
    host_destroy(&h);
    host_destroy(&d);
    free_and_stop(c);
}

/* ------------------------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    void (*fn)(void);
} Test;

int main(void) {
    harness_setup("c-features");
    if (!start_owner()) {
        fprintf(stderr, "the run's CLI did not start\n");
        harness_teardown();
        return 1;
    }
    Test tests[] = {
        {"elicitation", test_elicitation},
        {"commands", test_commands},
        {"mcp_auth", test_mcp_auth},
        {"session_fs", test_session_fs},
        {"github_token_provider", test_github_token_provider},
        {"telemetry", test_telemetry},
        {"mode_empty", test_mode_empty},
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
    }
    harness_teardown();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed == n ? 0 : 1;
}
