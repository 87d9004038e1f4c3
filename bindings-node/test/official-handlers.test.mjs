// Today's official handler forms (issue 12): permission and user-input handlers called as
// `(request, invocation)` with `invocation.sessionId`, the official result objects, and
// `Symbol.asyncDispose` on the client and the session (`await using`). Real CLI + fake model.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { CopilotClient, CopilotError, approveAll } from '@copilot-hub/node';
import { connectShared, sharedCli, startFakeModel, stopSharedCli, waitForEvent } from './helpers.mjs';

after(() => stopSharedCli());

const cfg = (model, extra = {}) => ({ model: 'gpt-4.1', provider: model.provider, ...extra });
const BASH = (text) => `CALL bash ${JSON.stringify({ command: `echo ${text}`, description: 'echo', mode: 'sync' })}`;

async function withModel(fn) {
  const model = await startFakeModel();
  try {
    return await fn(model);
  } finally {
    model.close();
  }
}

test('a two-argument permission handler gets {sessionId} and its {kind: "approve-once"} runs the tool', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    try {
      const calls = [];
      const session = await client.createSession(
        cfg(model, {
          onPermissionRequest: (request, invocation) => {
            calls.push({ argc: 2, request, invocation, command: request.fullCommandText });
            return { kind: 'approve-once' };
          },
        }),
      );
      const done = waitForEvent(session, (e) => e.type === 'tool.execution_complete');
      await session.sendAndWait(BASH('official-approved'), 60000);
      const complete = await done;
      assert.equal(complete.data.success, true, JSON.stringify(complete.data));
      assert.match(JSON.stringify(complete.data), /official-approved/);
      assert.equal(calls.length, 1);
      const [{ request, invocation, command }] = calls;
      assert.deepEqual({ ...invocation }, { sessionId: session.sessionId });
      assert.ok(Object.isFrozen(invocation));
      assert.equal(request.kind, 'shell');
      // The official request's own fields are readable on the payload, and do not change its keys.
      assert.equal(command, request.request.fullCommandText);
      assert.match(String(command), /echo official-approved/);
      assert.deepEqual(Object.keys(request).sort(), ['kind', 'request', 'requestId', 'sessionId', 'toolCallId']);
      // approveAll works in the two-argument call as well (it is the same function).
      assert.deepEqual(approveAll(request, invocation), { kind: 'approve-once' });
    } finally {
      await client.stop();
    }
  });
});

test('a two-argument handler returning {kind: "reject", feedback} fails the tool with the feedback', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    try {
      const seen = [];
      const session = await client.createSession(
        cfg(model, {
          onPermissionRequest: async (request, invocation) => {
            seen.push(invocation.sessionId);
            return { kind: 'reject', feedback: 'no, said the official handler' };
          },
        }),
      );
      const done = waitForEvent(session, (e) => e.type === 'tool.execution_complete');
      const answer = await session.sendAndWait(BASH('never-runs'), 60000);
      const complete = await done;
      assert.equal(complete.data.success, false, JSON.stringify(complete.data));
      assert.match(JSON.stringify(complete.data), /no, said the official handler/);
      assert.match(answer.data.content, /no, said the official handler/);
      assert.doesNotMatch(JSON.stringify(complete.data), /never-runs\\n/);
      assert.deepEqual(seen, [session.sessionId]);
    } finally {
      await client.stop();
    }
  });
});

test('a two-argument user-input handler answers ask_user with {answer, wasFreeform}', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    try {
      const seen = [];
      const session = await client.createSession(
        cfg(model, {
          onUserInputRequest: async (request, invocation) => {
            seen.push({ question: request.question, choices: request.choices, sessionId: invocation.sessionId });
            return { answer: 'blue', wasFreeform: false };
          },
        }),
      );
      const done = waitForEvent(session, (e) => e.type === 'tool.execution_complete');
      const answer = await session.sendAndWait('CALL ask_user {"question":"Favourite colour?","choices":["red","blue"]}', 60000);
      const complete = await done;
      assert.equal(complete.data.success, true, JSON.stringify(complete.data));
      assert.match(JSON.stringify(complete.data), /blue/);
      assert.match(answer.data.content, /blue/);
      assert.deepEqual(seen, [{ question: 'Favourite colour?', choices: ['red', 'blue'], sessionId: session.sessionId }]);
    } finally {
      await client.stop();
    }
  });
});

test('the invocation names the session the request is for (two sessions, one handler)', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    try {
      const seen = [];
      const handler = (request, invocation) => {
        seen.push([request.sessionId, invocation.sessionId]);
        return { kind: 'approve-once' };
      };
      const a = await client.createSession(cfg(model, { onPermissionRequest: handler }));
      const b = await client.createSession(cfg(model, { onPermissionRequest: handler }));
      assert.notEqual(a.sessionId, b.sessionId);
      await a.sendAndWait(BASH('from-a'), 60000);
      await b.sendAndWait(BASH('from-b'), 60000);
      assert.deepEqual(seen, [
        [a.sessionId, a.sessionId],
        [b.sessionId, b.sessionId],
      ]);
    } finally {
      await client.stop();
    }
  });
});

test('Symbol.asyncDispose: the session disconnects, the client stops', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    assert.equal(typeof client[Symbol.asyncDispose], 'function');
    const session = await client.createSession(cfg(model));
    assert.equal((await session.sendAndWait('REPLY before dispose', 60000)).data.content, 'before dispose');
    assert.equal(await session[Symbol.asyncDispose](), undefined);
    await assert.rejects(session.sendAndWait('REPLY too late'), (e) => e instanceof CopilotError && e.code === 'session_not_found');
    // The session stays on disk: it can be resumed, then the client is disposed.
    const again = await client.resumeSession(session.sessionId, cfg(model));
    assert.equal(client.getState(), 'connected');
    assert.equal(await client[Symbol.asyncDispose](), undefined);
    assert.equal(client.getState(), 'disconnected');
    await assert.rejects(again.sendAndWait('REPLY after stop'), CopilotError);
  });
});

test('`await using` (compiled by TypeScript) disposes the session, then the client, in reverse order', async () => {
  // Node 20 cannot parse `await using` yet: TypeScript's downlevel helpers call the same
  // Symbol.asyncDispose methods a newer Node would.
  const ts = createRequire(import.meta.url)('typescript');
  const source = `
    export async function run(CopilotClient, opts, sessionConfig, log) {
      let client, session;
      {
        await using c = new CopilotClient(opts);
        client = c;
        await using s = await c.createSession(sessionConfig);
        session = s;
        log.push(await s.sendAndWait("REPLY inside the scope", 60000).then((a) => a.data.content));
        const disconnect = s.disconnect.bind(s);
        s.disconnect = () => (log.push("session disposed"), disconnect());
        const stop = c.stop.bind(c);
        c.stop = () => (log.push("client disposed, state " + c.getState()), stop());
      }
      log.push("after the scope: " + client.getState());
      return session;
    }`;
  const js = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
  assert.match(js, /__addDisposableResource|__disposeResources/);
  const mod = await import(`data:text/javascript,${encodeURIComponent(js)}`);
  await withModel(async (model) => {
    const s = await sharedCli();
    const log = [];
    const session = await mod.run(CopilotClient, { cliUrl: s.url, connectionToken: s.token }, cfg(model), log);
    assert.deepEqual(log, ['inside the scope', 'session disposed', 'client disposed, state connected', 'after the scope: disconnected']);
    await assert.rejects(session.sendAndWait('REPLY x'), CopilotError);
  });
});
