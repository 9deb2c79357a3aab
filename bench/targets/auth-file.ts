// Owns the users file both poolers read (PgBouncer's userlist.txt format) and the readiness probe they share.
import net from 'node:net';

/** `"user" "secret"` lines; a quote inside a field is doubled. */
export function renderUserlist(secrets: ReadonlyMap<string, string>): string {
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return `${[...secrets].map(([user, secret]) => `${quote(user)} ${quote(secret)}`).join('\n')}\n`;
}

/** Resolves once host:port accepts TCP connections; rejects after `timeoutMs` or as soon as `exited` settles. */
export async function waitForPort(host: string, port: number, exited: Promise<unknown>, timeoutMs = 30_000): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone) throw new Error('the process exited before it accepted connections');
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
}
