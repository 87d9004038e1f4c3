// Prints the one strict-types line of the suite from the reports its processes appended to
// COPILOT_STRICT_TYPES_OUT (one JSON line each, see strict.js), with the first failures and the
// unknown fields and enum values; exits 1 when a value could not be read (failures > 0) or when
// nothing was checked at all.
//   node test/strict-summary.mjs <reports.jsonl>
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { strictTypes } = require('@copilot-hub/node');
const strict = require('@copilot-hub/node/strict');

const file = process.argv[2];
let text = '';
try {
  text = readFileSync(file, 'utf8');
} catch {
  // no process checked anything
}
const reports = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
const r = strict.merge(reports);
const detail = (o) => Object.entries(o).map(([k, n]) => `${k} (${n})`).join(', ');
if (Object.keys(r.unknownFields).length) console.log(`strict types: unknown fields: ${detail(r.unknownFields)}`);
if (Object.keys(r.unknownEnumValues).length) console.log(`strict types: unknown enum values: ${detail(r.unknownEnumValues)}`);
for (const f of r.failureSamples.slice(0, 50)) console.log(`strict types FAILURE: ${f}`);
console.log(strictTypes.summaryLine(r));
if (r.failures > 0) process.exit(1);
if (r.events === 0 || r.results === 0) {
  console.log('strict types: nothing was checked (is COPILOT_STRICT_TYPES=1 reaching the tests?)');
  process.exit(1);
}
