// What the transaction being admitted is: its query class, and its learned-lane key while its hold time is being learned.
import type { IsolationConfig } from '../../config/types.js';
import { LONG_CLASS } from '../../config/isolation-schema.js';
import { Frontend } from '../../protocol/codes.js';
import { bindStatementStart } from '../../protocol/statement-frames.js';
import { classOfMessage, sqlTextOf } from './classify.js';
import { LaneLearner } from './lane-learner.js';

export class TransactionShape {
  /** The query class of the transaction being admitted or run. */
  cls = 'default';
  /** The adaptive limit wants server-side latency samples of this transaction. */
  measureLatency = false;
  /** An elastic transaction's statement shape, until its first request's latency is sampled under it. */
  private elasticShape: string | null = null;
  /** The learned lane's key and text of the first statement, when it is being learned. */
  private key: string | null = null;
  private sql = '';

  /** Decides from the transaction's first message; the learned lane is the last rule, for work nothing else classified. */
  decide(iso: IsolationConfig, ruleClass: string | null, lanes: LaneLearner, type: number, buf: Buffer, start: number, end: number): void {
    this.cls = classOfMessage(iso, ruleClass, type, buf, start, end);
    this.measureLatency = iso.adaptive.enabled;
    this.elasticShape = this.measureLatency && iso.classes.get(this.cls)?.elastic ? elasticShapeOf(this.cls, type, buf, start, end) : null;
    this.key = null;
    if (iso.long_threshold <= 0 || this.cls !== 'default') return;
    const sql = sqlTextOf(type, buf, start, end);
    const key = sql === null ? null : LaneLearner.keyOf(sql);
    if (key === null) return;
    this.key = key;
    this.sql = sql!;
    if (!lanes.isLong(key, iso.long_threshold)) return;
    this.cls = LONG_CLASS;
    // An elastic learned class feeds elastic work's own gradient, judged by the shape it was learned by.
    if (this.measureLatency && iso.classes.get(LONG_CLASS)?.elastic) this.elasticShape = key;
  }

  /** The shape a latency sample of this transaction is judged under: its first request's only (later ones differ). */
  takeElasticShape(): string | null {
    const shape = this.elasticShape;
    this.elasticShape = null;
    return shape;
  }

  /** Reports how long the transaction held its slot, once, when it is being learned. */
  observe(lanes: LaneLearner, heldMs: number): void {
    if (this.key === null) return;
    lanes.observe(this.key, this.sql, heldMs);
    this.key = null;
  }
}

/** SQL text with literals masked; a Bind's statement name; else the class (off the relay path: elastic work only). */
function elasticShapeOf(cls: string, type: number, buf: Buffer, start: number, end: number): string {
  const sql = sqlTextOf(type, buf, start, end);
  if (sql !== null) return LaneLearner.shapeOf(sql);
  const at = type === Frontend.Bind ? bindStatementStart(buf, start, end) : -1;
  const nul = at < 0 ? -1 : buf.indexOf(0, at);
  return nul < 0 || nul > end ? `class ${cls}` : `statement ${buf.toString('latin1', at, nul)}`;
}
