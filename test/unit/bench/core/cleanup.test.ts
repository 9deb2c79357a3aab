// Checks that cleanup runs every step once, newest first, even when a step fails, and forgets removed steps.
import t from 'tap';
import { Cleanup } from '../../../../bench/core/cleanup.js';

t.test('steps run newest first, once, past a failing one', async (t) => {
  const cleanup = new Cleanup();
  const ran: string[] = [];
  cleanup.add(() => ran.push('postgres'));
  cleanup.add(() => {
    throw new Error('already gone');
  });
  const forget = cleanup.add(() => ran.push('stopped earlier'));
  cleanup.add(async () => ran.push('pooler'));
  forget();
  const stderr = process.stderr.write;
  process.stderr.write = () => true; // The failing step's complaint is expected here.
  try {
    await Promise.all([cleanup.runAll(), cleanup.runAll()]);
  } finally {
    process.stderr.write = stderr;
  }
  t.same(ran, ['pooler', 'postgres']);
  await cleanup.runAll();
  t.same(ran, ['pooler', 'postgres'], 'a second runAll does nothing');
});
