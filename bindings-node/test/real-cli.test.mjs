// Behaviours against the real Copilot CLI beyond one session and a few turns (the Node twin of
// core/tests/real_cli.rs), plus what is specific to the Node surface: errors, handlers that
// throw, AbortSignal, iterators, zod tools, concurrency.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import {
  CopilotClient,
  CopilotError,
  ErrorCodes,
  approveAll,
  defineTool,
  PINNED_CLI_VERSION,
} from '@copilot-hub/node';
import {
  connectShared,
  ownCliOptions,
  pidAlive,
  sharedCli,
  startFakeModel,
  stopSharedCli,
  waitDead,
  waitForEvent,
} from './helpers.mjs';

after(() => stopSharedCli());

const cfg = (model, extra = {}) => ({ model: 'gpt-4.1', provider: model.provider, ...extra });

async function withModel(fn) {
  const model = await startFakeModel();
  try {
    return await fn(model);
  } finally {
    model.close();
  }
}

test('client_level_methods', async () => {
  const client = await connectShared();
  assert.equal(client.protocolVersion, 3);
  assert.equal(client.serverVersion, PINNED_CLI_VERSION);
  assert.equal(client.getState(), 'connected');
  const pong = await client.ping('x');
  assert.equal(pong.message, 'pong: x');
  assert.equal(pong.protocolVersion, 3);
  const status = await client.getStatus();
  assert.equal(status.version, PINNED_CLI_VERSION);
  const auth = await client.getAuthStatus();
  assert.equal(auth.isAuthenticated, false);
  // Offline and unauthenticated: a typed RPC error, not a hang.
  const e = await client.listModels().then(() => null, (x) => x);
  assert.ok(e instanceof CopilotError && e instanceof Error);
  assert.equal(e.code, 'rpc_error');
  assert.equal(typeof e.rpcCode, 'number');
  assert.equal(await client.getForegroundSessionId(), undefined);
  await assert.rejects(client.setForegroundSessionId('nope'), CopilotError);
  const tools = await client.rpc('tools.list', {});
  assert.ok(Array.isArray(tools.tools) && tools.tools.length > 0);
  const nf = await client.rpc('no.such.method').then(() => null, (x) => x);
  assert.equal(nf.code, ErrorCodes.RPC_ERROR);
  assert.equal(nf.rpcCode, -32601);
  assert.equal(nf.cause.name, 'JsonRpcError');
  assert.equal(nf.cause.code, -32601);
  assert.deepEqual(await client.stop(), []);
  assert.equal(client.getState(), 'disconnected');
  // Stopped: calls fail at once with a typed error (no silent restart).
  const stopped = await client.ping().then(() => null, (x) => x);
  assert.equal(stopped.code, 'not_connected');
  assert.equal(stopped.isTransportFailure, true);
});

test('ping_before_start', async () => {
  const s = await sharedCli();
  const opts = { cliUrl: s.url, connectionToken: s.token };
  // A never-started client answers ping by starting (the core's rule).
  const c = new CopilotClient(opts);
  assert.equal(c.getState(), 'disconnected');
  assert.equal((await c.ping('first')).message, 'pong: first');
  assert.equal(c.getState(), 'connected');
  // After stop(), calls fail with not_connected until start().
  assert.deepEqual(await c.stop(), []);
  assert.equal(c.getState(), 'disconnected');
  for (const p of [c.ping(), c.createSession({}), c.listSessions()]) {
    assert.equal((await p.then(() => null, (x) => x)).code, 'not_connected');
  }
  await c.start();
  assert.equal((await c.ping('again')).message, 'pong: again');
  await c.stop();
  // autoStart: false: a call before start() fails with not_connected.
  const m = new CopilotClient({ ...opts, autoStart: false });
  assert.equal((await m.ping().then(() => null, (x) => x)).code, 'not_connected');
  assert.equal((await m.createSession({}).then(() => null, (x) => x)).code, 'not_connected');
  assert.equal(m.getState(), 'disconnected');
  await m.start();
  assert.equal((await m.ping('manual')).message, 'pong: manual');
  await m.stop();
});

