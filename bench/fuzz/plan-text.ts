// Owns the readable form of a fuzz session's plan, so a failure found by seed can be read and rebuilt by hand.
import type { SessionPlan, Step } from './session-plan.js';

/** Frames in a send as "Q(34) d(21) ..." (type character and length), with anything unframeable shown as raw bytes. */
function frames(bytes: Buffer): string {
  const out: string[] = [];
  let at = 0;
  while (at + 5 <= bytes.length) {
    const len = bytes.readInt32BE(at + 1);
    const printable = bytes[at] >= 0x20 && bytes[at] < 0x7f;
    if (!printable || len < 4 || at + 1 + len > bytes.length) break;
    const body = bytes.toString('utf8', at + 5, Math.min(at + 1 + len, at + 45)).replace(/[\0\n\t]/g, ' ');
    out.push(`${String.fromCharCode(bytes[at])}(${len}${body.trim() ? ` "${body.trim()}"` : ''})`);
    at += 1 + len;
  }
  if (at < bytes.length)
    out.push(`raw[${bytes.length - at}: ${bytes.subarray(at, at + 16).toString('hex')}${bytes.length - at > 16 ? '…' : ''}]`);
  return out.join(' ');
}

function step(s: Step): string {
  switch (s.kind) {
    case 'send': {
      const split = s.split.cuts.length ? ` split at ${s.split.cuts.map((c, i) => `${c}+${s.split.pauseMs[i]}ms`).join(',')}` : '';
      return `send ${frames(s.bytes)}${split}`;
    }
    case 'await':
      return `read until ${s.until}`;
    case 'halfClose':
      return 'half-close (end)';
    case 'destroy':
      return 'vanish (destroy)';
    case 'cancel':
      return `CancelRequest on a new connection, with ${s.keyOffset === 0 ? "this session's key" : `its secret ${s.keyOffset > 0 ? '+' : ''}${s.keyOffset}`}`;
  }
}

export function describePlan(plan: SessionPlan): string[] {
  return [
    `session ${plan.index} (${plan.token}) as ${plan.as} user, application_name ${plan.applicationName}, login ${plan.loginFault}`,
    ...plan.steps.map((s, i) => `  ${String(i + 1).padStart(3)}. ${step(s)}`),
  ];
}
