/*
 * What the C tests of libcopilot share: check macros, a completion waiter, the fake model and a
 * CLI spawned for the run (isolated HOME and working directory, TCP, connection token).
 * Environment: COPILOT_CLI_PATH (the CLI), FAKE_MODEL_BIN (the fake model server).
 * Header-only (static functions): each test program includes it once.
 */
#ifndef COPILOT_TEST_HARNESS_H
#define COPILOT_TEST_HARNESS_H

#define _GNU_SOURCE
#include "copilot.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* Test bookkeeping */

static int g_failures_in_test;
static const char *g_test;

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "FAIL %s:%d [%s] %s: ", __FILE__, __LINE__, g_test, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fprintf(stderr, "\n");                                                            \
            g_failures_in_test++;                                                             \
        }                                                                                     \
    } while (0)

#define REQUIRE(cond, ...)                                                                    \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            CHECK(cond, __VA_ARGS__);                                                         \
            return;                                                                           \
        }                                                                                     \
    } while (0)

#define HANG_SECONDS 180

static inline char *xstrdup(const char *s) {
    char *d = strdup(s ? s : "");
    if (!d) abort();
    return d;
}

static inline char *fmt(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    char *out = NULL;
    if (vasprintf(&out, f, ap) < 0) abort();
    va_end(ap);
    return out;
}

/* Appends a JSON string literal of s to a malloc'd buffer. */
static inline char *json_str(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(n * 6 + 3), *p = out;
    if (!out) abort();
    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { *p++ = '\\'; *p++ = (char)c; }
        else if (c < 0x20) { p += sprintf(p, "\\u%04x", c); }
        else *p++ = (char)c;
    }
    *p++ = '"';
    *p = 0;
    return out;
}

static inline void deadline_in(struct timespec *ts, int seconds) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += seconds;
}

static inline char *last_error_message(void) {
    char *m = copilot_last_error_message();
    char *copy = xstrdup(m);
    copilot_string_free(m);
    return copy;
}

/* ------------------------------------------------------------------------------------------ */
/* Completion waiter: one per asynchronous call */

typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int calls; /* how many times the callback ran: must end at exactly 1 */
    CopilotStatus status;
    char *json;
    void (*then)(void *arg, CopilotStatus status); /* optional extra work inside the callback */
    void *then_arg;
} Waiter;

static inline void waiter_init(Waiter *w) {
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->m, NULL);
    pthread_cond_init(&w->c, NULL);
}

static inline void waiter_destroy(Waiter *w) {
    free(w->json);
    pthread_mutex_destroy(&w->m);
    pthread_cond_destroy(&w->c);
}

static inline void on_done(void *ud, CopilotStatus status, const char *json) {
    Waiter *w = ud;
    if (w->then) w->then(w->then_arg, status);
    pthread_mutex_lock(&w->m);
    w->calls++;
    w->status = status;
    free(w->json);
    w->json = xstrdup(json);
    pthread_cond_broadcast(&w->c);
    pthread_mutex_unlock(&w->m);
}

/* Waits for the completion; returns 0 on a hang. */
static inline int waiter_wait(Waiter *w) {
    struct timespec ts;
    deadline_in(&ts, HANG_SECONDS);
    pthread_mutex_lock(&w->m);
    int rc = 0;
    while (w->calls == 0 && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&w->c, &w->m, &ts);
    int ok = w->calls > 0;
    pthread_mutex_unlock(&w->m);
    return ok;
}