test('errors: invalid options throw at once; connect failures carry code and cause', async () => {
  assert.throws(() => new CopilotClient({ cliUrl: 4321 }), (e) => e instanceof CopilotError && e.code === 'invalid_config' && /cliUrl/.test(e.message));
  assert.throws(() => new CopilotClient({ colour: 'red' }), (e) => e.code === 'invalid_config' && /colour/.test(e.message));
  assert.throws(() => new CopilotClient({ cliUrl: 'a:1', useStdio: true }), (e) => e.code === 'invalid_config');
  assert.throws(() => new CopilotClient('nope'), (e) => e.code === 'invalid_config');
  const refused = new CopilotClient({ cliUrl: '127.0.0.1:1' });
  const e = await refused.start().then(() => null, (x) => x);
  assert.ok(e instanceof CopilotError);
  assert.equal(e.code, 'connect_failed');
  assert.equal(e.number, 2);
  assert.equal(e.isTransportFailure, true);
  assert.ok(e.cause instanceof Error, 'the OS error is attached as the cause');
  assert.match(e.cause.message, /refused/i);
  assert.ok(e.stack.includes('CopilotError'));
  const missing = new CopilotClient({ cliPath: '/nonexistent/copilot' });
  assert.equal((await missing.start().then(() => null, (x) => x)).code, 'cli_not_found');
  const badUrl = new CopilotClient({ cliUrl: 'localhost:notaport' });
  assert.equal((await badUrl.start().then(() => null, (x) => x)).code, 'invalid_config');
  // Session options are checked too (typed errors name the option).
  const client = await connectShared();
  const bad = await client.createSession({ model: 5 }).then(() => null, (x) => x);
  assert.equal(bad.code, 'invalid_config');
  assert.match(bad.message, /model/);
  await assert.rejects(client.createSession({ tools: [{ name: 't', handler: 'x' }] }), (x) => x.code === 'invalid_config');
  await assert.rejects(client.resumeSession(''), (x) => x.code === 'invalid_config');
  await client.stop();
});

test('stdio_child_lifecycle_and_graceful_stop', async () => {
  await withModel(async (model) => {
    const client = new CopilotClient(ownCliOptions());
    // autoStart: the first call spawns the CLI.
    const session = await client.createSession(cfg(model));
    const pid = client.cliPid;
    assert.ok(pid > 0 && pidAlive(pid));
    const answer = await session.sendAndWait({ prompt: 'REPLY over stdio' });
    assert.equal(answer?.data.content, 'over stdio');
    assert.deepEqual(await client.stop(), []);
    assert.ok(await waitDead(pid), 'the CLI outlived stop()');
    const e = await session.send('again').then(() => null, (x) => x);
    assert.ok(['session_not_found', 'not_connected', 'transport_closed'].includes(e.code), e.code);
    assert.deepEqual(await client.stop(), []); // idempotent
  });
});

test('force_stop_kills_at_once', async () => {
  const client = new CopilotClient(ownCliOptions({ useStdio: false }));
  await client.start();
  assert.ok(client.port > 0);
  const pid = client.cliPid;
  await client.forceStop();
  assert.ok(await waitDead(pid, 5000));
  assert.equal((await client.ping().then(() => null, (x) => x)).code, 'not_connected');
});

test('cli_killed_mid_turn_without_reconnect', async () => {
  await withModel(async (model) => {
    const client = new CopilotClient(ownCliOptions({ reconnect: false }));
    await client.start();
    const pid = client.cliPid;
    const session = await client.createSession(cfg(model));
    const started = waitForEvent(session, (e) => e.type === 'assistant.turn_start');
    const turn = session.sendAndWait({ prompt: 'HANG' }, 120000).then(() => null, (x) => x);
    await started;
    const it = session.events();
    process.kill(pid, 'SIGKILL');
    const e = await turn;
    assert.ok(e instanceof CopilotError);
    // Whether the CLI finished the turn is unknown; the error names the session.
    assert.equal(e.code, 'turn_outcome_unknown', e.message);
    assert.ok(e.message.includes(session.sessionId), e.message);
    assert.equal(e.isRetriable, false);
    // Reconnection is off: every later call fails at once with the cause, typed.
    const after = await client.ping().then(() => null, (x) => x);
    assert.equal(after.code, 'transport_closed');
    assert.equal(after.isTransportFailure, true);
    // The session's iterator ends.
    for (;;) {
      const r = await it.next();
      if (r.done) break;
    }
    await client.stop();
  });
});

test('abort_mid_stream', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    const session = await client.createSession(cfg(model, { streaming: true }));
    const delta = waitForEvent(session, (e) => e.type === 'assistant.message_delta');
    const idle = waitForEvent(session, (e) => e.type === 'session.idle');
    await session.send({ prompt: 'SLOW 40 250' });
    await delta;
    await session.abort();
    assert.equal((await idle).data.aborted, true);
    const answer = await session.sendAndWait({ prompt: 'REPLY after abort' });
    assert.equal(answer.data.content, 'after abort');
    await session.disconnect();
    await client.stop();
  });
});

