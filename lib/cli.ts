#!/usr/bin/env node
// The `sluice` command: argv, config loading, signals (SIGHUP reload, SIGTERM drain, SIGINT stop) and exit codes.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfigFile } from './config/load.js';
import { importPgBouncer } from './config/import-pgbouncer.js';
import { importToYaml } from './config/import-yaml.js';
import { PgBouncerIniError, readPgBouncerIni } from './config/pgbouncer-ini.js';
import { ConfigError } from './config/schema.js';
import type { SluiceConfig } from './config/types.js';
import { createLogger, type Logger } from './log.js';
import { Pooler } from './pooler.js';

const USAGE = `usage: sluice [--config] [sluice.yaml] [--port N]
  --config FILE   run against the servers in FILE (YAML); a bare FILE argument works too
  (no --config)   quickstart: start an embedded Postgres and Sluice in front of it
  --port N        quickstart listen port (default 6432)
usage: sluice import pgbouncer.ini [--userlist FILE]
  writes an equivalent sluice.yaml to stdout; what does not carry over is listed at its top`;

async function main(): Promise<number> {
  if (process.argv[2] === 'import') return runImport(process.argv.slice(3));
  const { values, positionals } = parseArgs({
    options: { config: { type: 'string', short: 'c' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  const configPath = values.config ?? positionals[0];
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const log = createLogger();
  if (configPath) return runWithConfig(configPath, log);
  return runQuickstart(Number(values.port ?? process.env.SLUICE_PORT ?? 6432), log);
}

/** `sluice import`: pgbouncer.ini (and its userlist) to YAML on stdout; exit 1 if PgBouncer would not load the file either. */
function runImport(args: string[]): number {
  const { values, positionals } = parseArgs({ args, options: { userlist: { type: 'string' } }, allowPositionals: true });
  const iniPath = positionals[0];
  if (iniPath === undefined || positionals.length > 1) {
    console.error(USAGE);
    return 2;
  }
  try {
    const ini = readPgBouncerIni(iniPath);
    const userlist = values.userlist === undefined ? undefined : { path: values.userlist, text: fs.readFileSync(values.userlist, 'utf8') };
    const result = importPgBouncer(ini, userlist === undefined ? {} : { userlist });
    process.stdout.write(importToYaml(result, { source: iniPath }));
    for (const issue of result.unsupported) console.error(`sluice import: ${issue.setting}: ${issue.reason}`);
    return 0;
  } catch (err) {
    console.error(`sluice import: ${err instanceof PgBouncerIniError ? err.message : String(err)}`);
    return 1;
  }
}

async function runWithConfig(path: string, log: Logger): Promise<number> {
  let config: SluiceConfig;
  try {
    config = loadConfigFile(path);
  } catch (err) {
    console.error(err instanceof ConfigError ? `sluice: invalid config ${path}:\n${err.message}` : String(err));
    return 1;
  }
  // SIGHUP, a changed file and the console's RELOAD all reload through this one source.
  const pooler = new Pooler(config, { log, configSource: () => loadConfigFile(path) });
  await pooler.listen();
  const reload = (why: string): void => {
    try {
      pooler.reloadFromSource(why);
    } catch {
      // Logged by the pooler; the old configuration stays.
    }
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  watchFile(path, () => reload('file changed'));
  onStopSignals(pooler, log);
  await pooler.closed;
  return 0;
}

async function runQuickstart(port: number, log: Logger): Promise<number> {
  console.log('Starting an embedded Postgres for the quickstart (no --config given)...');
  // Loaded only here: a --config start should not pay for the embedded Postgres modules.
  const { startQuickstart } = await import('./quickstart.js');
  const qs = await startQuickstart(port, () => undefined);
  const pooler = new Pooler(qs.config, { log });
  try {
    await pooler.listen();
  } catch (err) {
    await qs.postgres.stop();
    console.error(`sluice: cannot listen on 127.0.0.1:${port}: ${(err as Error).message} (try --port)`);
    return 1;
  }
  console.log(`\nSluice is ready (transaction pooling, Postgres ${qs.postgres.version}). Connect with:\n`);
  console.log(`  psql "postgresql://${qs.user}:${qs.password}@127.0.0.1:${port}/${qs.database}"\n`);
  console.log('Press Ctrl-C to stop; the embedded Postgres and its data are removed.');
  onStopSignals(pooler, log);
  await pooler.closed;
  await qs.postgres.stop();
  return 0;
}

/** Re-reads the file when it changes on disk; debounced, since editors write in several steps. */
function watchFile(path: string, onChange: () => void): void {
  let timer: NodeJS.Timeout | null = null;
  fs.watchFile(path, { interval: 1000 }, (cur, prev) => {
    if (cur.mtimeMs === prev.mtimeMs) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, 200);
  }).unref();
}

/**
 * SIGTERM: graceful (no new clients, running transactions finish within shutdown_timeout); a second
 * SIGTERM, or SIGINT, stops at once. The console's SHUTDOWN ends the process the same way: main()
 * returns once pooler.closed resolves.
 */
function onStopSignals(pooler: Pooler, log: Logger): void {
  let terms = 0;
  process.on('SIGTERM', () => {
    terms++;
    log.info({ signal: 'SIGTERM', immediate: terms > 1 }, 'stop requested');
    void (terms > 1 ? pooler.close() : pooler.drain());
  });
  process.on('SIGINT', () => {
    log.info({ signal: 'SIGINT', immediate: true }, 'stop requested');
    void pooler.close();
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`sluice: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