/* Runs an async call to completion; the result lands in *w. Returns the immediate status. */
#define RUN(w, call)                                                                          \
    ({                                                                                        \
        waiter_init(w);                                                                       \
        CopilotStatus st__ = (call);                                                          \
        if (st__ == COPILOT_OK && !waiter_wait(w)) {                                          \
            fprintf(stderr, "HANG waiting for %s\n", #call);                                  \
            exit(3);                                                                          \
        }                                                                                     \
        st__;                                                                                 \
    })


/* ------------------------------------------------------------------------------------------ */
/* Environment: the fake model, the shared CLI */

static pid_t g_model_pid;
static int g_model_stdin = -1;
static char g_model_url[256];
static char g_home[256], g_work[256];
static const char *g_cli;
static int g_port;
static CopilotClient *g_owner;
static const char *TOKEN = "c-abi-test-token";

static inline void start_fake_model(void) {
    const char *bin = getenv("FAKE_MODEL_BIN");
    if (!bin || !*bin) {
        fprintf(stderr, "FAKE_MODEL_BIN is not set\n");
        exit(2);
    }
    int in[2], out[2];
    if (pipe(in) || pipe(out)) abort();
    g_model_pid = fork();
    if (g_model_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(bin, bin, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    g_model_stdin = in[1]; /* kept open: the model serves until its stdin closes */
    char line[512];
    size_t n = 0;
    char c;
    while (n + 1 < sizeof line && read(out[0], &c, 1) == 1 && c != '\n') line[n++] = c;
    line[n] = 0;
    close(out[0]);
    const char *p = strstr(line, "http://");
    if (!p) {
        fprintf(stderr, "fake model said: %s\n", line);
        exit(2);
    }
    snprintf(g_model_url, sizeof g_model_url, "%s", p);
}

static inline void stop_fake_model(void) {
    close(g_model_stdin);
    int status;
    waitpid(g_model_pid, &status, 0);
}

/* Options for a CLI this test spawns: isolated HOME and working directory. */
static inline char *own_cli_options(int tcp) {
    char *cli = json_str(g_cli), *home = json_str(g_home), *work = json_str(g_work);
    char *path = json_str(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    char *o = fmt("{\"useStdio\":%s,%s\"cliPath\":%s,\"env\":{\"HOME\":%s,\"PATH\":%s},\"cwd\":%s,"
                  "\"connectionToken\":\"%s\",\"useLoggedInUser\":false}",
                  tcp ? "false" : "true", tcp ? "\"port\":0," : "", cli, home, path, work, TOKEN);
    free(cli);
    free(home);
    free(work);
    free(path);
    return o;
}

static inline CopilotClient *connect_shared(void) {
    char *o = fmt("{\"cliUrl\":\"127.0.0.1:%d\",\"connectionToken\":\"%s\"}", g_port, TOKEN);
    CopilotClient *c = NULL;
    CopilotStatus st = copilot_client_new(o, NULL, NULL, &c);
    free(o);
    if (st != COPILOT_OK) {
        fprintf(stderr, "client_new failed: %d\n", st);
        exit(2);
    }
    Waiter w;
    st = RUN(&w, copilot_client_start(c, on_done, &w, NULL));
    if (st != COPILOT_OK || w.status != COPILOT_OK) {
        fprintf(stderr, "connect failed: %d %s\n", w.status, w.json);
        exit(2);
    }
    waiter_destroy(&w);
    return c;
}


static inline CopilotStatus simple_call(CopilotStatus (*f)(const CopilotClient *, CopilotCallback, void *, uint64_t *),
                                 const CopilotClient *c, char **json) {
    Waiter w;
    CopilotStatus st = RUN(&w, f(c, on_done, &w, NULL));
    if (st != COPILOT_OK) {
        *json = last_error_message();
        return st;
    }
    *json = xstrdup(w.json);
    st = w.status;
    waiter_destroy(&w);
    return st;
}

static inline void free_and_stop(CopilotClient *c) {
    Waiter w;
    RUN(&w, copilot_client_stop(c, on_done, &w, NULL));
    waiter_destroy(&w);
    copilot_client_free(c);
}

/* Starts the run's CLI (TCP, owned by g_owner); 0 on failure. */
static inline int start_owner(void) {
    char *o = own_cli_options(1);
    CopilotStatus st = copilot_client_new(o, NULL, NULL, &g_owner);
    free(o);
    if (st != COPILOT_OK) return 0;
    char *json = NULL;
    st = simple_call(copilot_client_start, g_owner, &json);
    if (st != COPILOT_OK) fprintf(stderr, "starting the CLI failed: %d %s\n", st, json);
    free(json);
    char *info = copilot_client_info(g_owner);
    const char *p = strstr(info, "\"port\":");
    g_port = p ? atoi(p + 7) : 0;
    copilot_string_free(info);
    return st == COPILOT_OK && g_port > 0;
}

/* Checks the environment, makes the run's directories and starts the fake model. */
static inline void harness_setup(const char *name) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_cli = getenv("COPILOT_CLI_PATH");
    if (!g_cli || !*g_cli) {
        fprintf(stderr, "COPILOT_CLI_PATH is not set\n");
        exit(2);
    }
    snprintf(g_home, sizeof g_home, "/tmp/copilot-%s-%d-home", name, (int)getpid());
    snprintf(g_work, sizeof g_work, "/tmp/copilot-%s-%d-work", name, (int)getpid());
    mkdir(g_home, 0700);
    mkdir(g_work, 0700);
    start_fake_model();
}

/* Stops the run's CLI and the fake model, ends the dispatcher thread, removes the directories. */
static inline void harness_teardown(void) {
    char *json = NULL;
    if (g_owner) {
        simple_call(copilot_client_stop, g_owner, &json);
        free(json);
        copilot_client_free(g_owner);
        g_owner = NULL;
    }
    copilot_shutdown();
    stop_fake_model();
    char *cmd = fmt("rm -rf '%s' '%s'", g_home, g_work);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    free(cmd);
}

/* ------------------------------------------------------------------------------------------ */
/* copilot-chaos (tests/chaos): a fault-injecting proxy or a hostile peer, driven over its stdin */

typedef struct {
    pid_t pid;
    int in;    /* its stdin: one command per line; closing it ends the process */
    FILE *out; /* its stdout: "listening on port N", then one answer per command */
    int port;
} Chaos;

static inline double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Starts `copilot-chaos <args...>` (NULL-terminated); 0 when it cannot (the binary is
 * COPILOT_CHAOS_PATH, else target/debug/copilot-chaos under the working directory). */
static inline int chaos_start(Chaos *c, const char *const *args) {
    const char *bin = getenv("COPILOT_CHAOS_PATH");
    if (!bin || !*bin) bin = "target/debug/copilot-chaos";
    const char *argv[16] = {bin};
    int n = 1;
    for (; args[n - 1] && n < 15; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    int in[2], out[2];
    if (pipe(in) || pipe(out)) abort();
    memset(c, 0, sizeof *c);
    c->pid = fork();
    if (c->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->in = in[1];
    c->out = fdopen(out[0], "r");
    char line[256];
    if (!c->out || !fgets(line, sizeof line, c->out) || sscanf(line, "listening on port %d", &c->port) != 1) {
        fprintf(stderr, "copilot-chaos (%s) did not start\n", bin);
        return 0;
    }
    return 1;
}

/* Sends one command; 1 when it answered "ok <command>". */
static inline int chaos_cmd(Chaos *c, const char *cmd) {
    char line[256];
    if (dprintf(c->in, "%s\n", cmd) < 0 || !fgets(line, sizeof line, c->out)) return 0;
    return strncmp(line, "ok ", 3) == 0 && strncmp(line + 3, cmd, strlen(cmd)) == 0;
}

/* Ends it (EOF on its stdin) and reaps it. */
static inline void chaos_stop(Chaos *c) {
    if (c->in > 0) close(c->in);
    if (c->out) fclose(c->out);
    if (c->pid > 0) {
        int status;
        waitpid(c->pid, &status, 0);
    }
    memset(c, 0, sizeof *c);
}

#endif