test('send_and_wait: timeout, abortOnTimeout, AbortSignal', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    const session = await client.createSession(cfg(model));
    let idle = waitForEvent(session, (e) => e.type === 'session.idle');
    const e = await session.sendAndWait({ prompt: 'HANG', abortOnTimeout: true }, 1500).then(() => null, (x) => x);
    assert.equal(e.code, 'timeout');
    assert.match(e.message, /1500ms/);
    assert.equal((await idle).data.aborted, true);

    // An AbortSignal cancels the wait and aborts the turn.
    const ac = new AbortController();
    idle = waitForEvent(session, (ev) => ev.type === 'session.idle');
    const started = waitForEvent(session, (ev) => ev.type === 'assistant.turn_start');
    const p = session.sendAndWait({ prompt: 'HANG', signal: ac.signal }).then(() => null, (x) => x);
    await started;
    ac.abort(new Error('user went away'));
    const cancelled = await p;
    assert.ok(cancelled instanceof CopilotError);
    assert.equal(cancelled.code, 'cancelled');
    assert.equal(cancelled.cause.message, 'user went away');
    assert.equal((await idle).data.aborted, true);
    // Already aborted: rejects at once; the signal also works as the second argument.
    await assert.rejects(session.sendAndWait({ prompt: 'REPLY x', signal: AbortSignal.abort() }), (x) => x.code === 'cancelled');
    const ok = await session.sendAndWait('REPLY still fine', { timeout: 30000, signal: new AbortController().signal });
    assert.equal(ok.data.content, 'still fine');
    await client.stop();
  });
});

test('resume_from_second_client', async () => {
  await withModel(async (model) => {
    const a = await connectShared();
    const b = await connectShared();
    const sa = await a.createSession(cfg(model));
    await sa.sendAndWait({ prompt: 'REPLY first from A' });
    // B joins the live session without any config (the guide's resumeSession(id)).
    const sb = await b.resumeSession(sa.sessionId);
    assert.equal(sb.sessionId, sa.sessionId);
    const history = await sb.getMessages();
    assert.ok(history.some((e) => e.type === 'user.message' && e.data.content === 'REPLY first from A'));
    const seenByA = waitForEvent(sa, (e) => e.type === 'assistant.message' && e.data.content === 'second from B');
    const answer = await sb.sendAndWait({ prompt: 'REPLY second from B' });
    assert.equal(answer.data.content, 'second from B');
    await seenByA;
    await sa.disconnect();
    assert.equal((await sb.sendAndWait({ prompt: 'REPLY still here' })).data.content, 'still here');
    await sb.destroy();
    // Cold resume from disk, with the provider again.
    const sc = await b.resumeSession(sa.sessionId, cfg(model));
    assert.equal((await sc.sendAndWait({ prompt: 'REPLY cold' })).data.content, 'cold');
    await a.stop();
    await b.stop();
  });
});

test('list_and_delete', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    const deleted = new Promise((resolve) => client.on('session.deleted', resolve));
    const created = [];
    const offAll = client.on((ev) => created.push(ev.type));
    const some = [];
    client.on(['session.created', 'session.deleted'], (ev) => some.push(ev.type));
    const id = `list-delete-${process.pid}`;
    const s = await client.createSession(cfg(model, { sessionId: id }));
    assert.equal(s.sessionId, id);
    await s.sendAndWait({ prompt: 'Say hello' });
    await s.disconnect();
    const list = await client.listSessions();
    const me = list.find((m) => m.sessionId === id);
    assert.ok(me, 'session listed');
    assert.ok(me.startTime instanceof Date && !Number.isNaN(me.startTime.getTime()));
    assert.ok(me.modifiedTime instanceof Date && me.modifiedTime.getTime() >= me.startTime.getTime());
    assert.equal(me.createdAt.getTime(), me.startTime.getTime());
    const last = await client.getLastSessionId();
    assert.ok((await client.listSessions()).some((m) => m.sessionId === last));
    assert.deepEqual(await client.listSessions({ cwd: '/nonexistent' }), []);
    await assert.rejects(client.listSessions({ colour: 'x' }), (e) => e.code === 'invalid_config');
    await client.deleteSession(id);
    // A lifecycle listener does not keep Node alive (by design): a timer bounds the wait and
    // holds the event loop until the notification arrives (it may follow the RPC's answer).
    let timer;
    const deletedEvent = await Promise.race([
      deleted,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no session.deleted notification within 10 s')), 10000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.equal(deletedEvent.sessionId, id);
    assert.ok(created.includes('session.created'));
    assert.ok(some.includes('session.created') && some.includes('session.deleted'), String(some));
    assert.ok(some.every((t) => t === 'session.created' || t === 'session.deleted'), String(some));
    offAll();
    assert.ok(!(await client.listSessions()).some((m) => m.sessionId === id));
    const e = await client.deleteSession(id).then(() => null, (x) => x);
    assert.equal(e.code, 'session_not_found');
    const r = await client.resumeSession(id).then(() => null, (x) => x);
    assert.equal(r.code, 'session_not_found');
    await client.stop();
  });
});

