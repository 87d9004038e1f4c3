// The backend-services samples (examples/node, copied into the scratch project as examples/),
// type-checked with tsc and run as written against a CLI started the guide's way:
// `copilot --headless --port N`, no connection token. Offline there is no GitHub Copilot, and
// the CLI's BYOK environment (COPILOT_PROVIDER_*) does not apply to SDK sessions (checked with
// 1.0.102: "No GitHub OAuth token"), so test/sample-preload.mjs gives sessions that name no
// provider the fake model as their BYOK provider; the sample code itself is unchanged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CopilotClient } from '@copilot-hub/node';
import { cliEnv, cliPath, pidAlive, runNode, startFakeModel, tempDir, waitDead } from './helpers.mjs';

const EXAMPLES = resolve('examples');
const DIST = join(EXAMPLES, 'dist');
const TSC = resolve('node_modules/typescript/bin/tsc');

let model;
let server;
let cliUrl;

function tsc(args) {
  const r = spawnSync(process.execPath, [TSC, ...args], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

before(async () => {
  model = await startFakeModel();
  const base = tempDir('copilot-samples-');
  const home = join(base, 'home');
  const work = join(base, 'work');
  mkdirSync(home);
  mkdirSync(work);
  const env = cliEnv({ HOME: home });
  server = spawn(cliPath(), ['--headless', '--port', '0', '--no-auto-update'], { cwd: work, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const port = await new Promise((res, rej) => {
    let buf = '';
    const t = setTimeout(() => rej(new Error(`the CLI server did not announce a port: ${buf}`)), 30000);
    server.stderr.on('data', (d) => (buf += d));
    server.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/listening on port (\d+)/i);
      if (m) {
        clearTimeout(t);
        res(Number(m[1]));
      }
    });
    server.once('exit', (c) => rej(new Error(`the CLI server exited (${c}): ${buf}`)));
  });
  cliUrl = `localhost:${port}`;
  // Compile the samples (tsc also type-checks them; the --noEmit check is its own test).
  const r = tsc(['-p', EXAMPLES]);
  assert.equal(r.code, 0, r.out);
});

after(async () => {
  if (server) {
    server.kill();
    await waitDead(server.pid);
  }
  model?.close();
});

const PRELOAD = resolve('test/sample-preload.mjs');
const sampleEnv = (extra = {}) => ({ ...process.env, CLI_URL: cliUrl, SAMPLE_PROVIDER: JSON.stringify(model.provider), ...extra });
const sample = (file, ...args) => ['--import', PRELOAD, join(DIST, file), ...args];

/** Starts an HTTP sample; resolves {port, child}. */
async function startServer(file, extra = {}, { preload = true } = {}) {
  const child = spawn(process.execPath, preload ? sample(file) : [join(DIST, file)], { env: sampleEnv({ PORT: '0', ...extra }), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const port = await new Promise((res, rej) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/listening on (\d+)/);
      if (m) res(Number(m[1]));
    });
    child.once('exit', (c) => rej(new Error(`${file} exited (${c}): ${err}`)));
  });
  return { port, child, stderr: () => err };
}

async function post(port, path, body, headers = {}) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

async function stopServer(s) {
  s.child.kill('SIGTERM');
  await new Promise((r) => (s.child.exitCode !== null ? r() : s.child.once('exit', r)));
}

test('tsc --noEmit passes on the TypeScript samples and the type tests', () => {
  let r = tsc(['--noEmit', '-p', EXAMPLES]);
  assert.equal(r.code, 0, r.out);
  // The samples only use syntax that type stripping erases (the deploy image runs the pool
  // example with `node --experimental-strip-types`).
  r = tsc(['--noEmit', '-p', EXAMPLES, '--erasableSyntaxOnly', '--verbatimModuleSyntax']);
  assert.equal(r.code, 0, r.out);
  r = tsc(['--noEmit', '-p', resolve('test/types')]);
  assert.equal(r.code, 0, r.out);
});

test('quickstart: cliUrl, createSession({sessionId, model}), sendAndWait -> data.content', async () => {
  const r = await runNode(sample('quickstart.mjs', 'REPLY quick answer'), { env: sampleEnv({ USER_ID: '7' }) });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { content: 'quick answer' });
});

