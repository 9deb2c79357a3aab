// Why a slot queue refuses a transaction, and the counters it keeps per reason.
export type RejectReason = 'queue_full' | 'early' | 'timeout' | 'rate' | 'limit' | 'cancel';

export type RejectionCounts = Record<RejectReason, number>;

export function zeroCounts(): RejectionCounts {
  return { queue_full: 0, early: 0, timeout: 0, rate: 0, limit: 0, cancel: 0 };
}
