// The official SDK's features we lacked (issue 12), under the official Node names, against the
// real CLI + fake model: elicitation (`onElicitationRequest`, `session.ui`, `capabilities`),
// slash commands (`commands`), `onAutoModeSwitchRequest`, `onMcpAuthRequest`, the session
// filesystem (`sessionFs` + `createSessionFsProvider`), `gitHubTokenProvider`, telemetry
// (`telemetry`, trace context through `@opentelemetry/api` and `onGetTraceContext`) and
// `mode: "empty"`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import otel from '@opentelemetry/api';
import { CopilotClient, CopilotError, approveAll } from '@copilot-hub/node';
import { connectShared, ownCliOptions, sandbox, startFakeModel, stopSharedCli, tempDir } from './helpers.mjs';

after(() => stopSharedCli());

const cfg = (model, extra = {}) => ({ model: 'gpt-4.1', provider: model.provider, onPermissionRequest: approveAll, ...extra });

async function withModel(fn) {
  const model = await startFakeModel();
  try {
    return await fn(model);
  } finally {
    model.close();
  }
}

/** The CopilotError `p` rejects with. */
async function rejection(p, what) {
  const r = await p.then(
    (v) => ({ v }),
    (e) => ({ e }),
  );
  assert.ok('e' in r, `${what}: expected a failure, got ${JSON.stringify(r.v)}`);
  assert.ok(r.e instanceof CopilotError, `${what}: ${r.e?.stack ?? r.e}`);
  return r.e;
}

/** Polls `fn` until it returns a truthy value (a hang detector after `ms`). */
async function eventually(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Elicitation

test('elicitation: session.ui confirm / select / input / elicitation reach onElicitationRequest', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    try {
      const asked = [];
      const replies = [];
      const session = await client.createSession(
        cfg(model, {
          onElicitationRequest: async (context, invocation) => {
            asked.push({ context, invocation });
            const r = replies.shift();
            if (r instanceof Error) throw r;
            return typeof r === 'function' ? r(context) : r;
          },
        }),
      );
      assert.equal(session.capabilities.ui?.elicitation, true, JSON.stringify(session.capabilities));

      replies.push((ctx) => ({ action: 'accept', content: { [Object.keys(ctx.requestedSchema.properties)[0]]: true } }));
      assert.equal(await session.ui.confirm('Deploy?'), true);
      const first = asked[0];
      assert.equal(first.context.message, 'Deploy?');
      assert.equal(first.context.sessionId, session.sessionId);
      assert.equal(first.invocation.sessionId, session.sessionId);
      assert.equal(typeof first.context.requestId, 'string');
      const schema = first.context.requestedSchema;
      assert.equal(schema.type, 'object');
      const [field] = Object.keys(schema.properties);
      assert.equal(schema.properties[field].type, 'boolean', JSON.stringify(schema));

      replies.push({ action: 'decline' });
      assert.equal(await session.ui.confirm('Deploy again?'), false);

      replies.push((ctx) => {
        const [key] = Object.keys(ctx.requestedSchema.properties);
        assert.deepEqual(ctx.requestedSchema.properties[key].enum, ['production', 'staging']);
        return { action: 'accept', content: { [key]: 'staging' } };
      });
      assert.equal(await session.ui.select('Pick environment', ['production', 'staging']), 'staging');
      replies.push('cancel');
      assert.equal(await session.ui.select('Pick again', ['a', 'b']), null);

      replies.push((ctx) => {
        const [key] = Object.keys(ctx.requestedSchema.properties);
        assert.equal(ctx.requestedSchema.properties[key].title, 'Name');
        assert.equal(ctx.requestedSchema.properties[key].minLength, 1);
        return { action: 'accept', content: { [key]: 'my-project' } };
      });
      assert.equal(await session.ui.input('Project name:', { title: 'Name', minLength: 1, maxLength: 50 }), 'my-project');

      const requestedSchema = {
        type: 'object',
        properties: { region: { type: 'string', enum: ['us-east', 'eu-west'] }, dryRun: { type: 'boolean', default: true } },
        required: ['region'],
      };
      // An object without `action` is the accepted content.
      replies.push({ region: 'eu-west', dryRun: false });
      assert.deepEqual(await session.ui.elicitation({ message: 'Configure deployment', requestedSchema }), {
        action: 'accept',
        content: { region: 'eu-west', dryRun: false },
      });
      assert.deepEqual(asked.at(-1).context.requestedSchema, requestedSchema);
      // A handler that throws cancels.
      replies.push(new Error('the user closed the dialog'));
      assert.equal((await session.ui.elicitation({ message: 'Configure again', requestedSchema })).action, 'cancel');
      assert.equal(asked.length, 7);
      await session.disconnect();
    } finally {
      await client.stop();
    }
  });
});

