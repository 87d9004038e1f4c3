// Shared harness for the node:test suite: the real Copilot CLI (COPILOT_CLI_PATH) and the fake
// model (FAKE_MODEL_BIN), both on 127.0.0.1, with an isolated HOME and working directory.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CopilotClient, CopilotError } from '@copilot-hub/node';

const tempDirs = [];
/** A temp dir removed when this test process exits. */
export function tempDir(prefix) {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}
process.on('exit', () => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

export function cliPath() {
  const p = process.env.COPILOT_CLI_PATH;
  if (!p) throw new Error('COPILOT_CLI_PATH is not set (bindings-node/test.sh sets it)');
  return p;
}

let sandboxDirs;
/** One isolated HOME and work dir per test process. */
export function sandbox() {
  if (!sandboxDirs) {
    const base = tempDir('copilot-node-tests-');
    sandboxDirs = { base, home: join(base, 'home'), work: join(base, 'work') };
    mkdirSync(sandboxDirs.home);
    mkdirSync(sandboxDirs.work);
  }
  return sandboxDirs;
}

/** The environment of a CLI the tests spawn: inherited minus COPILOT_*, HOME isolated. */
export function cliEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('COPILOT_') && k !== 'HOME' && v !== undefined) env[k] = v;
  env.HOME = sandbox().home;
  return { ...env, ...extra };
}

/** Options for a CLI a test spawns itself through the binding. */
export function ownCliOptions(extra = {}) {
  return { cliPath: cliPath(), env: cliEnv(), cwd: sandbox().work, useLoggedInUser: false, ...extra };
}

/** A fake model server; `provider` is the BYOK provider for sessions. Stop with `close()`. */
export async function startFakeModel() {
  const bin = process.env.FAKE_MODEL_BIN;
  if (!bin) throw new Error('FAKE_MODEL_BIN is not set (bindings-node/test.sh sets it)');
  const log = join(tempDir('copilot-node-fake-model-'), 'requests.jsonl');
  const child = spawn(bin, ['--log', log], { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/listening on (http:\/\/127\.0\.0\.1:\d+\/v1)/);
      if (m) resolve(m[1]);
    });
    child.once('exit', (c) => reject(new Error(`fake-model exited (${c})`)));
  });
  child.unref();
  child.stdout.unref?.();
  return {
    url,
    provider: { type: 'openai', baseUrl: url, apiKey: 'fake-key' },
    /** The chat-completion requests received so far: `{method, path, body, authorization}`. */
    chatRequests() {
      let text = '';
      try {
        text = readFileSync(log, 'utf8');
      } catch {
        return [];
      }
      return text.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.path.endsWith('/chat/completions'));
    },
    close() {
      child.stdin.end();
      child.kill();
    },
  };
}

let shared;
/** One CLI per test file, spawned through the binding as a TCP child with a connection token. */
export async function sharedCli() {
  if (!shared) {
    const token = 'node-suite-token';
    const owner = new CopilotClient(ownCliOptions({ useStdio: false, connectionToken: token }));
    await owner.start();
    shared = { owner, token, port: owner.port, pid: owner.cliPid, url: `127.0.0.1:${owner.port}` };
  }
  return shared;
}

export async function stopSharedCli() {
  if (shared) {
    await shared.owner.stop();
    shared = undefined;
  }
}

/** A client connected to the shared CLI by URL. */
export async function connectShared(extra = {}) {
  const s = await sharedCli();
  const c = new CopilotClient({ cliUrl: s.url, connectionToken: s.token, ...extra });
  await c.start();
  return c;
}

export function pidAlive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(') ') + 2);
    return !rest.startsWith('Z');
  } catch {
    return false;
  }
}

/** Polls until the process is gone; a timeout only detects a hang. */
export async function waitDead(pid, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!pidAlive(pid)) return true;
    await sleep(50);
  }
  return !pidAlive(pid);
}

/** Resolves with the first event matching `pred` (rejects after `ms`: a hang detector). */
export function waitForEvent(session, pred, ms = 60000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('event did not arrive'));
    }, ms);
    const off = session.on((e) => {
      if (pred(e)) {
        clearTimeout(timer);
        off();
        resolve(e);
      }
    });
  });
}

/** Runs a node script; resolves {code, signal, stdout, stderr}. Kills it after `ms` (hang). */
export function runNode(args, { env, cwd, ms = 60000, onStdout } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: env ?? process.env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      onStdout?.(String(d), child);
    });
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, ms);
    child.on('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr, timedOut, pid: child.pid });
    });
  });
}

/** Settles like `p`, or rejects after `ms` (a hang detector). */
export function bounded(p, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** The CopilotError `p` rejects with (fails when it resolves, or hangs past `ms`). */
export async function failure(p, ms, what) {
  const r = await bounded(
    p.then(
      (v) => ({ v }),
      (e) => ({ e }),
    ),
    ms,
    what,
  );
  assert.ok('e' in r, `${what}: expected a failure, got ${JSON.stringify(r.v)}`);
  assert.ok(r.e instanceof CopilotError, `${what}: ${r.e?.stack ?? r.e}`);
  return r.e;
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Reads a child's stdout until it matches `re`; the rest keeps being drained. Rejects if it exits first. */
export function announcement(child, re, what, ms = 30000) {
  return bounded(
    new Promise((resolve, reject) => {
      let buf = '';
      const onData = (d) => {
        buf += d;
        const m = buf.match(re);
        if (m) {
          child.stdout.off('data', onData);
          child.stdout.resume();
          resolve(m);
        }
      };
      child.stdout.on('data', onData);
      child.once('exit', (code, sig) => reject(new Error(`${what} exited (${code ?? sig}) before listening: ${buf}`)));
    }),
    ms,
    what,
  );
}
