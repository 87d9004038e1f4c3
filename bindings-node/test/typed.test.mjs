// The typed protocol (issue 11) against the real Copilot CLI + the fake model: the generated RPC
// namespaces on client and session, typed events with the unknown-type fallback, typed results
// of the hand-written calls, a zod tool with typed arguments, and the strict checker itself.
// test.sh runs the suite with COPILOT_STRICT_TYPES=1: every event and typed result here is
// also checked against the generated types.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { CopilotClient, SESSION_EVENT_TYPES, defineTool, strictTypes } from '@copilot-hub/node';
import { connectShared, startFakeModel, stopSharedCli, waitForEvent } from './helpers.mjs';

after(() => stopSharedCli());

const require = createRequire(import.meta.url);
const protocol = require('@copilot-hub/node/protocol');
const cfg = (model, extra = {}) => ({ model: 'gpt-4.1', provider: model.provider, ...extra });

async function withModel(fn) {
  const model = await startFakeModel();
  try {
    return await fn(model);
  } finally {
    model.close();
  }
}

/** The typed functions under `rpc`, by path. */
function leaves(node, prefix = '') {
  const out = new Map();
  for (const [k, v] of Object.entries(node)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'function') out.set(path, v);
    else for (const [p, f] of leaves(v, path)) out.set(p, f);
  }
  return out;
}

test('every schema method is a typed function at its path; the generic call stays', async () => {
  assert.equal(protocol.SERVER_METHODS.length, 92);
  assert.equal(protocol.SESSION_METHODS.length, 264);
  assert.equal(SESSION_EVENT_TYPES.length, 140);
  assert.ok(SESSION_EVENT_TYPES.includes('assistant.message'));
  const client = new CopilotClient({ cliUrl: '127.0.0.1:1', autoStart: false });
  assert.equal(typeof client.rpc, 'function', 'rpc is the generic call too');
  assert.equal(client.rpc, client.rpc, 'built once');
  const server = leaves(client.rpc);
  assert.deepEqual([...server.keys()].sort(), protocol.SERVER_METHODS.map((m) => m[0]).sort());
  assert.equal(server.size, 92);
  // Not started, autoStart off: a typed call goes through the generic one and fails the same way.
  const e = await client.rpc.models.getBuiltInCatalog().then(() => null, (x) => x);
  assert.equal(e.code, 'not_connected');
  assert.equal((await client.call('models.list').then(() => null, (x) => x)).code, 'not_connected');
});

test('typed server methods against the real CLI', async () => {
  const client = await connectShared();
  const catalog = await client.rpc.models.getBuiltInCatalog();
  assert.ok(Array.isArray(catalog.models) && catalog.models.length > 0);
  assert.equal(typeof catalog.models[0].id, 'string');
  const tools = await client.rpc.tools.list({});
  assert.ok(tools.tools.some((t) => typeof t.name === 'string'));
  const pong = await client.rpc.ping({ message: 'typed' });
  assert.equal(pong.message, 'pong: typed');
  assert.deepEqual(await client.rpc.account.getAllUsers(), []);
  const list = await client.rpc.sessions.list({});
  assert.ok(Array.isArray(list.sessions));
  const settings = await client.rpc.user.settings.get();
  assert.equal(typeof settings, 'object');
  assert.equal(typeof (await client.rpc.managedSettings.read()), 'object');
  assert.equal(typeof (await client.rpc.mcp.config.list()).servers, 'object');
  // A typed call takes the per-call options too.
  const again = await client.rpc.models.getBuiltInCatalog({ timeout: 10000 });
  assert.deepEqual(again.models.map((m) => m.id), catalog.models.map((m) => m.id));
  // The generic call, under both names, for methods newer than the schema.
  assert.deepEqual((await client.rpc('tools.list', {})).tools.length, tools.tools.length);
  assert.deepEqual((await client.call('tools.list', {})).tools.length, tools.tools.length);
  const nf = await client.rpc.ping({ message: 1 }).then(() => null, (x) => x);
  assert.ok(nf === null || nf.code === 'rpc_error', 'a wrong param is the CLI\'s to judge');
  // Typed results of the hand-written calls.
  const auth = await client.getAuthStatus();
  assert.equal(auth.isAuthenticated, false);
  assert.equal(typeof (await client.ping('x')).timestamp, 'string');
  await client.stop();
});

