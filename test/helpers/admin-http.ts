// An undici client for a test Sluice's HTTP admin port, and a throwaway token file for admin_http.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import type { Pooler } from '../../lib/pooler.js';
import type { TeardownHost } from './postgres.js';

export interface AdminReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: any;
}

export interface AdminClient {
  readonly base: string;
  get(path: string, token?: string): Promise<AdminReply>;
  put(path: string, body: unknown, opts?: { token?: string; contentType?: string; raw?: string }): Promise<AdminReply>;
  del(path: string, token?: string): Promise<AdminReply>;
  send(method: 'POST' | 'PATCH', path: string, token?: string): Promise<AdminReply>;
}

export function adminClient(pooler: Pooler, defaultToken?: string): AdminClient {
  const addr = pooler.adminAddress;
  if (!addr) throw new Error('admin_http is not listening');
  const base = `http://127.0.0.1:${addr.port}`;
  const call = async (
    method: string,
    path: string,
    token: string | undefined,
    body?: string,
    contentType?: string,
  ): Promise<AdminReply> => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (contentType) headers['content-type'] = contentType;
    const r = await request(`${base}${path}`, { method: method as 'GET', headers, body });
    const text = await r.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.statusCode, headers: r.headers, text, json };
  };
  return {
    base,
    get: (path, token = defaultToken) => call('GET', path, token),
    put: (path, body, o = {}) =>
      call('PUT', path, o.token ?? defaultToken, o.raw ?? JSON.stringify(body), o.contentType ?? 'application/json'),
    del: (path, token = defaultToken) => call('DELETE', path, token),
    send: (method, path, token = defaultToken) => call(method, path, token),
  };
}

/** Writes `token` to a file in a fresh temporary directory (removed at teardown); returns its path. */
export function tokenFile(t: TeardownHost, token: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'admin-token');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return file;
}
