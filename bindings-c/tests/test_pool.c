/*
 * Tests of libcopilot's pool (ABI 5) against real CLI servers and a real redis-server:
 * several CLI servers sharing one state directory (same HOME / COPILOT_HOME), each started by
 * this program (`--headless --port P`), used as one pool: placement by rendezvous ranking,
 * resume, failover after SIGKILL (and the return of the preferred server), drain, leases in
 * Redis between two pools (held, released with a higher token, lost behind the holder's back),
 * the reaper (client and pool, explicit and in the background), metrics (JSON and Prometheus),
 * typed option errors and log forwarding.
 * Environment: COPILOT_CLI_PATH, FAKE_MODEL_BIN; redis-server on PATH
 * (tests/install-services.sh installs it).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

extern char **environ;

/* ------------------------------------------------------------------------------------------ */
/* Processes: CLI servers and redis-server */

typedef struct {
    pid_t pid;
    int port;
} Proc;

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
    socklen_t n = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &n)) abort();
    close(fd);
    return ntohs(a.sin_port);
}

static int port_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port)};
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static int wait_port(int port, int seconds) {
    for (int i = 0; i < seconds * 50; i++) {
        if (port_open(port)) return 1;
        usleep(20 * 1000);
    }
    return 0;
}

/* Starts `argv` with its output in `log`, in `cwd`, with HOME / COPILOT_HOME set (when home is
 * given) and no other COPILOT_ variable. */
static pid_t spawn(char *const argv[], const char *log, const char *cwd, const char *home) {
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        for (int again = 1; again;) {
            again = 0;
            for (char **e = environ; *e; e++) {
                if (strncmp(*e, "COPILOT_", 8) == 0) {
                    char name[256];
                    size_t k = strcspn(*e, "=");
                    snprintf(name, sizeof name, "%.*s", (int)k, *e);
                    unsetenv(name);
                    again = 1;
                    break;
                }
            }
        }
        if (home) {
            char ch[512];
            snprintf(ch, sizeof ch, "%s/.copilot", home);
            setenv("HOME", home, 1);
            setenv("COPILOT_HOME", ch, 1);
        }
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int null = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (null >= 0) dup2(null, 0);
        if (cwd && chdir(cwd) != 0) _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void proc_kill(Proc *p) {
    if (p->pid > 0) {
        kill(p->pid, SIGCONT);
        kill(p->pid, SIGKILL);
        int status;
        waitpid(p->pid, &status, 0);
    }
    p->pid = 0;
}

/* A CLI server on `port` (0: a free one) sharing g_home; 0 on failure. */
static int cli_start(Proc *p, int port) {
    p->port = port ? port : free_port();
    char portstr[16], log[512];
    snprintf(portstr, sizeof portstr, "%d", p->port);
    snprintf(log, sizeof log, "%s/cli-%d.log", g_work, p->port);
    char *argv[] = {(char *)g_cli, "--headless", "--no-auto-update", "--port", portstr, NULL};
    p->pid = spawn(argv, log, g_work, g_home);
    if (!wait_port(p->port, 60)) {
        fprintf(stderr, "the CLI did not listen on %d (log: %s)\n", p->port, log);
        proc_kill(p);
        return 0;
    }
    return 1;
}

static Proc g_redis;

static int redis_start(void) {
    g_redis.port = free_port();
    char portstr[16], log[512];
    snprintf(portstr, sizeof portstr, "%d", g_redis.port);
    snprintf(log, sizeof log, "%s/redis.log", g_work);
    char *argv[] = {"redis-server", "--port", portstr, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", g_work, NULL};
    g_redis.pid = spawn(argv, log, g_work, NULL);
    if (!wait_port(g_redis.port, 20)) {
        fprintf(stderr, "redis-server did not listen on %d (is it installed? tests/install-services.sh)\n",
                g_redis.port);
        proc_kill(&g_redis);
        return 0;
    }
    return 1;
}

/* One Redis command (RESP); returns the raw reply (caller frees). */
static char *redis_cmd(int argc, const char **argv) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons(g_redis.port)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return xstrdup("");
    }
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) n += snprintf(buf + n, sizeof buf - n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    if (write(fd, buf, n) != n) abort();
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[r > 0 ? r : 0] = 0;
    return xstrdup(buf);
}

/* ------------------------------------------------------------------------------------------ */
/* Helpers */

static double g_t0;

static char *url_of(int port) { return fmt("127.0.0.1:%d", port); }

/* Pool options over these servers, plus extra members (may be ""). */
static char *pool_options(Proc *servers, int n, const char *extra) {
    char urls[1024] = "";
    size_t k = 0;
    for (int i = 0; i < n; i++) k += snprintf(urls + k, sizeof urls - k, "%s\"127.0.0.1:%d\"", i ? "," : "", servers[i].port);
    return fmt("{\"urls\":[%s],\"healthInterval\":0.2,\"startTimeout\":5,"
               "\"reconnect\":{\"initialDelay\":0.05,\"maxDelay\":0.3,\"maxAttempts\":5,\"callWait\":5}%s%s}",
               urls, *extra ? "," : "", extra);
}

static CopilotPool *pool_new(const char *options) {
    CopilotPool *p = NULL;
    CopilotStatus st = copilot_pool_new(options, &p);
    if (st != COPILOT_OK) {
        char *m = last_error_message();
        fprintf(stderr, "[%s] pool_new failed: %d %s\n", g_test, st, m);
        free(m);
    }
    return p;
}

static CopilotStatus pool_simple(CopilotStatus (*f)(const CopilotPool *, CopilotCallback, void *, uint64_t *),
                                 const CopilotPool *p, char **json) {
    Waiter w;
    CopilotStatus st = RUN(&w, f(p, on_done, &w, NULL));
    if (st != COPILOT_OK) {
        *json = last_error_message();
        return st;
    }
    *json = xstrdup(w.json);
    st = w.status;
    waiter_destroy(&w);
    return st;
}

