// The official Node SDK's README quickstart, written with its names and shapes (issue 12):
// `new CopilotClient(…)`, `start()`, `createSession({model, onPermissionRequest: approveAll})`,
// typed `session.on("assistant.message" | "session.idle", …)`, `send({prompt})`, a tool made
// with `defineTool(name, {description, parameters: zod, handler: (args, invocation) => …})`, a
// `(request, invocation)` permission handler, a typed `onPreToolUse(input, invocation)` hook,
// `disconnect()` and `stop()` resolving to the errors met. Apart from the import line (and the
// BYOK provider/connection that point at the fake model and the test's CLI), it is the official
// code. Real CLI + fake model.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { CopilotClient, approveAll, defineTool, RuntimeConnection } from '@copilot-hub/node';
import { sharedCli, startFakeModel, stopSharedCli } from './helpers.mjs';

after(() => stopSharedCli());

/** The official client, connected to this suite's CLI (`RuntimeConnection.forUri`). */
async function officialClient() {
  const s = await sharedCli();
  return new CopilotClient({ connection: RuntimeConnection.forUri(s.url, { connectionToken: s.token }) });
}

test('quickstart: start, approveAll session, typed assistant.message / session.idle listeners, send, disconnect, stop', async () => {
  const model = await startFakeModel();
  try {
    // --- the README's quickstart ---
    const client = await officialClient();
    await client.start();
    const session = await client.createSession({
      model: 'gpt-5',
      provider: model.provider,
      onPermissionRequest: approveAll,
    });
    const printed = [];
    const done = new Promise((resolve) => {
      session.on('assistant.message', (event) => {
        printed.push(event.data.content);
      });
      session.on('session.idle', () => {
        resolve();
      });
    });
    const messageId = await session.send({ prompt: 'What is 2+2?\nREPLY 4' });
    await done;
    // --- checks ---
    assert.equal(typeof messageId, 'string');
    assert.ok(messageId.length > 0);
    assert.deepEqual(printed, ['4']);
    // The catch-all listener returns its unsubscribe function; the string form of send works too.
    const seen = [];
    const unsubscribe = session.on((event) => seen.push(event.type));
    assert.equal(typeof unsubscribe, 'function');
    const answer = await session.sendAndWait({ prompt: 'REPLY again' });
    assert.equal(answer?.type, 'assistant.message');
    assert.equal(answer?.data.content, 'again');
    assert.ok(seen.includes('assistant.message') && seen.includes('session.idle'), seen.join(','));
    unsubscribe();
    const before = seen.length;
    await session.sendAndWait('REPLY unheard');
    assert.equal(seen.length, before, 'an unsubscribed listener hears nothing');
    assert.ok((await session.getEvents()).some((e) => e.type === 'assistant.message' && e.data.content === 'unheard'));

    await session.disconnect();
    const errors = await client.stop();
    assert.ok(Array.isArray(errors));
    assert.deepEqual(errors, []);
    assert.equal(client.getState(), 'disconnected');
  } finally {
    model.close();
  }
});

test('quickstart tools: defineTool with zod, a (request, invocation) permission handler, a typed onPreToolUse hook', async () => {
  const model = await startFakeModel();
  const client = await officialClient();
  try {
    await client.start();
    const calls = [];
    const permissions = [];
    const hookInputs = [];
    const lookupIssue = defineTool('lookup_issue', {
      description: 'Fetch issue details from our tracker',
      parameters: z.object({
        id: z.string().describe('Issue identifier'),
      }),
      handler: async ({ id }, invocation) => {
        calls.push({ id, sessionId: invocation.sessionId, toolName: invocation.toolName, toolCallId: invocation.toolCallId });
        return { id, title: `Issue ${id}`, state: 'open' };
      },
    });
    const session = await client.createSession({
      model: 'gpt-5',
      provider: model.provider,
      tools: [lookupIssue],
      onPermissionRequest: (request, invocation) => {
        permissions.push({ kind: request.kind, toolCallId: request.toolCallId, sessionId: invocation.sessionId });
        if (request.kind === 'shell') {
          return { kind: 'reject', feedback: 'Shell commands are not allowed.' };
        }
        return { kind: 'approve-once' };
      },
      hooks: {
        onPreToolUse: async (input, invocation) => {
          hookInputs.push({ toolName: input.toolName, toolArgs: input.toolArgs, sessionId: invocation.sessionId });
          if (input.toolName !== 'lookup_issue') return undefined; // the permission handler decides
          // Allow without a permission prompt, and rewrite the arguments.
          return {
            permissionDecision: 'allow',
            modifiedArgs: input.toolArgs?.id === 'A-1' ? { id: 'B-2' } : input.toolArgs,
            additionalContext: 'Extra context for the model',
          };
        },
      },
    });
    const completions = [];
    session.on('tool.execution_complete', (event) => {
      completions.push({ success: event.data.success, toolCallId: event.data.toolCallId });
    });

    await session.sendAndWait({ prompt: 'CALL lookup_issue {"id":"A-1"}' }, 60000);
    // The hook rewrote the arguments: the handler saw B-2, and the model got its result and the
    // hook's additional context.
    assert.deepEqual(calls.map((c) => c.id), ['B-2']);
    const sent = JSON.stringify(model.chatRequests().at(-1).body.messages);
    assert.match(sent, /Issue B-2/);
    assert.match(sent, /Extra context for the model/);
    assert.equal(calls[0].sessionId, session.sessionId);
    assert.equal(calls[0].toolName, 'lookup_issue');
    assert.equal(typeof calls[0].toolCallId, 'string');
    assert.deepEqual(hookInputs[0], { toolName: 'lookup_issue', toolArgs: { id: 'A-1' }, sessionId: session.sessionId });
    assert.deepEqual(completions, [{ success: true, toolCallId: calls[0].toolCallId }]);
    // The hook's "allow" replaced the permission prompt.
    assert.deepEqual(permissions, []);

    // Without a hook decision the permission handler is asked; its reject reaches the model
    // with its feedback (a shell call).
    const shell = `CALL bash ${JSON.stringify({ command: 'echo quickstart', description: 'echo', mode: 'sync' })}`;
    const rejected = await session.sendAndWait({ prompt: shell }, 60000);
    assert.match(rejected?.data.content ?? '', /Shell commands are not allowed\./);
    assert.equal(permissions.length, 1, JSON.stringify(permissions));
    assert.equal(permissions[0].kind, 'shell');
    assert.equal(typeof permissions[0].toolCallId, 'string');
    assert.equal(permissions[0].sessionId, session.sessionId);
    assert.equal(hookInputs.at(-1).toolName, 'bash');
    assert.equal(completions.at(-1).success, false);
    await session.disconnect();
  } finally {
    await client.stop();
    model.close();
  }
});
