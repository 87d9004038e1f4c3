// Process-level behaviour, each in a fresh Node process: ESM and CommonJS entry points, what
// keeps the event loop alive (only pending Promises and iterators, never an idle client), and
// that no CLI outlives the Node process that spawned it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ownCliOptions, pidAlive, runNode, sharedCli, startFakeModel, stopSharedCli, waitDead } from './helpers.mjs';

after(() => stopSharedCli());

let model;
async function fakeModel() {
  model ??= await startFakeModel();
  return model;
}
after(() => model?.close());

/** Runs an ESM snippet in a new Node process with CFG (client options + provider) in its env. */
async function runScript(body, { transport = {}, ms = 60000, onStdout } = {}) {
  const m = await fakeModel();
  const cfg = { client: ownCliOptions(transport), provider: m.provider };
  const code = `
    import { CopilotClient } from '@copilot-hub/node';
    const CFG = JSON.parse(process.env.CFG);
    ${body}
  `;
  return runNode(['--input-type=module', '-e', code], { env: { ...process.env, CFG: JSON.stringify(cfg) }, ms, onStdout });
}

function pidFrom(stdout) {
  const m = stdout.match(/CLI_PID=(\d+)/);
  assert.ok(m, `no CLI_PID in ${JSON.stringify(stdout)}`);
  return Number(m[1]);
}

test('ESM import and CommonJS require expose the same API', async () => {
  const esm = await runNode([
    '--input-type=module',
    '-e',
    `import * as m from '@copilot-hub/node'; import d from '@copilot-hub/node';
     import { createRequire } from 'node:module';
     const c = createRequire(process.cwd() + '/x.js')('@copilot-hub/node');
     console.log(JSON.stringify({ keys: Object.keys(m).sort(), same: m.CopilotClient === c.CopilotClient && d.CopilotClient === m.CopilotClient,
       err: new m.CopilotError('x', { code: 'timeout' }) instanceof Error, codes: m.ErrorCodes.TIMEOUT }));`,
  ]);
  assert.equal(esm.code, 0, esm.stderr);
  const r = JSON.parse(esm.stdout);
  assert.ok(r.same, 'ESM and CJS share one module instance');
  assert.ok(r.err);
  assert.equal(r.codes, 'timeout');
  for (const k of ['CopilotClient', 'CopilotSession', 'CopilotError', 'ErrorCodes', 'approveAll', 'defineTool']) assert.ok(r.keys.includes(k), k);
  const cjs = await runNode([
    '-e',
    `const { CopilotClient, approveAll } = require('@copilot-hub/node');
     const c = new CopilotClient({ cliUrl: '127.0.0.1:1', autoStart: false });
     console.log(typeof CopilotClient, approveAll().kind, c.getState());`,
  ]);
  assert.equal(cjs.code, 0, cjs.stderr);
  assert.equal(cjs.stdout.trim(), 'function approve-once disconnected');
});

test('a script that calls stop() exits by itself and its CLI is gone', async () => {
  const r = await runScript(`
    const client = new CopilotClient(CFG.client);
    const session = await client.createSession({ model: 'gpt-4.1', provider: CFG.provider });
    session.on(() => {});
    const a = await session.sendAndWait({ prompt: 'REPLY bye' });
    console.log('CLI_PID=' + client.cliPid, a.data.content);
    const errors = await client.stop();
    console.log('stopped', errors.length);
  `);
  assert.equal(r.timedOut, false, 'the process did not exit by itself after stop()');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /bye\nstopped 0/);
  assert.ok(await waitDead(pidFrom(r.stdout)));
});

for (const [name, transport] of [['stdio', {}], ['tcp', { useStdio: false }]]) {
  test(`a script that forgets stop() exits by itself and leaves no CLI behind (${name})`, async () => {
    const r = await runScript(`
      const client = new CopilotClient(CFG.client);
      const session = await client.createSession({ model: 'gpt-4.1', provider: CFG.provider });
      session.on('assistant.message', () => {});
      client.on(() => {});
      const a = await session.sendAndWait({ prompt: 'REPLY forgot' });
      console.log('CLI_PID=' + client.cliPid, a.data.content);
    `, { transport });
    assert.equal(r.timedOut, false, 'an idle client kept the event loop alive');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await waitDead(pidFrom(r.stdout)), 'the CLI outlived its Node process');
  });
}