test('connection_token', async () => {
  const s = await sharedCli();
  for (const token of [undefined, 'wrong-token']) {
    const c = new CopilotClient({ cliUrl: `http://127.0.0.1:${s.port}`, connectionToken: token });
    const e = await c.start().then(() => null, (x) => x);
    assert.equal(e.code, 'authentication', `${token}: ${e.message}`);
    assert.ok(e.rpcCode <= -32001 && e.rpcCode >= -32002, String(e.rpcCode));
  }
  const ok = new CopilotClient({ cliUrl: `http://127.0.0.1:${s.port}`, connectionToken: s.token });
  await ok.ping();
  await ok.stop();
  // A stdio child ignores tokens.
  const c = new CopilotClient(ownCliOptions());
  await c.start();
  await c.stop();
});

test('events: wire order, on(type), unsubscribe, onEvent from the first event, iterator', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    const early = [];
    const session = await client.createSession(cfg(model, { streaming: true, onEvent: (e) => early.push(e.type) }));
    const all = [];
    session.on((e) => all.push(e));
    const texts = [];
    const off = session.on('assistant.message', (e) => texts.push(e.data.content));
    const deltas = [];
    session.on('assistant.message_delta', (e) => deltas.push(e.data.deltaContent));
    const it = session.events('assistant.message');
    const answer = await session.sendAndWait({ prompt: 'REPLY a b c d' });
    // Every event of the turn reached the listeners before sendAndWait resolved.
    assert.equal(all.at(-1).type, 'session.idle');
    assert.equal(deltas.join(''), 'a b c d');
    assert.deepEqual(texts, ['a b c d']);
    assert.equal(answer.id, all.filter((e) => e.type === 'assistant.message').at(-1).id);
    const persisted = all.filter((e) => !e.ephemeral).map((e) => e.id);
    const stored = (await session.getMessages()).map((e) => e.id);
    assert.ok(persisted.length >= 4);
    assert.deepEqual(stored.slice(stored.length - persisted.length), persisted);
    assert.equal(early[0], 'session.start');
    const first = await it.next();
    assert.equal(first.value.data.content, 'a b c d');
    off();
    await session.sendAndWait({ prompt: 'REPLY again' });
    assert.deepEqual(texts, ['a b c d']);
    assert.equal((await it.next()).value.data.content, 'again');
    await it.return();
    assert.equal((await it.next()).done, true);
    // for await over the session ends when it is disconnected.
    const seen = [];
    const loop = (async () => {
      for await (const e of session) seen.push(e.type);
    })();
    await session.sendAndWait('REPLY last');
    await session.disconnect();
    await loop;
    assert.ok(seen.includes('session.idle'));
    // A disconnected session fails at once, typed (the failure is reported, never lost).
    await assert.rejects(session.sendAndWait('REPLY too late'), (e) => e.code === 'session_not_found');
    await assert.rejects(session.send('REPLY too late'), (e) => e.code === 'session_not_found');
    await client.stop();
  });
});

test('many_concurrent_sessions_on_one_client', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    const answers = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const s = await client.createSession(cfg(model));
        const a = await s.sendAndWait({ prompt: `REPLY answer ${i}` });
        await s.disconnect();
        return a.data.content;
      }),
    );
    assert.deepEqual(answers, Array.from({ length: 8 }, (_, i) => `answer ${i}`));
    // Concurrent sendAndWait on ONE session queue up; each gets its own answer.
    const s = await client.createSession(cfg(model));
    const got = await Promise.all([s.sendAndWait('REPLY x'), s.sendAndWait('REPLY y')]);
    assert.deepEqual(got.map((e) => e.data.content).sort(), ['x', 'y']);
    await client.stop();
  });
});

