// Owns "npm start and npm test work right after git clone": runs `npm ci` when node_modules is missing or older than the lockfile.
// Plain JavaScript with no dependencies: it runs before anything is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lockfile = path.join(root, 'package-lock.json');
// npm writes this copy of the lockfile last, after every package is in place.
const installed = path.join(root, 'node_modules', '.package-lock.json');
const tools = ['tsc', 'tap', 'biome'].map((name) => path.join(root, 'node_modules', '.bin', name));

/** Why node_modules needs `npm ci`, or undefined when it is current. */
function staleness() {
  if (!existsSync(installed)) return 'node_modules is missing';
  // A checkout or pull that changed the lockfile leaves it newer than the install.
  if (statSync(lockfile).mtimeMs > statSync(installed).mtimeMs) return 'package-lock.json changed since the last install';
  const missing = tools.find((tool) => !existsSync(tool));
  return missing ? `${path.basename(missing)} is not installed` : undefined;
}

const reason = staleness();
if (reason) {
  console.error(`sluice: ${reason}; running npm ci first`);
  // npm_execpath is the npm running this script; invoking it through node avoids depending on PATH.
  const npm = process.env.npm_execpath;
  const [cmd, args] = npm ? [process.execPath, [npm]] : ['npm', []];
  const result = spawnSync(cmd, [...args, 'ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('sluice: npm ci failed; fix the error above, then run npm ci yourself');
    process.exit(result.status ?? 1);
  }
}
