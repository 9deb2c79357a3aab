// Rewrites the settings tables of docs/migrating-from-pgbouncer.md and README.md's coverage table from lib/config/pgbouncer-settings.ts.
// Run: node --import=./node_modules/@tapjs/typescript/dist/esm/import.mjs scripts/pgbouncer-guide.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { regenerateGuide, regenerateReadme } from '../test/helpers/pgbouncer-guide.js';

const guidePath = 'docs/migrating-from-pgbouncer.md';
const { text, categories } = regenerateGuide(readFileSync(guidePath, 'utf8'));
writeFileSync(guidePath, text);
writeFileSync('README.md', regenerateReadme(readFileSync('README.md', 'utf8'), categories));
