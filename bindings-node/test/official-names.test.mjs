// Today's official SDK names beside the guide's (issue 12): RuntimeConnection and the
// `connection` option, getSessionMetadata, getEvents, onLifecycle, gitHubToken. Real CLI + fake
// model, as the rest of the suite.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { CopilotClient, CopilotError, ErrorCodes, RuntimeConnection } from '@copilot-hub/node';
import { cliEnv, cliPath, sandbox, sharedCli, startFakeModel, stopSharedCli } from './helpers.mjs';

after(() => stopSharedCli());

/** Resolves with the first lifecycle event `pred` accepts, or rejects after 10 s (the timer holds Node open). */
function nextLifecycle(subscribe, pred, what) {
  let timer;
  let off;
  return new Promise((resolve, reject) => {
    off = subscribe((ev) => {
      if (pred(ev)) resolve(ev);
    });
    timer = setTimeout(() => reject(new Error(`no ${what} within 10 s`)), 10000);
  }).finally(() => {
    clearTimeout(timer);
    off?.();
  });
}

test('RuntimeConnection factories produce the connection option', () => {
  assert.deepEqual(RuntimeConnection.forStdio(), { kind: 'stdio' });
  assert.deepEqual(RuntimeConnection.forStdio({ path: '/bin/copilot', args: ['--x'] }), { kind: 'stdio', path: '/bin/copilot', args: ['--x'] });
  assert.deepEqual(RuntimeConnection.forTcp({ port: 0, connectionToken: 't' }), { kind: 'tcp', port: 0, connectionToken: 't' });
  assert.deepEqual(RuntimeConnection.forUri('127.0.0.1:1', { connectionToken: 't' }), { kind: 'uri', url: '127.0.0.1:1', connectionToken: 't' });
  assert.deepEqual(RuntimeConnection.forUri('http://h:2'), { kind: 'uri', url: 'http://h:2' });
  assert.throws(() => RuntimeConnection.forUri(''), (e) => e instanceof CopilotError && e.code === ErrorCodes.INVALID_CONFIG);
});

test('connection cannot be combined with cliUrl & co: a typed invalid_config error', async () => {
  const s = await sharedCli();
  const conn = RuntimeConnection.forUri(s.url, { connectionToken: s.token });
  for (const extra of [{ cliUrl: s.url }, { connectionToken: s.token }, { cliPath: cliPath() }, { useStdio: true }, { port: 1 }]) {
    assert.throws(
      () => new CopilotClient({ connection: conn, ...extra }),
      (e) => e instanceof CopilotError && e.code === 'invalid_config' && /connection/.test(e.message),
      JSON.stringify(extra),
    );
  }
  // An unknown kind or field is refused as well.
  assert.throws(() => new CopilotClient({ connection: { kind: 'pipe' } }), (e) => e.code === 'invalid_config');
  assert.throws(() => new CopilotClient({ onLifecycle: 'nope' }), (e) => e.code === 'invalid_config');
});

test('forUri with the connection token: a turn, getEvents, getSessionMetadata, onLifecycle', async () => {
  const s = await sharedCli();
  const model = await startFakeModel();
  const optionEvents = [];
  const client = new CopilotClient({
    connection: RuntimeConnection.forUri(s.url, { connectionToken: s.token }),
    onLifecycle: (ev) => optionEvents.push(ev),
  });
  try {
    await client.start();
    assert.equal(client.port, s.port);
    const id = `official-names-${process.pid}`;
    const created = nextLifecycle((fn) => client.onLifecycle('session.created', fn), (ev) => ev.sessionId === id, 'session.created via onLifecycle(type, fn)');
    const createdAny = nextLifecycle((fn) => client.onLifecycle(fn), (ev) => ev.type === 'session.created' && ev.sessionId === id, 'session.created via onLifecycle(fn)');
    // An unsubscribed listener hears nothing.
    const afterOff = [];
    const offEarly = client.onLifecycle((ev) => afterOff.push(ev));
    offEarly();
    const before = Date.now();
    const session = await client.createSession({ sessionId: id, model: 'gpt-4.1', provider: model.provider });
    const answer = await session.sendAndWait({ prompt: 'REPLY official names' }, 60000);
    assert.equal(answer?.data.content, 'official names');
    assert.equal((await created).type, 'session.created');
    await createdAny;
    // The option's listener is the same subscription kind: it saw the creation too.
    assert.ok(optionEvents.some((ev) => ev.type === 'session.created' && ev.sessionId === id), JSON.stringify(optionEvents));
    assert.deepEqual(afterOff, []);

    const events = await session.getEvents();
    const messages = await session.getMessages();
    assert.ok(events.length > 0);
    assert.deepEqual(events, messages);
    assert.ok(events.some((e) => e.type === 'assistant.message' && e.data.content === 'official names'));

    const meta = await client.getSessionMetadata(id);
    assert.ok(meta, 'metadata of a session that had a turn');
    assert.equal(meta.sessionId, id);
    for (const k of ['startTime', 'modifiedTime', 'createdAt']) {
      assert.ok(meta[k] instanceof Date && !Number.isNaN(meta[k].getTime()), `${k}: ${meta[k]}`);
    }
    assert.equal(meta.createdAt.getTime(), meta.startTime.getTime());
    assert.ok(meta.startTime.getTime() >= before - 60000 && meta.startTime.getTime() <= Date.now() + 60000, String(meta.startTime));
    assert.ok(meta.modifiedTime.getTime() >= meta.startTime.getTime());
    assert.equal(typeof meta.isRemote, 'boolean');
    // The same entry as listSessions gives.
    const listed = (await client.listSessions()).find((m) => m.sessionId === id);
    assert.deepEqual(meta, listed);

    assert.equal(await client.getSessionMetadata(`no-such-session-${process.pid}`), undefined);
    await assert.rejects(client.getSessionMetadata(''), (e) => e.code === 'invalid_config');
    await session.disconnect();
    await client.deleteSession(id);
    assert.equal(await client.getSessionMetadata(id), undefined);
  } finally {
    await client.stop();
    model.close();
  }
});

