// Owns reading a YAML config file into a snapshot, and diffing two snapshots for reload.
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { parseDocument, type YAMLError } from 'yaml';
import { ConfigError, parseConfig } from './schema.js';
import type { SluiceConfig } from './types.js';

/** Read and validate a YAML config file; relative paths inside it resolve against its directory. */
export function loadConfigFile(path: string): SluiceConfig {
  const file = resolvePath(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError([`${file}: cannot read config file (${code})`]);
  }
  return loadConfigText(text, dirname(file), file);
}

/**
 * Validate YAML text. `sourceName` prefixes YAML syntax errors (`<source>:<line>:<col>: reason`);
 * validation problems name setting paths instead.
 */
export function loadConfigText(text: string, baseDir: string, sourceName = 'config'): SluiceConfig {
  // Merge keys (`<<: *defaults`) are common in hand-written YAML; without them `<<` is an unknown setting.
  const doc = parseDocument(text, { merge: true });
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((err) => formatYamlError(err, sourceName)));
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // toJS refuses alias bombs ("billion laughs") and similar; report it like a syntax error.
    throw new ConfigError([`${sourceName}: ${(err as Error).message}`]);
  }
  return parseConfig(raw, { baseDir });
}

function formatYamlError(err: YAMLError, sourceName: string): string {
  const start = err.linePos?.[0];
  const reason = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return start ? `${sourceName}:${start.line}:${start.col}: ${reason}` : `${sourceName}: ${reason}`;
}

export interface ConfigDiff {
  /** Top-level settings (other than `databases`) whose value changed, in snapshot order. */
  readonly settings: string[];
  readonly databasesAdded: string[];
  readonly databasesRemoved: string[];
  readonly databasesChanged: string[];
}

/** What changed between two snapshots, for reload. Secrets count: a changed password is a change. */
export function diffConfig(a: SluiceConfig, b: SluiceConfig): ConfigDiff {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((key) => key !== 'databases');
  const settingOf = (config: SluiceConfig, key: string) => (config as unknown as Record<string, unknown>)[key];
  return {
    settings: keys.filter((key) => !sameValue(settingOf(a, key), settingOf(b, key))),
    databasesAdded: [...b.databases.keys()].filter((name) => !a.databases.has(name)),
    databasesRemoved: [...a.databases.keys()].filter((name) => !b.databases.has(name)),
    databasesChanged: [...a.databases.keys()].filter(
      (name) => b.databases.has(name) && !sameValue(a.databases.get(name), b.databases.get(name)),
    ),
  };
}

/** Deep equality over snapshot values, including non-enumerable fields (where the secrets live). */
function sameValue(x: unknown, y: unknown): boolean {
  if (Object.is(x, y)) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (Buffer.isBuffer(x) || Buffer.isBuffer(y)) return Buffer.isBuffer(x) && Buffer.isBuffer(y) && x.equals(y);
  if (x instanceof Map || y instanceof Map) {
    if (!(x instanceof Map && y instanceof Map) || x.size !== y.size) return false;
    for (const [key, value] of x) {
      if (!y.has(key) || !sameValue(value, y.get(key))) return false;
    }
    return true;
  }
  if (Array.isArray(x) !== Array.isArray(y)) return false;
  const xKeys = Object.getOwnPropertyNames(x);
  const yKeys = Object.getOwnPropertyNames(y);
  if (xKeys.length !== yKeys.length) return false;
  const xRecord = x as Record<string, unknown>;
  const yRecord = y as Record<string, unknown>;
  return xKeys.every((key) => Object.hasOwn(yRecord, key) && sameValue(xRecord[key], yRecord[key]));
}