test('elicitation: without a provider, capabilities say so and session.ui rejects with invalid_config', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    try {
      const session = await client.createSession(cfg(model));
      assert.notEqual(session.capabilities.ui?.elicitation, true, JSON.stringify(session.capabilities));
      const e = await rejection(session.ui.confirm('Deploy?'), 'confirm without elicitation');
      assert.equal(e.code, 'invalid_config', e.message);
      await assert.rejects(session.ui.select('x', 'not-an-array'), (x) => x instanceof CopilotError && x.code === 'invalid_config');
      await session.disconnect();
    } finally {
      await client.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Slash commands

test('commands: listed as client commands, executed through the handler, errors reported', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    try {
      const ran = [];
      const session = await client.createSession(
        cfg(model, {
          commands: [
            {
              name: 'deploy',
              description: 'Deploy the app',
              handler: async ({ sessionId, command, commandName, args }) => {
                ran.push({ sessionId, command, commandName, args });
              },
            },
            {
              name: 'explode',
              description: 'Always fails',
              handler: () => {
                throw new Error('no quota left');
              },
            },
          ],
        }),
      );
      const { commands } = await session.rpc.commands.list({ includeClientCommands: true });
      const deploy = commands.find((c) => c.name === 'deploy');
      assert.ok(deploy, JSON.stringify(commands.map((c) => c.name)));
      assert.equal(deploy.kind, 'client');
      assert.equal(deploy.description, 'Deploy the app');

      const ok = await session.rpc.commands.execute({ commandName: 'deploy', args: 'prod now' });
      assert.equal(ok?.error, undefined, JSON.stringify(ok));
      assert.deepEqual(ran, [{ sessionId: session.sessionId, command: '/deploy prod now', commandName: 'deploy', args: 'prod now' }]);

      const failed = await session.rpc.commands.execute({ commandName: 'explode', args: '' });
      assert.match(failed?.error ?? '', /no quota left/, JSON.stringify(failed));
      assert.equal(ran.length, 1);
      await session.disconnect();
    } finally {
      await client.stop();
    }
  });
});

test('commands: a command without a handler or a name is refused', async () => {
  const client = await connectShared();
  try {
    for (const commands of [[{ name: 'x', description: 'no handler' }], [{ description: 'no name', handler() {} }], 'deploy']) {
      const e = await rejection(client.createSession({ commands }), JSON.stringify(commands));
      assert.equal(e.code, 'invalid_config', e.message);
    }
  } finally {
    await client.stop();
  }
});

// ---------------------------------------------------------------------------------------------
// 3. Auto-mode switch (official name): accepted, and the session works