test('handler exceptions produce the protocol failure answers and never crash', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    const warnings = [];
    const onWarning = (w) => warnings.push(String(w.message));
    process.on('warning', onWarning);
    try {
      const session = await client.createSession(
        cfg(model, {
          tools: [
            { name: 'explode', description: 'throws', parameters: { type: 'object', properties: {} }, skipPermission: true, handler: () => { throw new TypeError('tool blew up'); } },
            { name: 'reject_str', description: 'rejects with a string', parameters: { type: 'object', properties: {} }, skipPermission: true, handler: () => Promise.reject('plain string reason') },
            { name: 'bigint', description: 'returns non-JSON', parameters: { type: 'object', properties: {} }, skipPermission: true, handler: () => ({ n: 10n }) },
            { name: 'shell_like', description: 'needs permission', parameters: { type: 'object', properties: {} }, handler: () => 'never' },
          ],
          onPermissionRequest: async () => { throw new Error('permission exploded'); },
          onUserInputRequest: () => { throw new Error('no user here'); },
          hooks: { onPreToolUse: () => { throw new Error('hook exploded'); } },
        }),
      );
      session.on('assistant.message', () => { throw new Error('listener exploded'); });
      let a = await session.sendAndWait('CALL explode {}');
      assert.match(a.data.content, /tool blew up/);
      a = await session.sendAndWait('CALL reject_str {}');
      assert.match(a.data.content, /plain string reason/);
      a = await session.sendAndWait('CALL bigint {}');
      assert.match(a.data.content, /not JSON/);
      // Permission handler throws: the tool is denied (user-not-available); the turn ends.
      const complete = waitForEvent(session, (e) => e.type === 'tool.execution_complete');
      await session.sendAndWait('CALL shell_like {}');
      assert.equal((await complete).data.success, false);
      // User input handler throws: the CLI gets a JSON-RPC error and ask_user reports that the
      // user could not respond; the turn still ends.
      const asked = waitForEvent(session, (e) => e.type === 'tool.execution_complete');
      const u = await session.sendAndWait('CALL ask_user {"question":"Colour?","choices":["red"]}');
      assert.match(JSON.stringify((await asked).data), /unable to respond/);
      assert.match(u.data.content, /unable to respond/);
      assert.ok(warnings.some((w) => w.includes('listener exploded')), 'listener errors become process warnings');
      await client.stop();
    } finally {
      process.off('warning', onWarning);
    }
  });
});

test('hooks: picked by the key given (any spelling); onHook gets the other types', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    const tools = [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, skipPermission: true, handler: () => 'ok' }];
    for (const catchAll of [false, true]) {
      const seen = [];
      const hooks = {
        pre_tool_use: (p) => void seen.push(`pre:${p.hookType}`),
        onPostToolUse: async (p) => void seen.push(`post:${p.hookType}`),
      };
      if (catchAll) hooks.onHook = (p) => void seen.push(`any:${p.hookType}`);
      const session = await client.createSession(cfg(model, { hooks, tools }));
      assert.equal((await session.sendAndWait('CALL get_weather {"city":"Rome"}')).data.content, 'Tool returned: ok');
      assert.ok(seen.includes('pre:preToolUse') && seen.includes('post:postToolUse'), `${catchAll}: ${seen}`);
      const others = seen.filter((x) => x.startsWith('any:'));
      if (catchAll) {
        assert.ok(others.includes('any:userPromptSubmitted') && others.includes('any:agentStop'), String(seen));
        assert.ok(!others.includes('any:preToolUse') && !others.includes('any:postToolUse'), String(seen));
      } else {
        assert.deepEqual(others, []);
      }
      await session.disconnect();
    }
    await client.stop();
  });
});

test('tools with a zod schema: JSON schema sent, arguments validated and parsed', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    const calls = [];
    const weather = defineTool('get_weather', {
      description: 'Weather for a city',
      parameters: z.object({ city: z.string(), days: z.number().int().default(1) }),
      skipPermission: true,
      handler: async ({ city, days }, inv) => {
        calls.push({ city, days, tool: inv.toolName });
        return { textResultForLlm: `Sunny in ${city} for ${days} day(s)`, resultType: 'success' };
      },
    });
    const session = await client.createSession(cfg(model, { tools: [weather] }));
    const a = await session.sendAndWait('CALL get_weather {"city":"Rome"}');
    assert.equal(a.data.content, 'Tool returned: Sunny in Rome for 1 day(s)');
    assert.deepEqual(calls, [{ city: 'Rome', days: 1, tool: 'get_weather' }]);
    // Invalid arguments never reach the handler: the tool fails with the zod message.
    const b = await session.sendAndWait('CALL get_weather {"city":42}');
    assert.match(b.data.content, /invalid arguments for tool get_weather/);
    assert.equal(calls.length, 1);
    // The model saw the JSON schema made from the zod schema.
    const req = model.chatRequests().at(-1);
    const decl = req.body.tools.find((t) => t.function.name === 'get_weather');
    assert.equal(decl.function.parameters.properties.city.type, 'string');
    assert.deepEqual(decl.function.parameters.required, ['city']);
    await client.stop();
  });
});

