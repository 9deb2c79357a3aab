// The YAML of the `metrics` and `admin_http` sections, and reading the admin token from its file or variable.
import { resolve as resolvePath } from 'node:path';
import type { z } from 'zod';
import type { AdminHttpConfig, MetricsConfig } from './types.js';
import { integer, section, text } from './fields.js';

export const METRICS_DEFAULTS = Object.freeze({ max_tenants: 100 });
export const ADMIN_HTTP_DEFAULTS = Object.freeze({ listen_addr: '127.0.0.1', port: 9930 });

export const observabilityShape = {
  metrics: section({ max_tenants: integer(1).default(METRICS_DEFAULTS.max_tenants) }).prefault({}),
  admin_http: section({
    listen_addr: text().default(ADMIN_HTTP_DEFAULTS.listen_addr),
    // 0 asks the OS for a free port, as listen_port does.
    port: integer(0, 65535).default(ADMIN_HTTP_DEFAULTS.port),
    token_file: text().optional(),
    token_env: text().optional(),
  }).optional(),
};

type Raw = z.output<z.ZodObject<typeof observabilityShape>>;

export interface TokenSources {
  readonly baseDir: string;
  readFile(path: string): string;
  readonly env: NodeJS.ProcessEnv;
}

export function buildMetrics(raw: Raw): MetricsConfig {
  return Object.freeze({ max_tenants: raw.metrics.max_tenants });
}

/** The admin HTTP section; the token is read now, so a reload picks up a rotated one. */
export function buildAdminHttp(raw: Raw, src: TokenSources, problems: string[]): AdminHttpConfig | undefined {
  const a = raw.admin_http;
  if (!a) return undefined;
  const built: Record<string, unknown> = { listen_addr: a.listen_addr, port: a.port };
  const token = readToken(a, src, problems);
  // Non-enumerable, like every secret in the snapshot: printing the config never shows it.
  if (token !== undefined) Object.defineProperty(built, 'token', { value: token, enumerable: false, writable: false });
  return Object.freeze(built) as unknown as AdminHttpConfig;
}

function readToken(a: NonNullable<Raw['admin_http']>, src: TokenSources, problems: string[]): string | undefined {
  if (a.token_file !== undefined && a.token_env !== undefined) {
    problems.push('admin_http: set token_file or token_env, not both');
    return undefined;
  }
  if (a.token_file !== undefined) {
    const file = resolvePath(src.baseDir, a.token_file);
    let text: string;
    try {
      text = src.readFile(file);
    } catch (err) {
      problems.push(`admin_http.token_file: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
    return nonEmpty(text.trim(), `admin_http.token_file: ${file} is empty`, problems);
  }
  if (a.token_env !== undefined) {
    return nonEmpty(
      (src.env[a.token_env] ?? '').trim(),
      `admin_http.token_env: environment variable ${a.token_env} is not set or empty`,
      problems,
    );
  }
  return undefined;
}

function nonEmpty(token: string, problem: string, problems: string[]): string | undefined {
  if (token.length > 0) return token;
  problems.push(problem);
  return undefined;
}