test('onAutoModeSwitchRequest: a session with it creates and runs a turn', async () => {
  await withModel(async (model) => {
    const client = await connectShared();
    try {
      const session = await client.createSession(
        cfg(model, {
          onAutoModeSwitchRequest: (request, invocation) => (request.errorCode && invocation.sessionId ? 'yes' : 'no'),
        }),
      );
      const messages = [];
      session.on('assistant.message', (event) => messages.push(event.data.content));
      assert.equal((await session.sendAndWait('REPLY with the handler', 60000))?.data.content, 'with the handler');
      assert.deepEqual(messages, ['with the handler']);
      await session.disconnect();
      // They are handlers: anything but a function is refused.
      for (const key of ['onAutoModeSwitchRequest', 'onMcpAuthRequest', 'onElicitationRequest', 'gitHubTokenProvider', 'createSessionFsProvider']) {
        const e = await rejection(client.createSession(cfg(model, { [key]: 'yes' })), key);
        assert.equal(e.code, 'invalid_config', `${key}: ${e.message}`);
      }
    } finally {
      await client.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 4. MCP OAuth: the fake model serves an OAuth-protected MCP server (401 without a token); the CLI
// asks the host through onMcpAuthRequest and reconnects with the token it gets.

test('onMcpAuthRequest: the CLI asks for the MCP token and the server connects with it', async () => {
  await withModel(async (model) => {
    const url = model.url.replace(/\/v1$/, '/mcp');
    const mcpServers = { issues: { type: 'http', url, tools: ['*'] } };
    const client = await connectShared();
    /** A session whose MCP auth handler answers `reply`; statuses of "issues" from the first event on. */
    const open = async (reply) => {
      const asked = [];
      const statuses = [];
      const session = await client.createSession(
        cfg(model, {
          mcpServers,
          onMcpAuthRequest: async (request, invocation) => {
            asked.push({ request, invocation });
            return reply;
          },
          // In the config: in place before the first event, so no status is missed.
          onEvent: (event) => {
            if (event.type === 'session.mcp_server_status_changed' && event.data.serverName === 'issues') statuses.push(event.data.status);
          },
        }),
      );
      return { session, asked, statuses };
    };
    try {
      const ok = await open({ accessToken: 'mcp-test-token' });
      await eventually(() => ok.statuses.includes('connected'), 30000, `"connected" (statuses ${JSON.stringify(ok.statuses)})`);
      assert.equal(ok.asked.length, 1);
      const { request, invocation } = ok.asked[0];
      assert.equal(request.serverName, 'issues');
      assert.equal(request.serverUrl, url);
      assert.ok(typeof request.requestId === 'string' && request.requestId.length > 0, `requestId ${request.requestId}`);
      assert.equal(request.sessionId, ok.session.sessionId);
      assert.equal(invocation.sessionId, ok.session.sessionId);
      assert.equal((await ok.session.sendAndWait('CALL issues-issue_count {}', 60000))?.data.content, 'Tool returned: 42 open issues');
      assert.equal(ok.asked.length, 1);
      await ok.session.disconnect();

      const no = await open({ kind: 'cancelled' });
      await eventually(() => no.statuses.includes('needs-auth'), 30000, `"needs-auth" (statuses ${JSON.stringify(no.statuses)})`);
      await sleep(3000);
      assert.ok(!no.statuses.includes('connected'), `statuses ${JSON.stringify(no.statuses)}`);
      assert.equal(no.asked.length, 1);
      assert.equal(no.asked[0].request.serverName, 'issues');
      await no.session.disconnect();
    } finally {
      await client.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Session filesystem

/** An in-memory filesystem (the official SessionFsProvider interface). */
class MemoryFs {
  files = new Map();
  dirs = new Set(['/']);
  calls = [];
  missing = 0;

  #missing(p) {
    this.missing++;
    const e = new Error(`ENOENT: no such file or directory, '${p}'`);
    e.code = 'ENOENT';
    return e;
  }
  #parents(p) {
    for (let d = posix.dirname(p); !this.dirs.has(d); d = posix.dirname(d)) this.dirs.add(d);
  }
  #log(op, p) {
    this.calls.push(`${op} ${p}`);
  }
  async readFile(p) {
    this.#log('readFile', p);
    if (!this.files.has(p)) throw this.#missing(p);
    return this.files.get(p);
  }
  async writeFile(p, content) {
    this.#log('writeFile', p);
    this.#parents(p);
    this.files.set(p, content);
  }
  async appendFile(p, content) {
    this.#log('appendFile', p);
    this.#parents(p);
    this.files.set(p, (this.files.get(p) ?? '') + content);
  }
  async exists(p) {
    this.#log('exists', p);
    return this.files.has(p) || this.dirs.has(p);
  }
  async stat(p) {
    this.#log('stat', p);
    const now = new Date();
    if (this.files.has(p)) return { isFile: true, isDirectory: false, size: Buffer.byteLength(this.files.get(p)), mtime: now, birthtime: now };
    if (this.dirs.has(p)) return { isFile: false, isDirectory: true, size: 0, mtime: now.toISOString(), birthtime: now.getTime() };
    throw this.#missing(p);
  }
  async mkdir(p, recursive) {
    this.#log('mkdir', p);
    if (!recursive && !this.dirs.has(posix.dirname(p))) throw this.#missing(p);
    this.#parents(p);
    this.dirs.add(p);
  }
  #children(p) {
    const prefix = p.endsWith('/') ? p : `${p}/`;
    const out = new Map();
    for (const d of this.dirs) if (d.startsWith(prefix) && d !== p && !d.slice(prefix.length).includes('/')) out.set(d.slice(prefix.length), 'directory');
    for (const f of this.files.keys()) if (f.startsWith(prefix) && !f.slice(prefix.length).includes('/')) out.set(f.slice(prefix.length), 'file');
    return out;
  }
  async readdir(p) {
    this.#log('readdir', p);
    if (!this.dirs.has(p)) throw this.#missing(p);
    return [...this.#children(p).keys()];
  }
  async readdirWithTypes(p) {
    this.#log('readdirWithTypes', p);
    if (!this.dirs.has(p)) throw this.#missing(p);
    return [...this.#children(p)].map(([name, type]) => ({ name, type }));
  }
  async rm(p, recursive, force) {
    this.#log('rm', p);
    if (!this.files.delete(p) && !this.dirs.has(p) && !force) throw this.#missing(p);
    if (recursive) {
      for (const f of [...this.files.keys()]) if (f.startsWith(`${p}/`)) this.files.delete(f);
      for (const d of [...this.dirs]) if (d.startsWith(`${p}/`)) this.dirs.delete(d);
    }
    this.dirs.delete(p);
  }
  async rename(src, dest) {
    this.#log('rename', src);
    if (!this.files.has(src)) throw this.#missing(src);
    this.#parents(dest);
    this.files.set(dest, this.files.get(src));
    this.files.delete(src);
  }
}

test('sessionFs: the session state lives in the provider (events.jsonl, workspace), a session without it is refused', async () => {
  await withModel(async (model) => {
    const STATE = '/session-state';
    const client = new CopilotClient(ownCliOptions({ sessionFs: { initialCwd: '/work', sessionStatePath: STATE, conventions: 'posix' } }));
    try {
      const fs = new MemoryFs();
      const given = [];
      const session = await client.createSession(
        cfg(model, {
          createSessionFsProvider: (s) => {
            given.push(s);
            return fs;
          },
        }),
      );
      assert.equal(given.length, 1);
      assert.equal(given[0], session);
      const answer = await session.sendAndWait('REPLY kept in memory', 60000);
      assert.equal(answer?.data.content, 'kept in memory');
      assert.ok(session.workspacePath?.startsWith(STATE), `workspacePath ${session.workspacePath}`);

      const events = await eventually(
        // The provider is the session's own namespace: its state is right under sessionStatePath.
        () => [...fs.files.keys()].find((p) => p.startsWith(`${STATE}/`) && p.endsWith('/events.jsonl') && fs.files.get(p).includes('kept in memory')),
        15000,
        `events.jsonl with the turn among ${[...fs.files.keys()].join(', ')}`,
      );
      const lines = fs.files.get(events).split('\n').filter(Boolean).map((l) => JSON.parse(l));
      assert.ok(lines.some((e) => e.type === 'assistant.message' && e.data?.content === 'kept in memory'), events);
      assert.ok(lines.some((e) => e.type === 'session.start' && e.data?.sessionId === session.sessionId), 'the events are this session\'s');
      // Nothing of the session reached the CLI's own state directory.
      assert.ok(!existsSync(join(sandbox().home, '.copilot', 'session-state', session.sessionId, 'events.jsonl')));
      assert.ok(fs.calls.some((c) => c.startsWith('mkdir ') || c.startsWith('writeFile ') || c.startsWith('appendFile ')), fs.calls.join('\n'));
      // The CLI probes files that do not exist yet: the ENOENT answers kept the session working.
      assert.ok(fs.missing > 0, fs.calls.join('\n'));
      await session.disconnect();

      const e = await rejection(client.createSession(cfg(model)), 'a session without a provider');
      assert.equal(e.code, 'invalid_config', e.message);
    } finally {
      await client.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 6. GitHub token provider

test('gitHubTokenProvider: asked with reason initial for the new session; offline the token fails validation', async () => {
  const client = await connectShared();
  try {
    const asked = [];
    const id = `token-provider-${process.pid}-${Date.now()}`;
    const e = await rejection(
      client.createSession({
        sessionId: id,
        model: 'gpt-4.1',
        gitHubTokenProvider: async (args, invocation) => {
          asked.push({ host: args.host, reason: args.reason, sessionId: args.sessionId, invocation: invocation.sessionId });
          return { accessToken: 'gho_from_the_provider', expiresIn: 7200 };
        },
      }),
      'create with a token provider, offline',
    );
    assert.match(e.message, /GitHub token validation failed/);
    assert.deepEqual(asked, [{ host: 'https://github.com', reason: 'initial', sessionId: id, invocation: id }]);

    // A provider that cancels (or answers null) or throws: creation fails, saying so.
    const cancelled = await rejection(client.createSession({ model: 'gpt-4.1', gitHubTokenProvider: () => ({ kind: 'cancelled' }) }), 'cancelled');
    assert.match(cancelled.message, /GitHub token provider callback was cancelled/);
    const nulled = await rejection(client.createSession({ model: 'gpt-4.1', gitHubTokenProvider: () => null }), 'null');
    assert.match(nulled.message, /GitHub token provider callback was cancelled/);
    const thrown = await rejection(
      client.createSession({
        model: 'gpt-4.1',
        gitHubTokenProvider: async () => {
          throw new Error('the vault is down');
        },
      }),
      'throws',
    );
    assert.match(thrown.message, /GitHub token provider callback failed: .*the vault is down/);

    // Refused before reaching the CLI: with a static token, or with a BYOK provider.
    let called = 0;
    const provider = () => {
      called++;
      return 'gho_x';
    };
    const both = await rejection(client.createSession({ model: 'gpt-4.1', gitHubToken: 'gho_static', gitHubTokenProvider: provider }), 'token + provider');
    assert.equal(both.code, 'invalid_config', both.message);
    const byok = await rejection(
      client.createSession({ model: 'gpt-4.1', provider: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' }, gitHubTokenProvider: provider }),
      'BYOK + provider',
    );
    assert.equal(byok.code, 'invalid_config', byok.message);
    assert.equal(called, 0);
  } finally {
    await client.stop();
  }
});

// ---------------------------------------------------------------------------------------------
// 7. Telemetry

// A minimal OpenTelemetry set-up through the API only: an AsyncLocalStorage context manager and
// a W3C traceparent propagator (what an SDK registers).
const { context, propagation, trace, ROOT_CONTEXT } = otel;
class AlsContextManager {
  #als = new AsyncLocalStorage();
  active() {
    return this.#als.getStore() ?? ROOT_CONTEXT;
  }
  with(ctx, fn, thisArg, ...args) {
    return this.#als.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind(ctx, target) {
    return typeof target === 'function' ? (...a) => this.with(ctx, target, undefined, ...a) : target;
  }
  enable() {
    return this;
  }
  disable() {
    this.#als.disable();
    return this;
  }
}
const w3cPropagator = {
  inject(ctx, carrier, setter) {
    const sc = trace.getSpanContext(ctx);
    if (!sc || !trace.isSpanContextValid(sc)) return;
    setter.set(carrier, 'traceparent', `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`);
  },
  extract(ctx, carrier, getter) {
    const raw = getter.get(carrier, 'traceparent');
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(Array.isArray(raw) ? raw[0] : (raw ?? ''));
    return m ? trace.setSpanContext(ctx, { traceId: m[1], spanId: m[2], traceFlags: parseInt(m[3], 16), isRemote: true }) : ctx;
  },
  fields() {
    return ['traceparent', 'tracestate'];
  },
};

const hex = (n) => [...crypto.getRandomValues(new Uint8Array(n / 2))].map((b) => b.toString(16).padStart(2, '0')).join('');
const traceIdOf = (traceparent) => /^00-([0-9a-f]{32})-/.exec(traceparent ?? '')?.[1];

test('telemetry: the host span reaches the CLI and comes back to the tool handler; the CLI writes its spans', async () => {
  await withModel(async (model) => {
    const file = join(tempDir('copilot-otel-'), 'otel.jsonl');
    const token = 'telemetry-token';
    const owner = new CopilotClient(ownCliOptions({ useStdio: false, connectionToken: token, telemetry: { exporterType: 'file', filePath: file } }));
    assert.ok(context.setGlobalContextManager(new AlsContextManager()));
    assert.ok(propagation.setGlobalPropagator(w3cPropagator));
    try {
      await owner.start();
      const seen = [];
      const tool = {
        name: 'traced_tool',
        description: 'Reports the trace it runs in',
        parameters: { type: 'object', properties: {} },
        skipPermission: true,
        handler: (_args, invocation) => {
          seen.push({ traceparent: invocation.traceparent, active: trace.getSpanContext(context.active())?.traceId });
          return 'traced';
        },
      };
      // A host span: the session and the turn run under it.
      const hostTrace = hex(32);
      const hostCtx = trace.setSpanContext(ROOT_CONTEXT, { traceId: hostTrace, spanId: hex(16), traceFlags: 1 });
      await context.with(hostCtx, async () => {
        const session = await owner.createSession(cfg(model, { tools: [tool] }));
        const answer = await session.sendAndWait('CALL traced_tool {}', 60000);
        assert.equal(answer?.data.content, 'Tool returned: traced');
        await session.disconnect();
      });
      assert.equal(seen.length, 1);
      assert.equal(traceIdOf(seen[0].traceparent), hostTrace, seen[0].traceparent);
      // The handler ran in the CLI's span (restored through the API).
      assert.equal(seen[0].active, hostTrace);

      // onGetTraceContext (a second client, by URL): its trace context wins over OTel's.
      const given = hex(32);
      const byUrl = new CopilotClient({ cliUrl: `127.0.0.1:${owner.port}`, connectionToken: token, onGetTraceContext: () => ({ traceparent: `00-${given}-${hex(16)}-01` }) });
      try {
        const session = await byUrl.createSession(cfg(model, { tools: [tool] }));
        await session.sendAndWait('CALL traced_tool {}', 60000);
        assert.equal(traceIdOf(seen[1]?.traceparent), given, JSON.stringify(seen));
        // An explicit traceparent on the message wins over the provider.
        const own = hex(32);
        await session.sendAndWait({ prompt: 'CALL traced_tool {}', traceparent: `00-${own}-${hex(16)}-01` }, 60000);
        assert.equal(traceIdOf(seen[2]?.traceparent), own, JSON.stringify(seen));
        // A malformed traceparent is refused before reaching the CLI.
        const bad = await rejection(session.send({ prompt: 'REPLY x', traceparent: '00-not-a-trace-01' }), 'malformed traceparent');
        assert.equal(bad.code, 'invalid_config', bad.message);
        const badCreate = await rejection(byUrl.createSession(cfg(model, { traceparent: 'nope' })), 'malformed traceparent on create');
        assert.equal(badCreate.code, 'invalid_config', badCreate.message);
        await session.disconnect();
      } finally {
        await byUrl.stop();
      }
      // A client reached by URL cannot configure the CLI's telemetry.
      assert.throws(
        () => new CopilotClient({ cliUrl: `127.0.0.1:${owner.port}`, connectionToken: token, telemetry: { exporterType: 'file', filePath: file } }),
        (e) => e instanceof CopilotError && e.code === 'invalid_config',
      );
      // The CLI exported its spans of the host's trace to the file (flushed at the latest when it stops).
      const spansOf = () => {
        if (!existsSync(file)) return [];
        return readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
          .filter((r) => r.type === 'span');
      };
      const inTrace = (id) => spansOf().filter((r) => JSON.stringify(r).includes(id));
      if (inTrace(hostTrace).length === 0) await sleep(3000);
      if (inTrace(hostTrace).length === 0) await owner.stop();
      assert.ok(inTrace(hostTrace).length > 0, `no span of trace ${hostTrace} in ${file}: ${JSON.stringify(spansOf().slice(0, 3))}`);
      assert.ok(inTrace(given).length > 0, `no span of trace ${given}`);
    } finally {
      await owner.stop();
      context.disable();
      propagation.disable();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 8. mode: "empty"

test('mode "empty": availableTools required, a turn runs, the environment context is left out of the prompt', async () => {
  await withModel(async (model) => {
    // Without a place for session state: refused at once.
    assert.throws(() => new CopilotClient(ownCliOptions({ mode: 'empty' })), (e) => e instanceof CopilotError && e.code === 'invalid_config');
    const base = tempDir('copilot-empty-mode-');
    const empty = new CopilotClient(ownCliOptions({ mode: 'empty', baseDirectory: base }));
    const normal = await connectShared();
    try {
      const e = await rejection(empty.createSession(cfg(model)), 'empty mode without availableTools');
      assert.equal(e.code, 'invalid_config', e.message);
      assert.match(e.message, /availableTools/);

      const systemPrompt = () => {
        const r = model.chatRequests().at(-1);
        return r.body.messages.filter((m) => m.role === 'system').map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))).join('\n');
      };
      const session = await empty.createSession(cfg(model, { availableTools: [] }));
      assert.equal((await session.sendAndWait('REPLY empty mode', 60000))?.data.content, 'empty mode');
      const emptyPrompt = systemPrompt();
      const other = await normal.createSession(cfg(model, { availableTools: [] }));
      assert.equal((await other.sendAndWait('REPLY default mode', 60000))?.data.content, 'default mode');
      const defaultPrompt = systemPrompt();
      // The default prompt carries the environment context (the CLI's working directory); the empty one does not.
      const cwd = sandbox().work;
      assert.ok(defaultPrompt.includes(cwd), 'the default system prompt names the working directory');
      assert.ok(!emptyPrompt.includes(cwd), 'the empty-mode system prompt has no environment context');
      // Sessions of the empty-mode client live under its baseDirectory.
      assert.ok(session.workspacePath?.startsWith(base), `workspacePath ${session.workspacePath}`);
      await session.disconnect();
      await other.disconnect();
    } finally {
      await empty.stop();
      await normal.stop();
    }
  });
});