test('set_model_and_session_rpc', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    const session = await client.createSession(cfg(model));
    assert.ok(session.workspacePath);
    assert.equal(typeof session.info, 'object');
    const change = waitForEvent(session, (e) => e.type === 'session.model_change', 10000);
    await session.setModel('gpt-5');
    assert.equal((await change).data.newModel, 'gpt-5');
    assert.equal((await session.rpc('session.model.getCurrent')).modelId, 'gpt-5');
    assert.equal(await session.rpc('session.mode.get', {}), 'interactive');
    await assert.rejects(session.rpc('session.x', 1), (e) => e.code === 'invalid_config');
    await client.stop();
  });
});

test('provider bearer token, system message transform, hooks deny, exit plan mode', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    let tokenCalls = 0;
    const plans = [];
    const session = await client.createSession(
      cfg(model, {
        systemMessage: { mode: 'customize', sections: { tone: { action: 'transform' } } },
        // A bare sections object answers; a section left out keeps its text.
        onSystemMessageTransform: async ({ sections }) => ({ tone: `${sections.tone.content}\nTRANSFORMED-BY-NODE` }),
        onProviderToken: async ({ providerName }) => {
          tokenCalls++;
          assert.equal(providerName, 'default');
          return 'dynamic-token-123';
        },
        tools: [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, skipPermission: true, handler: () => 'never' }],
        onPermissionRequest: approveAll,
        hooks: {
          onPreToolUse: ({ hookType, input }) =>
            hookType === 'preToolUse' && input.toolName === 'get_weather'
              ? { permissionDecision: 'deny', permissionDecisionReason: 'hooks say no' }
              : undefined,
        },
        onExitPlanMode: async (req) => {
          plans.push(req);
          return { approved: true, selectedAction: 'interactive' };
        },
      }),
    );
    const a = await session.sendAndWait('CALL get_weather {"city":"Rome"}');
    assert.match(a.data.content, /hooks say no/);
    assert.ok(tokenCalls >= 1);
    const req = model.chatRequests().at(-1);
    assert.equal(req.authorization, 'Bearer dynamic-token-123');
    assert.match(JSON.stringify(req.body.messages[0].content), /TRANSFORMED-BY-NODE/);
    await session.rpc('session.mode.set', { mode: 'plan' });
    await session.sendAndWait(
      'CALL exit_plan_mode {"summary":"Do the thing","actions":["autopilot","interactive"],"recommendedAction":"interactive"}',
    );
    assert.equal(plans.length, 1);
    assert.equal(plans[0].summary, 'Do the thing');
    await client.stop();
  });
});

test('stop() settles a pending sendAndWait with a typed error (no hang)', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    const session = await client.createSession(cfg(model));
    const started = waitForEvent(session, (e) => e.type === 'assistant.turn_start');
    const pending = session.sendAndWait({ prompt: 'HANG' }, 120000).then(() => null, (x) => x);
    await started;
    assert.deepEqual(await client.stop(), []);
    const e = await pending;
    assert.ok(e instanceof CopilotError);
    assert.ok(['session_not_found', 'transport_closed', 'not_connected', 'turn_outcome_unknown'].includes(e.code), `${e.code}: ${e.message}`);
  });
});

test('a turn that fails before its user.message rejects with session_error (no model access)', async () => {
  // The shared CLI has no GitHub login; a session without a BYOK provider cannot reach a model.
  const client = await connectShared();
  const session = await client.createSession({ model: 'gpt-4.1' });
  const e = await session.sendAndWait({ prompt: 'Say hello' }, 30000).then(() => null, (x) => x);
  assert.ok(e instanceof CopilotError);
  assert.equal(e.code, 'session_error', e.message);
  assert.match(e.message, /token|auth/i);
  await client.stop();
});
