'use strict';
// Loads the prebuilt addon for this platform (private to the package).
const { join } = require('node:path');
const { existsSync } = require('node:fs');

const base = `copilot.${process.platform}-${process.arch}`;
const candidates = process.platform === 'linux' ? [`${base}-gnu.node`, `${base}-musl.node`] : [`${base}.node`];
const found = candidates.map((f) => join(__dirname, f)).find((p) => existsSync(p));
try {
  if (!found) throw new Error(`none of ${candidates.join(', ')} is in ${__dirname}`);
  module.exports = require(found);
} catch (e) {
  const err = new Error(
    `@copilot-hub/node: cannot load the native addon for ${process.platform}/${process.arch}. ` +
      'This package ships a prebuilt binary for linux-x64 (glibc) only.',
    { cause: e },
  );
  err.code = 'native_addon_missing';
  throw err;
}
