// The HTTP admin port (node:http): routing, bearer-token auth, JSON bodies and error answers.
import crypto from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { HttpError, httpError } from '../../errors.js';
import type { ReadinessReport } from './readiness.js';
import { deleteTenant, getTenant, listTenants, putTenant, type TenantDirectory } from './tenant-routes.js';

const MAX_BODY = 64 * 1024;

export interface AdminContext extends TenantDirectory {
  /** The Prometheus exposition and its content type. */
  scrape(): Promise<string>;
  readonly metricsContentType: string;
  readiness(): Promise<ReadinessReport>;
}

interface HttpReply {
  status: number;
  body: unknown;
  /** Plain text bodies (the exposition) carry their own type; everything else is JSON. */
  contentType?: string;
  headers?: Record<string, string>;
}

type Route = {
  methods: readonly string[];
  write?: boolean;
  open?: boolean;
  run(req: http.IncomingMessage, param: string): Promise<HttpReply> | HttpReply;
};

export class AdminHttpServer {
  private readonly server: http.Server;
  private readonly routes: Array<[RegExp, Route]>;

  constructor(private readonly ctx: AdminContext) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    const json = (body: unknown): HttpReply => ({ status: 200, body });
    this.routes = [
      [/^\/healthz$/, { methods: ['GET'], open: true, run: () => json({ status: 'ok' }) }],
      [/^\/readyz$/, { methods: ['GET'], open: true, run: () => this.readyz() }],
      [
        /^\/metrics$/,
        { methods: ['GET'], run: async () => ({ status: 200, body: await ctx.scrape(), contentType: ctx.metricsContentType }) },
      ],
      [/^\/tenants$/, { methods: ['GET'], run: () => json(listTenants(ctx)) }],
      [/^\/tenants\/([^/]+)$/, { methods: ['GET'], run: (_q, id) => json(getTenant(ctx, id)) }],
      [/^\/tenants\/([^/]+)$/, { methods: ['PUT'], write: true, run: async (q, id) => json(putTenant(ctx, id, await readJson(q))) }],
      [/^\/tenants\/([^/]+)$/, { methods: ['DELETE'], write: true, run: (_q, id) => json(deleteTenant(ctx, id)) }],
    ];
  }

  listen(host: string, port: number): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', reject);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  get address(): net.AddressInfo | null {
    return (this.server.address() as net.AddressInfo | null) ?? null;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let reply: HttpReply;
    try {
      reply = await this.route(req);
    } catch (err) {
      reply = errorReply(err, this.ctx);
    }
    send(res, reply);
  }

  private async route(req: http.IncomingMessage): Promise<HttpReply> {
    const path = new URL(req.url ?? '/', 'http://admin').pathname;
    const method = req.method ?? 'GET';
    let allowed: string[] = [];
    for (const [re, route] of this.routes) {
      const m = re.exec(path);
      if (!m) continue;
      if (!route.methods.includes(method)) {
        allowed.push(...route.methods);
        continue;
      }
      if (!route.open) this.authorize(req, route.write === true);
      return route.run(req, m[1] === undefined ? '' : decodeSegment(m[1]));
    }
    if (allowed.length === 0) throw httpError('SLUICE_HTTP_NOT_FOUND', { path });
    allowed = [...new Set(allowed)];
    throw httpError('SLUICE_HTTP_METHOD_NOT_ALLOWED', { method, allow: allowed.join(', ') });
  }

  /** With a token configured, every non-probe endpoint needs it; without one, writes are refused. */
  private authorize(req: http.IncomingMessage, write: boolean): void {
    const token = this.ctx.config().admin_http?.token;
    if (token === undefined) {
      if (write) throw httpError('SLUICE_HTTP_READ_ONLY');
      return;
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m || !sameSecret(m[1]!, token)) throw httpError('SLUICE_HTTP_UNAUTHORIZED');
  }

  private async readyz(): Promise<HttpReply> {
    const r = await this.ctx.readiness();
    return {
      status: r.ready ? 200 : 503,
      body: { status: r.ready ? 'ready' : 'not_ready', listening: r.listening, databases: r.databases },
    };
  }
}

/** Compares digests, so neither the token's length nor its prefix leaks through timing. */
function sameSecret(given: string, token: string): boolean {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b);
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw httpError('SLUICE_HTTP_BAD_REQUEST', { reason: `bad percent-encoding in path segment "${s}"` });
  }
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) throw httpError('SLUICE_HTTP_UNSUPPORTED_MEDIA_TYPE');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw httpError('SLUICE_HTTP_BODY_TOO_LARGE', { max: MAX_BODY });
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw httpError('SLUICE_HTTP_BAD_REQUEST', { reason: `the body is not valid JSON (${(err as Error).message})` });
  }
}

function errorReply(thrown: unknown, ctx: AdminContext): HttpReply {
  if (!(thrown instanceof HttpError))
    ctx.log.error({ err: thrown instanceof Error ? thrown.message : String(thrown) }, 'admin API request failed');
  const err = thrown instanceof HttpError ? thrown : httpError('SLUICE_HTTP_INTERNAL');
  const body = { error: { code: err.code, message: err.message, ...(err.problems ? { problems: err.problems } : {}) } };
  const headers: Record<string, string> = {};
  if (err.status === 401) headers['www-authenticate'] = 'Bearer realm="sluice"';
  // The rest of an oversized body is never read; closing is the only clean way out.
  if (err.status === 413) headers.connection = 'close';
  return { status: err.status, body, headers };
}

function send(res: http.ServerResponse, r: HttpReply): void {
  if (res.headersSent) return;
  const text = typeof r.body === 'string' ? r.body : `${JSON.stringify(r.body, null, 2)}\n`;
  res.writeHead(r.status, {
    'content-type': r.contentType ?? 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...r.headers,
  });
  res.end(text);
}