test('a client connected by URL does not keep Node alive either', async () => {
  const s = await sharedCli();
  const r = await runNode([
    '--input-type=module',
    '-e',
    `import { CopilotClient } from '@copilot-hub/node';
     const c = new CopilotClient({ cliUrl: '${s.url}', connectionToken: '${s.token}' });
     console.log((await c.ping('hi')).message);`,
  ]);
  assert.equal(r.timedOut, false);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'pong: hi');
  assert.ok(pidAlive(s.pid), 'the shared server is not ours to stop');
});

test('a pending sendAndWait and an iterator keep Node alive until they settle', async () => {
  const r = await runScript(`
    const client = new CopilotClient(CFG.client);
    const session = await client.createSession({ model: 'gpt-4.1', provider: CFG.provider });
    // Not awaited: only the pending Promise holds the loop open.
    session.sendAndWait({ prompt: 'SLOW 3 300' }).then((a) => console.log('answer', a.data.content));
    await new Promise((r) => setTimeout(r, 10));
    // A plain send, then an iterator waiting for the next idle.
    const next = session.events('session.idle');
    setTimeout(async () => {
      const ev = await next.next();
      console.log('idle', ev.value.type);
      await next.return();
      await session.send({ prompt: 'SLOW 2 300' });
      for await (const e of session.events('assistant.message')) { console.log('iterated', e.data.content); break; }
      await client.stop();
      console.log('done');
    }, 0);
  `);
  assert.equal(r.timedOut, false);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /answer word0 word1 word2/);
  assert.match(r.stdout, /idle session.idle/);
  assert.match(r.stdout, /iterated word0 word1/);
  assert.match(r.stdout, /done/);
});

test('one tokio runtime: the core\'s copilot-rt threads, no runtime of napi\'s own', async () => {
  const r = await runScript(`
    import { readdirSync, readFileSync } from 'node:fs';
    const client = new CopilotClient(CFG.client);
    const session = await client.createSession({ model: 'gpt-4.1', provider: CFG.provider, streaming: true });
    session.on(() => {});
    await session.sendAndWait({ prompt: 'SLOW 5 0' });
    await session.rpc('session.mode.get', {});
    const names = readdirSync('/proc/self/task').map((t) => readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim());
    console.log(JSON.stringify(names));
    await client.stop();
  `);
  assert.equal(r.code, 0, r.stderr);
  const names = JSON.parse(r.stdout);
  const count = (pred) => names.filter(pred).length;
  // Tokio names every thread of a runtime (workers and its blocking pool) after the builder;
  // a runtime of napi's own would add threads with tokio's default name (`tokio-rt-worker`,
  // `tokio-runtime-worker` in older versions).
  assert.ok(count((n) => n === 'copilot-rt') >= 2, JSON.stringify(names));
  assert.equal(count((n) => n.startsWith('tokio')), 0, JSON.stringify(names));
});

test('a SIGKILLed Node process takes its CLI with it', async () => {
  let pid;
  const r = await runScript(`
    const client = new CopilotClient(CFG.client);
    await client.start();
    console.log('CLI_PID=' + client.cliPid);
    setInterval(() => {}, 1000);
  `, {
    transport: { useStdio: false },
    onStdout: (chunk, child) => {
      const m = chunk.match(/CLI_PID=(\d+)/);
      if (m) {
        pid = Number(m[1]);
        assert.ok(pidAlive(pid));
        child.kill('SIGKILL');
      }
    },
  });
  assert.equal(r.signal, 'SIGKILL');
  assert.ok(pid, r.stderr);
  assert.ok(await waitDead(pid), 'the CLI outlived its SIGKILLed host');
});