test('typed session methods and typed events (fake model)', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    const session = await client.createSession(cfg(model));
    const all = [];
    const offAll = session.on((e) => all.push(e));
    const messages = [];
    session.on('assistant.message', (e) => messages.push(e.data.content));
    const leavesOf = leaves(session.rpc);
    assert.equal(leavesOf.size, 264);
    assert.equal(typeof session.rpc, 'function');

    assert.equal(await session.rpc.mode.get(), 'interactive');
    await session.rpc.name.set({ name: 'typed-session' });
    assert.equal((await session.rpc.name.get()).name, 'typed-session');
    assert.equal(await session.rpc.plan.update({ content: '# plan\n- one' }), undefined, 'a null result is void');
    const plan = await session.rpc.plan.read();
    assert.equal(plan.exists, true);
    assert.match(plan.content, /one/);
    const logged = await session.rpc.log({ message: 'typed log', level: 'warning' });
    assert.equal(typeof logged.eventId, 'string');
    assert.equal((await session.rpc.metadata.isProcessing()).processing, false);
    assert.equal(typeof (await session.rpc.eventLog.tail()).cursor, 'string');
    assert.equal(typeof (await session.rpc.usage.getMetrics()), 'object');
    assert.ok(Array.isArray((await session.rpc.agent.list()).agents));

    const change = waitForEvent(session, (e) => e.type === 'session.model_change', 10000);
    const typedChange = new Promise((resolve) => {
      const off = session.on('session.model_change', (e) => {
        off();
        resolve(e.data.newModel);
      });
    });
    const switched = await session.rpc.model.switchTo({ modelId: 'gpt-5' });
    assert.equal(typeof switched, 'object');
    assert.equal((await change).data.newModel, 'gpt-5');
    assert.equal(await typedChange, 'gpt-5');
    assert.equal((await session.rpc.model.getCurrent()).modelId, 'gpt-5');
    // The generic call is still there on the session.
    assert.equal(await session.rpc('session.mode.get', {}), 'interactive');
    assert.equal(await session.call('session.mode.get'), 'interactive');

    const reply = await session.sendAndWait('REPLY typed hello');
    assert.equal(reply.data.content, 'typed hello');
    assert.ok(messages.includes('typed hello'));
    offAll();
    const types = new Set(all.map((e) => e.type));
    for (const t of ['user.message', 'assistant.message', 'session.idle', 'session.model_change']) assert.ok(types.has(t), t);
    // Events of types the schema lacks are delivered too (untyped), never dropped.
    const unknown = [...types].filter((t) => !SESSION_EVENT_TYPES.includes(t));
    for (const e of all.filter((x) => unknown.includes(x.type))) assert.equal(typeof e.data, 'object');
    const persisted = await session.getMessages();
    assert.ok(persisted.some((e) => e.type === 'assistant.message' && e.data.content === 'typed hello'));
    await session.disconnect();
    await client.stop();
  });
});

test('a zod tool gets typed, parsed arguments from the model (strict mode checks the turn)', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    const seen = [];
    const add = defineTool('add_numbers', {
      description: 'Adds two numbers',
      parameters: z.object({ a: z.number(), b: z.number(), label: z.string().optional() }),
      skipPermission: true,
      handler: ({ a, b, label }) => {
        seen.push({ a, b, label, types: [typeof a, typeof b] });
        return `${label ?? 'sum'}=${a + b}`;
      },
    });
    const session = await client.createSession(cfg(model, { tools: [add] }));
    const starts = [];
    session.on('tool.execution_start', (e) => starts.push(e.data.toolName));
    const r = await session.sendAndWait('CALL add_numbers {"a":2,"b":40,"label":"total"}');
    assert.equal(r.data.content, 'Tool returned: total=42');
    assert.deepEqual(seen, [{ a: 2, b: 40, label: 'total', types: ['number', 'number'] }]);
    assert.ok(starts.includes('add_numbers'));
    await client.stop();
  });
});

test('the strict checker: failures for unreadable values, counts for unknown ones', () => {
  const c = strictTypes.checker();
  const base = { id: 'e1', timestamp: '2026-01-01T00:00:00Z', parentId: null };
  c.event({ ...base, type: 'assistant.message', data: { messageId: 'm', content: 'hi' } });
  assert.equal(c.report().failures, 0, JSON.stringify(c.report().failureSamples));
  // Unknown type, unknown field, unknown enum value: counted, not failures.
  c.event({ ...base, type: 'brand.new_event', data: { x: 1 } });
  c.event({ ...base, type: 'assistant.message', data: { messageId: 'm', content: 'hi', shiny: true } });
  c.result('session.mode.get', 'sideways');
  let r = c.report();
  assert.equal(r.failures, 0);
  assert.deepEqual(r.unknownEventTypes, { 'brand.new_event': 1 });
  assert.deepEqual(r.unknownFields, { 'AssistantMessageData.shiny': 1 });
  assert.deepEqual(r.unknownEnumValues, { 'SessionMode=sideways': 1 });
  // Wrong JSON type, missing required field: failures.
  c.event({ ...base, type: 'assistant.message', data: { messageId: 'm', content: 5 } });
  c.event({ ...base, type: 'assistant.message', data: { content: 'no id' } });
  c.result('session.name.get', { name: 42 });
  c.value('Model', { id: 'x' }, 'a model');
  r = c.report();
  assert.equal(r.failures, 5, r.failureSamples.join('\n'));
  assert.ok(r.failureSamples.some((s) => /content: expected a string, got number/.test(s)));
  assert.ok(r.failureSamples.some((s) => /required field `messageId` is missing/.test(s)));
  assert.equal(r.events, 5);
  assert.equal(r.results, 3);
  const line = strictTypes.summaryLine(r);
  assert.match(line, /^strict types: 5 events, 3 results checked; unknown: 1 event types \(brand\.new_event\), 1 fields .*; failures: 5$/);
  // Strict mode is on exactly when COPILOT_STRICT_TYPES=1.
  assert.equal(strictTypes.enabled, process.env.COPILOT_STRICT_TYPES === '1');
});