test('forUri with a wrong or missing token is refused', async () => {
  const s = await sharedCli();
  for (const conn of [RuntimeConnection.forUri(s.url, { connectionToken: 'wrong-token' }), RuntimeConnection.forUri(s.url)]) {
    const c = new CopilotClient({ connection: conn });
    const e = await c.start().then(() => null, (x) => x);
    assert.ok(e instanceof CopilotError, String(e));
    assert.equal(e.code, 'authentication', e.message);
    await c.stop();
  }
});

test('forTcp spawns a CLI that forUri reaches with its token', async () => {
  const token = 'official-tcp-token';
  const owner = new CopilotClient({
    connection: RuntimeConnection.forTcp({ connectionToken: token, path: cliPath() }),
    env: cliEnv(),
    cwd: sandbox().work,
    useLoggedInUser: false,
  });
  try {
    await owner.start();
    assert.ok(owner.port > 0 && owner.cliPid > 0);
    const c = new CopilotClient({ connection: RuntimeConnection.forUri(`127.0.0.1:${owner.port}`, { connectionToken: token }) });
    assert.match((await c.ping('tcp')).message, /pong: tcp/);
    await c.stop();
    const bad = new CopilotClient({ connection: RuntimeConnection.forUri(`127.0.0.1:${owner.port}`, { connectionToken: 'other' }) });
    assert.equal((await bad.start().then(() => null, (x) => x))?.code, 'authentication');
    await bad.stop();
  } finally {
    await owner.stop();
  }
});

test('forStdio spawns the CLI at path', async () => {
  const c = new CopilotClient({ connection: RuntimeConnection.forStdio({ path: cliPath() }), env: cliEnv(), cwd: sandbox().work, useLoggedInUser: false });
  try {
    await c.start();
    assert.ok(c.cliPid > 0);
    assert.equal(c.port, undefined);
    assert.equal((await c.ping('stdio')).message, 'pong: stdio');
  } finally {
    await c.stop();
  }
});

test('gitHubToken spelling on the client and the session reaches the CLI', async () => {
  // Offline the CLI cannot validate a token: session.create fails with its validation error,
  // which proves the token was sent (as in the per-user token sample).
  const s = await sharedCli();
  const conn = RuntimeConnection.forUri(s.url, { connectionToken: s.token });
  const plain = new CopilotClient({ connection: conn });
  const viaClient = new CopilotClient({ connection: conn, gitHubToken: 'gho_official_client' });
  try {
    for (const [c, cfg] of [
      [plain, { gitHubToken: 'gho_official_session' }],
      [viaClient, {}],
    ]) {
      const e = await c.createSession({ model: 'gpt-4.1', ...cfg }).then(() => null, (x) => x);
      assert.ok(e instanceof CopilotError, 'session.create with a token must fail offline');
      assert.equal(e.code, 'rpc_error', e.message);
      assert.match(e.message, /GitHub token validation failed/);
    }
    // Both spellings at once are refused.
    assert.throws(() => new CopilotClient({ connection: conn, gitHubToken: 'a', githubToken: 'b' }), (e) => e.code === 'invalid_config');
    await assert.rejects(plain.createSession({ gitHubToken: 'a', githubToken: 'b' }), (e) => e.code === 'invalid_config');
  } finally {
    await plain.stop();
    await viaClient.stop();
  }
});