test('chat endpoint (node:http): create-or-resume keeps one session per sessionId', async () => {
  const srv = await startServer('chat-server.mjs');
  try {
    const id = `chat-${process.pid}`;
    let r = await post(srv.port, '/api/chat', { sessionId: id, message: 'REPLY first answer' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { sessionId: id, content: 'first answer' });
    // Second request: resumed, not created again.
    r = await post(srv.port, '/api/chat', { sessionId: id, message: 'REPLY second answer' });
    assert.deepEqual(r.body, { sessionId: id, content: 'second answer' });
    // Another user, concurrently with a third turn of the first.
    const [a, b] = await Promise.all([
      post(srv.port, '/api/chat', { sessionId: `${id}-b`, message: 'REPLY other user' }),
      post(srv.port, '/api/chat', { sessionId: id, message: 'REPLY third answer' }),
    ]);
    assert.equal(a.body.content, 'other user');
    assert.equal(b.body.content, 'third answer');
    const c = new CopilotClient({ cliUrl });
    const s = await c.resumeSession(id);
    const prompts = (await s.getMessages()).filter((e) => e.type === 'user.message').map((e) => e.data.content);
    assert.deepEqual(prompts, ['REPLY first answer', 'REPLY second answer', 'REPLY third answer']);
    const ids = (await c.listSessions()).map((m) => m.sessionId);
    assert.ok(ids.includes(id) && ids.includes(`${id}-b`));
    await c.stop();
  } finally {
    await stopServer(srv);
  }
});

test('per-user GitHub token: the token reaches the CLI as the session identity', async () => {
  // With cliUrl the server owns its authentication, so the client's githubToken becomes the
  // per-session GitHub identity (session.create gitHubToken). Offline the CLI cannot validate a
  // token: the request fails with the CLI's validation error, which proves the token was sent.
  // No preload: a session may not have both a gitHubToken and a provider, and this turn never
  // reaches a model anyway.
  const srv = await startServer('per-user-token.mjs', {}, { preload: false });
  try {
    const r = await post(srv.port, '/chat', { message: 'REPLY hello alice' }, { 'x-user-id': 'alice', authorization: 'Bearer gho_alice_token' });
    assert.equal(r.status, 500, JSON.stringify(r.body));
    assert.equal(r.body.code, 'rpc_error');
    assert.match(r.body.error, /GitHub token validation failed/);
    // Without a token the same route would create the session: the difference is the token.
    const c = new CopilotClient({ cliUrl });
    const s = await c.createSession({ sessionId: 'user-bob-chat', model: 'gpt-4.1', provider: model.provider });
    assert.equal((await s.sendAndWait('REPLY hello bob')).data.content, 'hello bob');
    await c.stop();
  } finally {
    await stopServer(srv);
  }
});

test('BYOK: a session-level provider', async () => {
  const r = await runNode(sample('byok.mjs', 'REPLY from my own key'), {
    env: sampleEnv({ OPENAI_BASE_URL: model.url, OPENAI_API_KEY: 'sk-test' }),
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { content: 'from my own key' });
});

test('job worker: one session per job, destroyed after; results saved', async () => {
  const jobs = Array.from({ length: 5 }, (_, i) => ({ id: `${process.pid}-${i}`, prompt: `REPLY result ${i}` }));
  const r = await runNode(sample('job-worker.mjs'), { env: sampleEnv({ JOBS: JSON.stringify(jobs), CONCURRENCY: '3' }) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.timedOut, false);
  const results = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(
    results.sort((a, b) => a.jobId.localeCompare(b.jobId)),
    jobs.map((j, i) => ({ jobId: j.id, content: `result ${i}` })),
  );
  // destroy() detaches: the job sessions stay on disk (for audit) and can be resumed.
  const c = new CopilotClient({ cliUrl });
  const ids = (await c.listSessions()).map((m) => m.sessionId);
  for (const j of jobs) assert.ok(ids.includes(`job-${j.id}`), j.id);
  const s = await c.resumeSession(`job-${jobs[0].id}`);
  assert.ok((await s.getMessages()).some((e) => e.type === 'assistant.message' && e.data.content === 'result 0'));
  await c.stop();
});

test('health check: true against the server, false when nothing listens', async () => {
  let r = await runNode(sample('health-check.mjs'), { env: sampleEnv() });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { healthy: true });
  r = await runNode(sample('health-check.mjs'), { env: sampleEnv({ CLI_URL: '127.0.0.1:1' }) });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { healthy: false });
});

test('cleanup by age: keeps sessions younger than maxAge, deletes older ones', async () => {
  const c = new CopilotClient({ cliUrl });
  const s = await c.createSession({ sessionId: `cleanup-${process.pid}`, model: 'gpt-4.1', provider: model.provider });
  await s.sendAndWait({ prompt: 'REPLY keep me' });
  await s.destroy();
  const count = (await c.listSessions()).length;
  assert.ok(count >= 1);
  // A day: every session here is younger, nothing is deleted.
  let r = await runNode(sample('cleanup.mjs', String(24 * 60 * 60 * 1000)), { env: sampleEnv({ CLEANUP_ONCE: '1' }) });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { before: count, after: count });
  // Zero: every session is older than that, all are deleted.
  r = await runNode(sample('cleanup.mjs', '0'), { env: sampleEnv({ CLEANUP_ONCE: '1' }) });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { before: count, after: 0 });
  assert.deepEqual(await c.listSessions(), []);
  await c.stop();
  assert.ok(pidAlive(server.pid), 'samples never stop the external server');
});
