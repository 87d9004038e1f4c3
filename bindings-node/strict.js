'use strict';
// Strict type checking for tests (COPILOT_STRICT_TYPES=1): every event delivered and every typed
// result is checked against the generated types (protocol-types.json, written by
// `cargo run -p xtask -- codegen`). A value the types cannot read (wrong JSON type, a required
// field missing) is a FAILURE; an event type, a field or an enum value the schema does not know
// is COUNTED. Loaded only in that mode (index.js) or by `strictTypes.checker()`.

const fs = require('node:fs');

let table;
function types() {
  if (table === undefined) table = require('./protocol-types.json');
  return table;
}

const MAX_FAILURES = 50;

/** A fresh checker with its own counters. */
function createChecker() {
  const t = types();
  const stats = {
    events: 0,
    results: 0,
    unknownEventTypes: new Map(),
    unknownFields: new Map(),
    unknownEnumValues: new Map(),
    failures: [],
    failureCount: 0,
  };
  const bump = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
  const fail = (where, what) => {
    stats.failureCount++;
    if (stats.failures.length < MAX_FAILURES) stats.failures.push(`${where}: ${what}`);
  };
  const kind = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

  function check(v, ty, at) {
    if (typeof ty === 'string') {
      switch (ty) {
        case 'a':
          return;
        case 'b':
          if (typeof v !== 'boolean') fail(at, `expected a boolean, got ${kind(v)}`);
          return;
        case 'i':
          if (!Number.isInteger(v)) fail(at, `expected an integer, got ${kind(v)} ${typeof v === 'number' ? v : ''}`.trim());
          return;
        case 'n':
          if (typeof v !== 'number') fail(at, `expected a number, got ${kind(v)}`);
          return;
        case 's':
          if (typeof v !== 'string') fail(at, `expected a string, got ${kind(v)}`);
          return;
        case 'd':
          if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) fail(at, `expected a date-time string, got ${JSON.stringify(v)}`);
          return;
        case '0':
          if (v !== null) fail(at, `expected null, got ${kind(v)}`);
          return;
        default:
          return named(v, ty.slice(1), at);
      }
    }
    switch (ty[0]) {
      case '=':
        if (v !== ty[1]) fail(at, `expected ${JSON.stringify(ty[1])}, got ${JSON.stringify(v)}`);
        return;
      case '?':
        if (v !== null) check(v, ty[1], at);
        return;
      case '[]':
        if (!Array.isArray(v)) return fail(at, `expected an array, got ${kind(v)}`);
        for (let i = 0; i < v.length; i++) check(v[i], ty[1], `${at}[${i}]`);
        return;
      case '{}':
        if (!isObject(v)) return fail(at, `expected an object, got ${kind(v)}`);
        for (const [k, x] of Object.entries(v)) check(x, ty[1], `${at}.${k}`);
        return;
      default:
        fail(at, `unknown type form ${JSON.stringify(ty)}`);
    }
  }

  function struct(v, name, def, at) {
    if (!isObject(v)) return fail(at, `${name}: expected an object, got ${kind(v)}`);
    const known = new Set();
    for (const [json, ty, required] of def.f) {
      known.add(json);
      const x = v[json];
      if (x === undefined) {
        if (required) fail(at, `${name}: required field \`${json}\` is missing`);
        continue;
      }
      check(x, ty, `${at}.${json}`);
    }
    for (const k of Object.keys(v)) if (!known.has(k)) bump(stats.unknownFields, `${name}.${k}`);
  }

  function named(v, name, at) {
    const def = t.types[name];
    if (def === undefined) return fail(at, `no generated type ${name}`);
    if (def.f) return struct(v, name, def, at);
    if (def.e) {
      if (typeof v !== 'string') return fail(at, `${name}: expected a string, got ${kind(v)}`);
      if (!def.e.includes(v)) bump(stats.unknownEnumValues, `${name}=${v}`);
      return;
    }
    if (def.u) {
      if (!isObject(v)) return fail(at, `${name}: expected an object, got ${kind(v)}`);
      const tag = v[def.u];
      if (typeof tag !== 'string') return fail(at, `${name}: the tag \`${def.u}\` is not a string`);
      const variant = def.v[tag];
      if (variant === undefined) {
        if (name === 'SessionEvent') bump(stats.unknownEventTypes, tag);
        else bump(stats.unknownEnumValues, `${name}.${def.u}=${tag}`);
        return;
      }
      return named(v, variant, at);
    }
    return check(v, def.t, at);
  }

  return {
    /** Checks one session event (an unknown type is counted). */
    event(ev) {
      stats.events++;
      const type = isObject(ev) ? ev.type : undefined;
      if (typeof type !== 'string') return fail('event', `no type: ${JSON.stringify(ev)?.slice(0, 200)}`);
      const name = t.events[type];
      if (name === undefined) {
        bump(stats.unknownEventTypes, type);
        return;
      }
      named(ev, name, `event ${type}`);
    },
    /** Checks the result of a schema method (by wire name). */
    result(wire, v) {
      const ty = t.results[wire];
      if (ty === undefined) return;
      stats.results++;
      check(v, ty, `result of ${wire}`);
    },
    /** Checks a value against a named generated type (`what` names it in failures). */
    value(name, v, what) {
      stats.results++;
      named(v, name, what ?? name);
    },
    /** The counters so far. */
    report() {
      const obj = (m) => Object.fromEntries([...m.entries()].sort());
      return {
        events: stats.events,
        results: stats.results,
        unknownEventTypes: obj(stats.unknownEventTypes),
        unknownFields: obj(stats.unknownFields),
        unknownEnumValues: obj(stats.unknownEnumValues),
        failures: stats.failureCount,
        failureSamples: [...stats.failures],
      };
    },
  };
}

/** The one line the suites print: `strict types: N events, M results checked; …`. */
function summaryLine(r) {
  const names = Object.keys(r.unknownEventTypes).sort();
  const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
  return (
    `strict types: ${r.events} events, ${r.results} results checked; unknown: ${names.length} event types` +
    `${names.length ? ` (${names.join(', ')})` : ''}, ${Object.keys(r.unknownFields).length} fields` +
    ` (${sum(r.unknownFields)} occurrences), ${Object.keys(r.unknownEnumValues).length} enum values; failures: ${r.failures}`
  );
}

/** Adds reports together (the suite's processes each write one). */
function merge(reports) {
  const out = { events: 0, results: 0, unknownEventTypes: {}, unknownFields: {}, unknownEnumValues: {}, failures: 0, failureSamples: [] };
  const add = (into, from) => {
    for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
  };
  for (const r of reports) {
    out.events += r.events;
    out.results += r.results;
    add(out.unknownEventTypes, r.unknownEventTypes);
    add(out.unknownFields, r.unknownFields);
    add(out.unknownEnumValues, r.unknownEnumValues);
    out.failures += r.failures;
    out.failureSamples.push(...r.failureSamples);
  }
  return out;
}

let global;
/**
 * The process's checker in strict mode. With COPILOT_STRICT_TYPES_OUT set, its report is appended
 * to that file (one JSON line) when the process exits; without, the summary line goes to stderr.
 */
function processChecker() {
  if (global === undefined) {
    global = createChecker();
    process.on('exit', () => {
      const r = global.report();
      if (r.events === 0 && r.results === 0) return;
      const out = process.env.COPILOT_STRICT_TYPES_OUT;
      if (out) fs.appendFileSync(out, `${JSON.stringify(r)}\n`);
      else process.stderr.write(`${summaryLine(r)}\n`);
    });
  }
  return global;
}

module.exports = { createChecker, processChecker, summaryLine, merge };
