// Owns running one hostile session against Sluice: login, its planned steps, and a check that every tagged row it reads is its own.
import { serialize } from '../../lib/protocol/pg-protocol.js';
import { Prng } from './prng.js';
import type { SessionPlan, Step } from './session-plan.js';
import { login, type Credentials } from './wire-login.js';
import { WireSocket, type BackendMsg } from './wire-socket.js';

export interface FuzzEndpoint {
  host: string;
  port: number;
  /** The good clients' user: fuzz sessions that log in as it share their pool. */
  shared: Omit<Credentials, 'applicationName'>;
  /** A user Sluice asks for md5. */
  md5: Omit<Credentials, 'applicationName'>;
}

export interface SessionResult {
  /** Frontend messages written (a mutated frame counts as one). */
  messages: number;
  /** Rows or COPY data of another session read by this one. */
  wrong: string[];
  /** Could not connect at all. */
  refused: boolean;
}

/** How long a hostile session waits for an answer before it goes on regardless. */
const AWAIT_MS = 1000;
const AWAIT_MATCH: Record<string, (m: BackendMsg) => boolean> = {
  readyForQuery: (m) => m.name === 'readyForQuery',
  copyInResponse: (m) => m.name === 'copyInResponse' || m.name === 'readyForQuery',
  copyData: (m) => m.name === 'copyData' || m.name === 'readyForQuery',
  dataRow: (m) => m.name === 'dataRow' || m.name === 'readyForQuery',
};

/** The `tok:` token a row or COPY line carries, if any. */
export function tokenOf(m: BackendMsg): string | null {
  let text: string | null = null;
  if (m.name === 'dataRow') text = (m.fields as (string | null)[])[0] ?? null;
  else if (m.name === 'copyData') text = (m.chunk as Buffer).toString('utf8', 0, 24);
  if (!text?.startsWith('tok:')) return null;
  return text.split('\t')[0];
}

function checkTokens(plan: SessionPlan, messages: BackendMsg[], wrong: string[]): void {
  for (const m of messages) {
    const token = tokenOf(m);
    if (token !== null && token !== plan.token) wrong.push(`session ${plan.index} (${plan.token}) read ${m.name} of ${token}`);
  }
}

/** Sends a CancelRequest on its own connection and waits until Sluice closes it. */
async function sendCancel(sock: WireSocket, endpoint: FuzzEndpoint, keyOffset: number): Promise<number> {
  if (!sock.cancelKey) return 0;
  const { pid, secret } = sock.cancelKey;
  const other = await WireSocket.connect(endpoint.host, endpoint.port).catch(() => null);
  if (!other) return 0;
  await other.send(serialize.cancel(pid, (secret + keyOffset) | 0));
  await other.until(() => false, AWAIT_MS);
  other.destroy();
  return 1;
}

async function runStep(sock: WireSocket, step: Step, plan: SessionPlan, wrong: string[], endpoint: FuzzEndpoint): Promise<number> {
  switch (step.kind) {
    case 'cancel':
      return sendCancel(sock, endpoint, step.keyOffset);
    case 'send':
      await sock.send(step.bytes, step.split);
      return step.messages;
    case 'await':
      checkTokens(plan, (await sock.until(AWAIT_MATCH[step.until], AWAIT_MS)).messages, wrong);
      return 0;
    case 'halfClose':
      sock.halfClose();
      return 0;
    case 'destroy':
      sock.destroy();
      return 0;
  }
}

export async function runSession(plan: SessionPlan, endpoint: FuzzEndpoint, seed: number): Promise<SessionResult> {
  const result: SessionResult = { messages: 0, wrong: [], refused: false };
  let sock: WireSocket;
  try {
    sock = await WireSocket.connect(endpoint.host, endpoint.port);
  } catch {
    return { ...result, refused: true };
  }
  const user = plan.as === 'shared' ? endpoint.shared : endpoint.md5;
  // Login writes are split by their own stream of the seed, so the plan's draws stay as they were.
  const outcome = await login(
    sock,
    { ...user, applicationName: plan.applicationName },
    new Prng(seed, 1_000_000 + plan.index),
    plan.loginFault,
  );
  result.messages += 2;
  if (outcome === 'ready') {
    for (const step of plan.steps) {
      result.messages += await runStep(sock, step, plan, result.wrong, endpoint);
      checkTokens(plan, sock.drain(), result.wrong);
      if (!sock.isOpen) break;
    }
  }
  // Whatever it half-closed, the session is over: let the last answers come, then go.
  if (sock.isOpen) checkTokens(plan, (await sock.until(() => false, sock.socket.writableEnded ? AWAIT_MS : 0)).messages, result.wrong);
  sock.destroy();
  return result;
}
