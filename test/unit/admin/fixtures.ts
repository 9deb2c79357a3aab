// A minimal AdminHost over a parsed config and an idle scheduler, for testing console modules without sockets.
import { FakeClock } from '../../helpers/fake-clock.js';
import { parseConfig } from '../../../lib/config/schema.js';
import type { SluiceConfig } from '../../../lib/config/types.js';
import type { AdminHost } from '../../../lib/admin/admin-host.js';
import type { CommandContext } from '../../../lib/admin/console/console-reply.js';
import { silentLogger } from '../../../lib/log.js';
import { Scheduler } from '../../../lib/scheduler/scheduler.js';

export function testConfig(raw: Record<string, unknown> = {}): SluiceConfig {
  return parseConfig(
    { auth_type: 'trust', databases: { app: { host: '127.0.0.1' } }, admin_users: ['root'], stats_users: ['watcher'], ...raw },
    { baseDir: '/', fileExists: () => true, readFile: () => '' },
  );
}

export function fakeHost(config: SluiceConfig = testConfig(), over: Partial<AdminHost> = {}): AdminHost {
  const clock = new FakeClock(1000);
  const scheduler = new Scheduler(clock, {
    loginRetryMs: 500,
    policyFor: () => {
      throw new Error('no pools in this test');
    },
  });
  return {
    clock,
    scheduler,
    longShapes: () => [],
    config: () => config,
    wallNow: () => Date.UTC(2024, 4, 1, 12, 0, 0),
    pools: () => [],
    clients: () => [],
    consoles: () => [],
    loginCount: () => 0,
    statsOf: () => undefined,
    when: (test, done) => {
      if (test()) done();
      return () => undefined;
    },
    reload: () => undefined,
    shutdown: () => undefined,
    shuttingDown: false,
    ...over,
  };
}

export function commandContext(host: AdminHost, user = 'root', admin = true): CommandContext {
  return { host, log: silentLogger(), clientId: 1, user, admin, onEnd: () => undefined };
}