static void pool_stop_free(CopilotPool *p) {
    if (!p) return;
    char *json = NULL;
    CopilotStatus st = pool_simple(copilot_pool_stop, p, &json);
    CHECK(st == COPILOT_OK, "stop: %d %s", st, json);
    free(json);
    copilot_pool_free(p);
}

static char *session_config(const char *id) {
    return fmt("{\"sessionId\":\"%s\",\"model\":\"gpt-4.1\",\"provider\":{\"type\":\"openai\",\"baseUrl\":\"%s\","
               "\"apiKey\":\"x\"}}",
               id, g_model_url);
}

/* Opens (create, or resume when `resume`) a session on the pool; the status lands in *status
 * and the completion JSON in *json (caller frees); returns the handle (NULL on failure). */
static CopilotSession *pool_open(CopilotPool *p, const char *id, int resume, CopilotStatus *status, char **json) {
    char *cfg = session_config(id);
    CopilotSession *s = NULL;
    Waiter w;
    CopilotStatus st =
        resume ? RUN(&w, copilot_pool_resume_session(p, id, cfg, NULL, NULL, NULL, on_done, &w, &s, NULL))
               : RUN(&w, copilot_pool_create_session(p, cfg, NULL, NULL, NULL, on_done, &w, &s, NULL));
    free(cfg);
    if (st != COPILOT_OK) {
        *status = st;
        if (json) *json = last_error_message();
        copilot_session_free(s);
        return NULL;
    }
    *status = w.status;
    if (json) *json = xstrdup(w.json);
    waiter_destroy(&w);
    if (*status != COPILOT_OK) {
        copilot_session_free(s);
        return NULL;
    }
    return s;
}

static CopilotSession *must_open(CopilotPool *p, const char *id, int resume) {
    CopilotStatus st;
    char *json = NULL;
    CopilotSession *s = pool_open(p, id, resume, &st, &json);
    CHECK(s != NULL, "open %s: %d %s", id, st, json);
    free(json);
    return s;
}

/* send_and_wait with a prompt; the status, and the answer's JSON in *json (caller frees). */
static CopilotStatus say(CopilotSession *s, const char *p, char **json) {
    char *q = json_str(p);
    char *o = fmt("{\"prompt\":%s,\"timeout\":120}", q);
    free(q);
    Waiter w;
    CopilotStatus st = RUN(&w, copilot_session_send_and_wait(s, o, on_done, &w, NULL));
    free(o);
    if (st != COPILOT_OK) {
        *json = last_error_message();
        return st;
    }
    *json = xstrdup(w.json);
    st = w.status;
    waiter_destroy(&w);
    return st;
}

/* "REPLY <text>": checks that the answer is <text>. */
static int ask_reply(CopilotSession *s, const char *text) {
    char *p = fmt("REPLY %s", text), *json = NULL;
    CopilotStatus st = say(s, p, &json);
    char *want = fmt("\"content\":\"%s\"", text);
    int ok = st == COPILOT_OK && strstr(json, want) != NULL;
    CHECK(ok, "%s -> %d %s", p, st, json);
    free(p);
    free(json);
    free(want);
    return ok;
}

static CopilotStatus session_simple(CopilotStatus (*f)(const CopilotSession *, CopilotCallback, void *, uint64_t *),
                                    const CopilotSession *s, char **json) {
    Waiter w;
    CopilotStatus st = RUN(&w, f(s, on_done, &w, NULL));
    if (st != COPILOT_OK) {
        *json = last_error_message();
        return st;
    }
    *json = xstrdup(w.json);
    st = w.status;
    waiter_destroy(&w);
    return st;
}

static void disconnect_free(CopilotSession *s) {
    if (!s) return;
    char *json = NULL;
    CopilotStatus st = session_simple(copilot_session_disconnect, s, &json);
    CHECK(st == COPILOT_OK, "disconnect: %d %s", st, json);
    free(json);
    copilot_session_free(s);
}

/* What precedes a snapshot's turn count (keys come sorted: the buckets, then the count). */
#define TURN_COUNT "\"le\":\"+Inf\"}],\"count\":"

