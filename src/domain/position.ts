// `$all` positions as one sortable BigInt. EventStoreDB orders events by (commit, prepare), and the
// events of one append may share a commit position, so both parts count: order = commit·2^64 + prepare.

export interface LogPosition {
  commit: bigint;
  prepare: bigint;
}

const PREPARE_BITS = 64n;
const PREPARE_MASK = (1n << PREPARE_BITS) - 1n;

export const positionOrder = (position: LogPosition): bigint =>
  (position.commit << PREPARE_BITS) | position.prepare;

export const orderPosition = (order: bigint): LogPosition => ({
  commit: order >> PREPARE_BITS,
  prepare: order & PREPARE_MASK,
});

/** `commit/prepare`, as positions are written into event metadata and checkpoints. */
export const formatPosition = (position: LogPosition): string => `${position.commit}/${position.prepare}`;

/** Reads {@link formatPosition}'s text back; a lone number is taken as both parts. */
export function parsePosition(text: unknown): LogPosition | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /^(\d+)(?:\/(\d+))?$/.exec(text);
  if (!match) return undefined;
  const commit = BigInt(match[1]!);
  return { commit, prepare: match[2] === undefined ? commit : BigInt(match[2]) };
}