/* How many times `needle` occurs in `hay`. */
static int occurrences(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* The session's server (caller frees; "" when none). */
static char *server_of(CopilotSession *s) {
    char *u = copilot_session_server(s);
    char *copy = xstrdup(u);
    copilot_string_free(u);
    return copy;
}

/* The first URL of the pool's ranking for `id` (caller frees). */
static char *first_ranked(CopilotPool *p, const char *id) {
    char *r = copilot_pool_ranking(p, id);
    char out[256] = "";
    if (r && r[0] == '[' && r[1] == '"') {
        const char *end = strchr(r + 2, '"');
        if (end) snprintf(out, sizeof out, "%.*s", (int)(end - r - 2), r + 2);
    }
    copilot_string_free(r);
    return xstrdup(out);
}

/* The JSON object of one server in copilot_pool_servers (caller frees; "" when absent). Keys
 * come sorted, so the object is found around its "url" member. */
static char *server_entry(CopilotPool *p, const char *url) {
    char *all = copilot_pool_servers(p);
    char *needle = fmt("\"url\":\"%s\"", url), *out;
    const char *at = all ? strstr(all, needle) : NULL;
    if (at) {
        const char *start = at, *end = strchr(at, '}');
        while (start > all && *start != '{') start--;
        out = fmt("%.*s", (int)(end - start + 1), start);
    } else {
        out = xstrdup("");
    }
    free(needle);
    copilot_string_free(all);
    return out;
}

static int server_healthy(CopilotPool *p, const char *url) {
    char *e = server_entry(p, url);
    int ok = strstr(e, "\"healthy\":true") != NULL;
    free(e);
    return ok;
}

/* A number field of a JSON text (first occurrence; -1 when absent). */
static long long number_field(const char *json, const char *key) {
    char *needle = fmt("\"%s\":", key);
    const char *at = json ? strstr(json, needle) : NULL;
    long long v = at ? atoll(at + strlen(needle)) : -1;
    free(needle);
    return v;
}

/* The user messages of a session's history, joined with '|' (caller frees). */
static char *user_messages(CopilotSession *s) {
    char *json = NULL;
    CopilotStatus st = session_simple(copilot_session_get_messages, s, &json);
    if (st != COPILOT_OK) {
        free(json);
        return fmt("<error %d>", st);
    }
    char out[4096] = "";
    size_t k = 0;
    for (const char *p = json; (p = strstr(p, "\"type\":\"user.message\""));) {
        const char *c = strstr(p, "\"content\":\"");
        if (!c) break;
        c += 11;
        const char *end = strchr(c, '"');
        k += snprintf(out + k, sizeof out - k, "%s%.*s", k ? "|" : "", (int)(end - c), c);
        p = end;
    }
    free(json);
    return xstrdup(out);
}

/* ------------------------------------------------------------------------------------------ */
/* Tests */

static Proc g_cli_procs[3];

static void test_options_and_typed_errors(void) {
    CopilotPool *p = NULL;
    struct {
        const char *json;
        CopilotStatus want;
    } bad[] = {
        {NULL, COPILOT_ERR_INVALID_CONFIG},
        {"{\"urls\":5}", COPILOT_ERR_INVALID_CONFIG},
        {"{\"urls\":[]}", COPILOT_ERR_INVALID_CONFIG},
        {"{\"urls\":[\"a:1\",\"a:1\"]}", COPILOT_ERR_INVALID_CONFIG},
        {"{\"urls\":\"a:1\",\"cliUrl\":\"b:2\"}", COPILOT_ERR_INVALID_CONFIG},
        {"{\"urls\":\"a:1\",\"healthInterval\":\"soon\"}", COPILOT_ERR_INVALID_CONFIG},
        {"{\"urls\":\"a:1\",\"lease\":{\"redisUrl\":\"http://x\"}}", COPILOT_ERR_INVALID_CONFIG},
        {"{\"urls\":\"a:1\",\"lease\":{\"redisUrl\":\"redis://127.0.0.1:1\",\"ttl\":\"long\"}}",
         COPILOT_ERR_INVALID_CONFIG},
        {"{\"urls\":\"a:1\",\"requestTimeout\":\"x\"}", COPILOT_ERR_INVALID_CONFIG},
        {"{\"urls\":\"a:1\",\"reconnect\":false}", COPILOT_ERR_INVALID_CONFIG},
        {"{\"urls\":\"a:1\",\"lease\":{\"redisUrl\":\"redis://127.0.0.1:1\",\"ttl\":0.01}}", COPILOT_ERR_INVALID_CONFIG},
        {"{not json", COPILOT_ERR_INVALID_ARGUMENT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CopilotStatus st = copilot_pool_new(bad[i].json, &p);
        CHECK(st == bad[i].want && p == NULL, "%s -> %d", bad[i].json ? bad[i].json : "NULL", st);
    }
    CHECK(copilot_pool_new("{}", NULL) == COPILOT_ERR_NULL_POINTER, "NULL out");
    char *err = copilot_last_error_json();
    CHECK(err && strstr(err, "\"code\":\"null_pointer\""), "%s", err);
    copilot_string_free(err);
    /* NULL-safe frees and getters. */
    copilot_pool_free(NULL);
    copilot_reaper_free(NULL);
    CHECK(copilot_pool_servers(NULL) == NULL && copilot_pool_metrics(NULL) == NULL, "NULL pool");
    CHECK(copilot_session_lease_token(NULL) == 0 && copilot_session_server(NULL) == NULL, "NULL session");
    CHECK(copilot_reaper_stop(NULL) == COPILOT_ERR_NULL_POINTER, "NULL reaper");

    /* No server reachable: a typed, retriable error. */
    char *o = fmt("{\"urls\":[\"127.0.0.1:%d\"],\"startTimeout\":2}", free_port());
    CopilotPool *dead = pool_new(o);
    free(o);
    if (dead) {
        CopilotStatus st;
        char *json = NULL;
        CopilotSession *s = pool_open(dead, "c-pool-nowhere", 0, &st, &json);
        CHECK(!s && st == COPILOT_ERR_NO_SERVER && strstr(json, "\"retriable\":true") &&
                  strstr(json, "\"code\":\"no_server\""),
              "%d %s", st, json);
        free(json);
        CHECK(copilot_error_name(COPILOT_ERR_LEASE_HELD) && strcmp(copilot_error_name(COPILOT_ERR_LEASE_HELD), "lease_held") == 0,
              "name 24");
        CHECK(strcmp(copilot_error_name(COPILOT_ERR_LEASE_LOST), "lease_lost") == 0, "name 25");
        CHECK(strcmp(copilot_error_name(COPILOT_ERR_NO_SERVER), "no_server") == 0, "name 26");
        /* Wrong-typed call arguments. */
        CHECK(copilot_pool_drain(dead, "nope:1") == COPILOT_ERR_INVALID_CONFIG, "drain unknown url");
        CHECK(copilot_pool_drain(dead, NULL) == COPILOT_ERR_NULL_POINTER, "drain NULL");
        Waiter w;
        CHECK(copilot_pool_cleanup_sessions(dead, "{}", on_done, &w, NULL) == COPILOT_ERR_INVALID_CONFIG, "no limit");
        CHECK(copilot_pool_cleanup_sessions(dead, "{\"maxAge\":\"old\"}", on_done, &w, NULL) ==
                  COPILOT_ERR_INVALID_CONFIG,
              "bad maxAge");
        CHECK(copilot_pool_cleanup_sessions(dead, "{\"maxIdle\":1,\"includeOpen\":1}", on_done, &w, NULL) ==
                  COPILOT_ERR_INVALID_CONFIG,
              "bad includeOpen");
        CopilotReaper *r = NULL;
        CHECK(copilot_pool_start_reaper(dead, 0, "{\"maxAge\":1}", NULL, NULL, &r) == COPILOT_ERR_INVALID_ARGUMENT &&
                  !r,
              "interval 0");
        CHECK(copilot_pool_start_reaper(dead, 1, "{}", NULL, NULL, &r) == COPILOT_ERR_INVALID_CONFIG && !r,
              "reaper without limit");
        char *rank = copilot_pool_ranking(dead, "x");
        CHECK(rank && rank[0] == '[', "%s", rank);
        copilot_string_free(rank);
        copilot_pool_free(dead);
    }
}

static void test_placement_resume_failover_drain_and_metrics(void) {
    Proc *sv = g_cli_procs;
    char *o = pool_options(sv, 3, "");
    CopilotPool *p = pool_new(o);
    free(o);
    REQUIRE(p, "pool");
    char *json = NULL;
    CopilotStatus st = pool_simple(copilot_pool_start, p, &json);
    CHECK(st == COPILOT_OK && strcmp(json, "null") == 0, "start: %d %s", st, json);
    free(json);

    /* Placement: each session on the first server of its ranking; they spread. */
    enum { N = 9 };
    CopilotSession *s[N] = {0};
    char ids[N][64], servers[N][64];
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "c-pool-%d-%d", (int)getpid(), i);
        s[i] = must_open(p, ids[i], 0);
        if (!s[i]) goto out;
        char *at = server_of(s[i]), *want = first_ranked(p, ids[i]);
        CHECK(strcmp(at, want) == 0 && *at, "%s on %s, ranking says %s", ids[i], at, want);
        snprintf(servers[i], sizeof servers[i], "%s", at);
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= strcmp(servers[j], at) == 0;
        distinct += !seen;
        free(at);
        free(want);
        char *info = copilot_session_info(s[i]);
        CHECK(strstr(info, "\"server\":\"127.0.0.1:") && strstr(info, "\"leaseToken\":null"), "%s", info);
        copilot_string_free(info);
        CHECK(copilot_session_lease_token(s[i]) == 0, "no lease store, no token");
        char *text = fmt("one %s", ids[i]);
        ask_reply(s[i], text);
        free(text);
    }
    CHECK(distinct >= 2, "%d sessions on %d server(s)", N, distinct);
    char *entry = server_entry(p, servers[0]);
    CHECK(strstr(entry, "\"healthy\":true") && strstr(entry, "\"draining\":false") &&
              number_field(entry, "openSessions") >= 1,
          "%s", entry);
    free(entry);

    /* Resume: disconnect one, resume it by id: its ranked server, its history. */
    disconnect_free(s[N - 1]);
    s[N - 1] = must_open(p, ids[N - 1], 1);
    if (s[N - 1]) {
        char *at = server_of(s[N - 1]);
        CHECK(strcmp(at, servers[N - 1]) == 0, "resumed on %s, was %s", at, servers[N - 1]);
        free(at);
        char *um = user_messages(s[N - 1]), *want = fmt("REPLY one %s", ids[N - 1]);
        CHECK(strcmp(um, want) == 0, "%s", um);
        free(um);
        free(want);
    }
    CopilotStatus rst;
    char *rjson = NULL;
    CopilotSession *none = pool_open(p, "c-pool-never-created", 1, &rst, &rjson);
    CHECK(!none && rst == COPILOT_ERR_SESSION_NOT_FOUND, "%d %s", rst, rjson);
    free(rjson);

    /* Failover: SIGKILL the server of session 0; its sessions continue on their next server. */
    char victim[64];
    snprintf(victim, sizeof victim, "%s", servers[0]);
    int vi = -1;
    for (int i = 0; i < 3; i++) {
        char *u = url_of(sv[i].port);
        if (strcmp(u, victim) == 0) vi = i;
        free(u);
    }
    REQUIRE(vi >= 0, "victim %s", victim);
    double killed = now_seconds();
    proc_kill(&sv[vi]);
    int moved_all = 0;
    while (!moved_all && now_seconds() - killed < 30) {
        moved_all = 1;
        for (int i = 0; i < N; i++) {
            if (strcmp(servers[i], victim) != 0 || !s[i]) continue;
            char *at = server_of(s[i]);
            moved_all &= strcmp(at, victim) != 0 && *at;
            free(at);
        }
        if (!moved_all) usleep(20 * 1000);
    }
    CHECK(moved_all, "the victim's sessions did not move");
    printf("   failover of the sessions of %s took %.2f s\n", victim, now_seconds() - killed);
    for (int i = 0; i < N; i++) {
        if (strcmp(servers[i], victim) != 0 || !s[i]) continue;
        char *text = fmt("two %s", ids[i]);
        ask_reply(s[i], text);
        free(text);
        char *um = user_messages(s[i]), *want = fmt("REPLY one %s|REPLY two %s", ids[i], ids[i]);
        CHECK(strcmp(um, want) == 0, "history after failover: %s", um);
        free(um);
        free(want);
    }
    char *m = copilot_pool_metrics(p);
    CHECK(number_field(m, "failovers") >= 1 && number_field(m, "healthyServers") == 2, "%s", m);
    copilot_string_free(m);
    CHECK(!server_healthy(p, victim), "the victim is healthy?");

    /* The victim comes back (same port, same HOME): its sessions return at their next prompt. */
    CHECK(cli_start(&sv[vi], sv[vi].port), "restart the victim");
    double back = now_seconds();
    while (!server_healthy(p, victim) && now_seconds() - back < 30) usleep(50 * 1000);
    CHECK(server_healthy(p, victim), "the victim is not healthy again");
    ask_reply(s[0], "three");
    char *at0 = server_of(s[0]);
    CHECK(strcmp(at0, victim) == 0, "returned to %s, is on %s", victim, at0);
    free(at0);
    char *um0 = user_messages(s[0]);
    CHECK(occurrences(um0, "REPLY ") == 3, "%s", um0);
    free(um0);

    /* Drain: the next prompt of a session on the drained server runs elsewhere. */
    char drained[64];
    char *d = server_of(s[1]);
    snprintf(drained, sizeof drained, "%s", d);
    free(d);
    CHECK(copilot_pool_drain(p, drained) == COPILOT_OK, "drain");
    entry = server_entry(p, drained);
    CHECK(strstr(entry, "\"draining\":true"), "%s", entry);
    free(entry);
    for (int i = 0; i < N; i++) {
        if (!s[i]) continue;
        char *at = server_of(s[i]);
        if (strcmp(at, drained) == 0) {
            ask_reply(s[i], "drained");
            char *now = server_of(s[i]);
            CHECK(strcmp(now, drained) != 0, "%s still on the drained %s", ids[i], now);
            free(now);
        }
        free(at);
    }
    entry = server_entry(p, drained);
    CHECK(number_field(entry, "openSessions") == 0, "%s", entry);
    free(entry);
    CHECK(copilot_pool_undrain(p, drained) == COPILOT_OK, "undrain");

    /* Metrics: per server and for the pool, JSON and Prometheus text. */
    m = copilot_pool_metrics(p);
    CHECK(m && number_field(m, "openSessions") == N && strstr(m, "\"servers\":[") && strstr(m, "\"turns\":{") &&
              number_field(m, "leasesAcquired") == 0,
          "%s", m);
    long long calls = 0, turns = 0;
    for (const char *q = m; (q = strstr(q, "\"calls\":")); q += 8) calls += atoll(q + 8);
    for (const char *q = m; (q = strstr(q, TURN_COUNT)); q += strlen(TURN_COUNT)) turns += atoll(q + strlen(TURN_COUNT));
    CHECK(calls > 2 * N && turns >= N + 2, "calls %lld turns %lld: %s", calls, turns, m);
    copilot_string_free(m);
    char *text = copilot_pool_metrics_prometheus(p);
    char *needle = fmt("copilot_calls_total{server=\"%s\"}", victim);
    CHECK(text && strstr(text, needle) && strstr(text, "copilot_pool_failovers_total ") &&
              strstr(text, "# TYPE copilot_turn_seconds histogram"),
          "%s", text);
    free(needle);
    copilot_string_free(text);

    /* list and delete across the pool. */
    Waiter w;
    RUN(&w, copilot_pool_list_sessions(p, NULL, on_done, &w, NULL));
    char *listed = fmt("\"sessionId\":\"%s\"", ids[2]);
    CHECK(w.status == COPILOT_OK && occurrences(w.json, listed) == 1, "each session listed once: %.300s", w.json);
    free(listed);
    waiter_destroy(&w);
    disconnect_free(s[2]);
    s[2] = NULL;
    RUN(&w, copilot_pool_delete_session(p, ids[2], on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK, "delete: %s", w.json);
    waiter_destroy(&w);
    RUN(&w, copilot_pool_delete_session(p, ids[2], on_done, &w, NULL));
    CHECK(w.status == COPILOT_ERR_SESSION_NOT_FOUND, "deleted twice: %d %s", w.status, w.json);
    waiter_destroy(&w);

out:
    for (int i = 0; i < N; i++) disconnect_free(s[i]);
    m = copilot_pool_metrics(p);
    CHECK(number_field(m, "openSessions") == 0, "%s", m);
    copilot_string_free(m);
    pool_stop_free(p);
}

static void test_leases(void) {
    Proc *sv = g_cli_procs;
    char *la = fmt("\"lease\":{\"redisUrl\":\"redis://127.0.0.1:%d\",\"ttl\":3,\"wait\":0.8,\"owner\":\"c-instance-1\"}",
                   g_redis.port);
    char *lb = fmt("\"lease\":{\"redisUrl\":\"redis://127.0.0.1:%d\",\"ttl\":0.6,\"wait\":0.8,\"owner\":\"c-instance-2\"}",
                   g_redis.port);
    char *oa = pool_options(sv, 2, la), *ob = pool_options(sv, 2, lb);
    CopilotPool *one = pool_new(oa), *two = pool_new(ob);
    free(la);
    free(lb);
    free(oa);
    free(ob);
    char *id = fmt("c-leased-%d", (int)getpid());
    CopilotSession *s1 = NULL, *s2 = NULL;
    if (!one || !two) goto out;
    s1 = must_open(one, id, 0);
    if (!s1) goto out;
    uint64_t t1 = copilot_session_lease_token(s1);
    CHECK(t1 > 0, "token %llu", (unsigned long long)t1);
    char *info = copilot_session_info(s1);
    char *want = fmt("\"leaseToken\":%llu", (unsigned long long)t1);
    CHECK(strstr(info, want), "%s", info);
    free(want);
    copilot_string_free(info);
    ask_reply(s1, "mine");

    /* Held: the second instance waits `wait`, then a typed, retriable error naming the holder. */
    double t = now_seconds();
    CopilotStatus st;
    char *json = NULL;
    CopilotSession *held = pool_open(two, id, 1, &st, &json);
    double waited = now_seconds() - t;
    CHECK(!held && st == COPILOT_ERR_LEASE_HELD && strstr(json, "\"retriable\":true") && strstr(json, "c-instance-1"),
          "%d %s", st, json);
    CHECK(waited >= 0.7, "waited %.2f s", waited);
    free(json);
    /* Renewed while held: it outlives its ttl. */
    usleep(3500 * 1000);
    ask_reply(s1, "still mine");

    /* Released on disconnect: the second instance gets it, with a higher token. */
    disconnect_free(s1);
    s1 = NULL;
    t = now_seconds();
    do {
        s2 = pool_open(two, id, 1, &st, NULL);
    } while (!s2 && st == COPILOT_ERR_LEASE_HELD && now_seconds() - t < 10);
    REQUIRE(s2, "second instance: %d", st);
    uint64_t t2 = copilot_session_lease_token(s2);
    CHECK(t2 > t1, "tokens %llu then %llu", (unsigned long long)t1, (unsigned long long)t2);
    ask_reply(s2, "yours");
    char *um = user_messages(s2);
    CHECK(strcmp(um, "REPLY mine|REPLY still mine|REPLY yours") == 0, "%s", um);
    free(um);

    /* Taken behind its back: the next call fails lease_lost. */
    char *key = fmt("copilot:lease:%s", id);
    const char *set[] = {"SET", key, "intruder|999", "PX", "60000"};
    free(redis_cmd(5, set));
    t = now_seconds();
    CopilotStatus lost = COPILOT_OK;
    while (now_seconds() - t < 10) {
        char *j = NULL;
        lost = session_simple(copilot_session_get_messages, s2, &j);
        free(j);
        if (lost != COPILOT_OK) break;
        usleep(50 * 1000);
    }
    CHECK(lost == COPILOT_ERR_LEASE_LOST, "%d", lost);
    char *j = NULL;
    st = say(s2, "REPLY no", &j);
    CHECK(st == COPILOT_ERR_LEASE_LOST && strstr(j, "\"code\":\"lease_lost\""), "%d %s", st, j);
    free(j);
    char *m = copilot_pool_metrics(two);
    CHECK(number_field(m, "leasesLost") >= 1 && number_field(m, "leaseWaits") >= 1, "%s", m);
    copilot_string_free(m);
    /* Disconnecting still works and leaves the intruder's key alone. */
    disconnect_free(s2);
    s2 = NULL;
    const char *get[] = {"GET", key};
    char *v = redis_cmd(2, get);
    CHECK(strstr(v, "intruder|999"), "%s", v);
    free(v);
    const char *del[] = {"DEL", key};
    free(redis_cmd(2, del));
    free(key);
    m = copilot_pool_metrics(one);
    CHECK(number_field(m, "leasesAcquired") >= 1, "%s", m);
    copilot_string_free(m);
out:
    disconnect_free(s1);
    disconnect_free(s2);
    free(id);
    pool_stop_free(one);
    pool_stop_free(two);
}

typedef struct {
    pthread_mutex_t m;
    int sweeps, errors;
    char deleted[4096];
} Sweeps;

static void on_sweep(void *ud, const char *json) {
    Sweeps *s = ud;
    pthread_mutex_lock(&s->m);
    s->sweeps++;
    if (strstr(json, "\"error\"")) s->errors++;
    size_t k = strlen(s->deleted);
    snprintf(s->deleted + k, sizeof s->deleted - k, "%s", json);
    pthread_mutex_unlock(&s->m);
}

static void on_swept_lifecycle(void *ud, const char *json) {
    if (strstr(json, "\"type\":\"reaper.swept\"")) on_sweep(ud, json);
}

static int sweeps_contain(Sweeps *s, const char *id, int seconds) {
    double t = now_seconds();
    while (now_seconds() - t < seconds) {
        pthread_mutex_lock(&s->m);
        int found = strstr(s->deleted, id) != NULL;
        pthread_mutex_unlock(&s->m);
        if (found) return 1;
        usleep(20 * 1000);
    }
    return 0;
}

/* cleanup_sessions on a client (c) or a pool (p). */
static CopilotStatus cleanup(const CopilotClient *c, const CopilotPool *p, const char *options, char **json) {
    Waiter w;
    CopilotStatus st = c ? RUN(&w, copilot_client_cleanup_sessions(c, options, on_done, &w, NULL))
                         : RUN(&w, copilot_pool_cleanup_sessions(p, options, on_done, &w, NULL));
    if (st != COPILOT_OK) {
        *json = last_error_message();
        return st;
    }
    *json = xstrdup(w.json);
    st = w.status;
    waiter_destroy(&w);
    return st;
}

static void test_reaper(void) {
    Proc *sv = g_cli_procs;
    int pid = (int)getpid();
    char *old_id = fmt("c-reap-old-%d", pid), *open_id = fmt("c-reap-open-%d", pid),
         *swept_id = fmt("c-reap-swept-%d", pid), *pool_id = fmt("c-reap-pool-%d", pid),
         *kept_id = fmt("c-reap-kept-%d", pid), *client_id = fmt("c-reap-client-%d", pid);
    Sweeps life, ps;
    memset(&life, 0, sizeof life);
    memset(&ps, 0, sizeof ps);
    pthread_mutex_init(&life.m, NULL);
    pthread_mutex_init(&ps.m, NULL);
    char *co = fmt("{\"cliUrl\":\"127.0.0.1:%d\"}", sv[0].port);
    CopilotClient *c = NULL;
    CHECK(copilot_client_new(co, on_swept_lifecycle, &life, &c) == COPILOT_OK, "client");
    free(co);
    char *o = pool_options(sv, 1, "");
    CopilotPool *p = pool_new(o);
    free(o);
    CopilotSession *open = NULL, *kept = NULL;
    CopilotReaper *r = NULL, *orphan = NULL;
    char *json = NULL;
    CopilotStatus st;
    if (!c || !p) goto out;

    /* On the client: a detached session idle for longer than maxIdle goes (a session is listed
     * once it has a message). */
    CopilotSession *old = must_open(p, old_id, 0);
    if (old) ask_reply(old, "old");
    disconnect_free(old);
    usleep(1300 * 1000);
    st = cleanup(c, NULL, "{\"maxIdle\":1}", &json);
    CHECK(st == COPILOT_OK && json[0] == '[' && strstr(json, old_id), "%d %s", st, json);
    free(json);

    /* On the pool: a session open on the pool is skipped unless includeOpen. */
    CopilotSession *gone = must_open(p, pool_id, 0);
    if (gone) ask_reply(gone, "gone");
    disconnect_free(gone);
    open = must_open(p, open_id, 0);
    if (open) ask_reply(open, "open");
    usleep(1300 * 1000);
    st = cleanup(NULL, p, "{\"maxIdle\":1}", &json);
    CHECK(st == COPILOT_OK && strstr(json, pool_id) && !strstr(json, open_id), "%d %s", st, json);
    free(json);
    st = cleanup(NULL, p, "{\"maxIdle\":1,\"includeOpen\":true}", &json);
    CHECK(st == COPILOT_OK && strstr(json, open_id), "%d %s", st, json);
    free(json);
    if (open) {
        st = session_simple(copilot_session_get_messages, open, &json);
        CHECK(st == COPILOT_ERR_SESSION_NOT_FOUND, "reaped open session: %d %s", st, json);
        free(json);
        copilot_session_free(open);
        open = NULL;
    }
    char *m = copilot_pool_metrics(p);
    CHECK(number_field(m, "reaped") >= 2, "%s", m);
    copilot_string_free(m);

    /* The pool's background reaper: every sweep reported; an open session is kept. */
    CopilotSession *later = must_open(p, swept_id, 0);
    if (later) ask_reply(later, "later");
    disconnect_free(later);
    kept = must_open(p, kept_id, 0);
    if (kept) ask_reply(kept, "kept");
    usleep(1300 * 1000);
    CHECK(copilot_pool_start_reaper(p, 0.2, "{\"maxIdle\":1}", on_sweep, &ps, &r) == COPILOT_OK && r, "start");
    CHECK(sweeps_contain(&ps, swept_id, 20), "the pool reaper did not delete %s: %s", swept_id, ps.deleted);
    CHECK(copilot_reaper_stop(r) == COPILOT_OK, "stop");
    CHECK(copilot_reaper_stop(r) == COPILOT_OK, "stop twice");
    pthread_mutex_lock(&ps.m);
    int after_stop = ps.sweeps;
    CHECK(!strstr(ps.deleted, kept_id) && ps.errors == 0 && strstr(ps.deleted, "{\"deleted\":["), "%s", ps.deleted);
    pthread_mutex_unlock(&ps.m);
    usleep(600 * 1000);
    CHECK(ps.sweeps == after_stop, "a sweep after stop: %d then %d", after_stop, ps.sweeps);
    copilot_reaper_free(r);
    r = NULL;
    if (kept) ask_reply(kept, "still here");
    disconnect_free(kept);
    kept = NULL;

    /* The client's background reaper: sweeps announced as reaper.swept lifecycle events. */
    {
        char *cfg = session_config(client_id);
        CopilotSession *cs = NULL;
        Waiter w;
        RUN(&w, copilot_client_create_session(c, cfg, NULL, NULL, NULL, on_done, &w, &cs, NULL));
        CHECK(w.status == COPILOT_OK, "%s", w.json);
        waiter_destroy(&w);
        free(cfg);
        if (cs) ask_reply(cs, "client");
        disconnect_free(cs);
    }
    CHECK(copilot_client_start_reaper(c, 0.2, "{\"maxAge\":0.001}", &r) == COPILOT_OK && r, "client reaper");
    CHECK(sweeps_contain(&life, client_id, 20), "the client reaper did not announce %s: %s", client_id,
          life.deleted);
    copilot_reaper_free(r);
    r = NULL;

    /* A reaper left running is stopped when its owner is freed. */
    CHECK(copilot_pool_start_reaper(p, 0.2, "{\"maxAge\":3600}", on_sweep, &ps, &orphan) == COPILOT_OK, "orphan");
    usleep(300 * 1000);
    pool_stop_free(p);
    p = NULL;
    pthread_mutex_lock(&ps.m);
    after_stop = ps.sweeps;
    pthread_mutex_unlock(&ps.m);
    usleep(600 * 1000);
    CHECK(ps.sweeps == after_stop, "a sweep after the pool was freed");
    CHECK(copilot_reaper_stop(orphan) == COPILOT_OK, "stop after the pool was freed");
out:
    copilot_reaper_free(orphan);
    copilot_reaper_free(r);
    disconnect_free(kept);
    copilot_session_free(open);
    if (p) pool_stop_free(p);
    if (c) free_and_stop(c);
    pthread_mutex_destroy(&life.m);
    pthread_mutex_destroy(&ps.m);
    free(old_id);
    free(open_id);
    free(swept_id);
    free(pool_id);
    free(kept_id);
    free(client_id);
}

static void test_client_metrics(void) {
    char *co = fmt("{\"cliUrl\":\"127.0.0.1:%d\"}", g_cli_procs[1].port);
    CopilotClient *c = NULL;
    CHECK(copilot_client_new(co, NULL, NULL, &c) == COPILOT_OK, "client");
    free(co);
    if (!c) return;
    char *json = NULL;
    CHECK(simple_call(copilot_client_start, c, &json) == COPILOT_OK, "start: %s", json);
    free(json);
    CopilotSession *s = NULL;
    char *id = fmt("c-client-metrics-%d", (int)getpid());
    char *cfg = session_config(id);
    Waiter w;
    RUN(&w, copilot_client_create_session(c, cfg, NULL, NULL, NULL, on_done, &w, &s, NULL));
    CHECK(w.status == COPILOT_OK, "%s", w.json);
    waiter_destroy(&w);
    free(cfg);
    if (s) {
        ask_reply(s, "counted");
        CHECK(copilot_session_lease_token(s) == 0, "client sessions have no lease");
        CHECK(copilot_session_server(s) == NULL, "client sessions have no pool server");
        char *info = copilot_session_info(s);
        CHECK(strstr(info, "\"server\":null") && strstr(info, "\"leaseToken\":null"), "%s", info);
        copilot_string_free(info);
    }
    char *m = copilot_client_metrics(c);
    CHECK(m && number_field(m, "calls") >= 2 && number_field(m, "openSessions") == 1 &&
              number_field(m, "le\":\"+Inf\"}],\"count") == 1,
          "%s", m);
    copilot_string_free(m);
    char *text = copilot_client_metrics_prometheus(c);
    char *needle = fmt("copilot_calls_total{server=\"127.0.0.1:%d\"}", g_cli_procs[1].port);
    CHECK(text && strstr(text, needle), "%s", text);
    free(needle);
    copilot_string_free(text);
    disconnect_free(s);
    RUN(&w, copilot_client_delete_session(c, id, on_done, &w, NULL));
    CHECK(w.status == COPILOT_OK, "delete: %s", w.json);
    waiter_destroy(&w);
    free(id);
    free_and_stop(c);
}

typedef struct {
    pthread_mutex_t m;
    int records;
    int min_level, max_level;
    char last[1024];
    int drain_seen;
} Logs;

static void on_log(void *ud, int32_t level, const char *target, const char *message) {
    Logs *l = ud;
    pthread_mutex_lock(&l->m);
    l->records++;
    if (level < l->min_level) l->min_level = level;
    if (level > l->max_level) l->max_level = level;
    snprintf(l->last, sizeof l->last, "%d %s %s", level, target, message);
    if (strstr(message, "draining") && strstr(message, "server=") && strncmp(target, "copilot_core", 12) == 0)
        l->drain_seen++;
    pthread_mutex_unlock(&l->m);
}

static void test_log_forwarding(void) {
    Logs l;
    memset(&l, 0, sizeof l);
    l.min_level = 99;
    pthread_mutex_init(&l.m, NULL);
    CHECK(copilot_set_log_callback(7, on_log, &l) == COPILOT_ERR_INVALID_ARGUMENT, "level 7");
    CHECK(copilot_set_log_callback(-1, on_log, &l) == COPILOT_ERR_INVALID_ARGUMENT, "level -1");
    CHECK(copilot_set_log_callback(COPILOT_LOG_INFO, on_log, &l) == COPILOT_OK, "set");
    char *o = fmt("{\"urls\":[\"127.0.0.1:%d\"]}", g_cli_procs[0].port);
    CopilotPool *p = pool_new(o);
    free(o);
    if (p) {
        char *u = url_of(g_cli_procs[0].port);
        CHECK(copilot_pool_drain(p, u) == COPILOT_OK, "drain");
        double t = now_seconds();
        int seen = 0;
        while (!seen && now_seconds() - t < 10) {
            pthread_mutex_lock(&l.m);
            seen = l.drain_seen;
            pthread_mutex_unlock(&l.m);
            if (!seen) usleep(10 * 1000);
        }
        CHECK(seen == 1, "no drain record: %s", l.last);
        CHECK(l.max_level <= COPILOT_LOG_INFO && l.min_level >= COPILOT_LOG_ERROR, "levels %d..%d", l.min_level,
              l.max_level);
        /* Off: nothing more arrives once the call returned. */
        CHECK(copilot_set_log_callback(COPILOT_LOG_OFF, NULL, NULL) == COPILOT_OK, "off");
        pthread_mutex_lock(&l.m);
        int before = l.records;
        pthread_mutex_unlock(&l.m);
        CHECK(copilot_pool_undrain(p, u) == COPILOT_OK && copilot_pool_drain(p, u) == COPILOT_OK, "drain again");
        usleep(200 * 1000);
        CHECK(l.records == before, "records after off: %d then %d (%s)", before, l.records, l.last);
        free(u);
        copilot_pool_free(p);
    }
    /* Shutdown ends forwarding too. */
    CHECK(copilot_set_log_callback(COPILOT_LOG_DEBUG, on_log, &l) == COPILOT_OK, "set debug");
    CHECK(copilot_shutdown() == COPILOT_OK, "shutdown");
    pthread_mutex_lock(&l.m);
    int before = l.records;
    pthread_mutex_unlock(&l.m);
    o = fmt("{\"urls\":[\"127.0.0.1:%d\"]}", g_cli_procs[0].port);
    p = pool_new(o);
    free(o);
    if (p) {
        char *u = url_of(g_cli_procs[0].port);
        CHECK(copilot_pool_drain(p, u) == COPILOT_OK, "drain");
        free(u);
        copilot_pool_free(p);
    }
    usleep(200 * 1000);
    CHECK(l.records == before, "records after shutdown");
    CHECK(copilot_set_log_callback(COPILOT_LOG_OFF, NULL, NULL) == COPILOT_OK, "off");
    pthread_mutex_destroy(&l.m);
}

/* ------------------------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    void (*fn)(void);
} Test;

int main(void) {
    harness_setup("c-pool");
    g_t0 = now_seconds();
    int up = redis_start();
    for (int i = 0; i < 3; i++) up = up && cli_start(&g_cli_procs[i], 0);
    Test tests[] = {
        {"options_and_typed_errors", test_options_and_typed_errors},
        {"placement_resume_failover_drain_and_metrics", test_placement_resume_failover_drain_and_metrics},
        {"leases", test_leases},
        {"reaper", test_reaper},
        {"client_metrics", test_client_metrics},
        {"log_forwarding", test_log_forwarding},
    };
    int n = (int)(sizeof tests / sizeof tests[0]), passed = 0, failed = 0;
    for (int i = 0; up && i < n; i++) {
        g_test = tests[i].name;
        g_failures_in_test = 0;
        double t = now_seconds();
        tests[i].fn();
        if (g_failures_in_test == 0) {
            passed++;
            printf("ok   %s (%.1f s)\n", g_test, now_seconds() - t);
        } else {
            failed++;
            printf("FAIL %s (%d checks)\n", g_test, g_failures_in_test);
        }
    }
    if (!up) {
        fprintf(stderr, "the servers did not start\n");
        failed = n;
    }
    for (int i = 0; i < 3; i++) proc_kill(&g_cli_procs[i]);
    proc_kill(&g_redis);
    harness_teardown();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed == n ? 0 : 1;
}
