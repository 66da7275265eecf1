// Growable typed-array columns for the trade store of averagePrice: 8 bytes a value, no object per trade.

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/**
 * Scaled decimal units, one per trade. Held in a BigInt64Array while every value fits 64 bits (real
 * venues' prices and sizes always do); a value that does not turns the column into a plain BigInt
 * array, slower and larger but still exact.
 */
export class UnitsColumn {
  private fixed: BigInt64Array | undefined;
  private wide: bigint[] | undefined;

  constructor(capacity: number) {
    this.fixed = new BigInt64Array(capacity);
  }

  /** A column holding `values` (as {@link slice} gave them), with room for `capacity`. */
  static of(values: BigInt64Array | bigint[], capacity: number): UnitsColumn {
    const column = new UnitsColumn(capacity);
    if (values instanceof BigInt64Array) column.fixed!.set(values);
    else values.forEach((value, index) => column.set(index, value));
    return column;
  }

  /** A copy of the values in [from, to). */
  slice(from: number, to: number): BigInt64Array | bigint[] {
    return this.fixed ? this.fixed.slice(from, to) : this.wide!.slice(from, to);
  }

  get(index: number): bigint {
    return this.fixed ? this.fixed[index]! : this.wide![index]!;
  }

  set(index: number, value: bigint): void {
    if (this.fixed) {
      if (value <= INT64_MAX && value >= INT64_MIN) {
        this.fixed[index] = value;
        return;
      }
      this.wide = Array.from(this.fixed);
      this.fixed = undefined;
    }
    this.wide![index] = value;
  }

  copyWithin(target: number, start: number, end: number): void {
    if (this.fixed) this.fixed.copyWithin(target, start, end);
    else this.wide!.copyWithin(target, start, end);
  }

  /** Room for `capacity` values. (A wide column keeps its length at its capacity too: copyWithin never extends an array.) */
  grow(capacity: number): void {
    if (!this.fixed) {
      while (this.wide!.length < capacity) this.wide!.push(0n);
      return;
    }
    const bigger = new BigInt64Array(capacity);
    bigger.set(this.fixed);
    this.fixed = bigger;
  }

  /** Multiplies the values in [from, to) by `factor` (a scale change: a trade with more decimals arrived). */
  multiply(factor: bigint, from: number, to: number): void {
    for (let index = from; index < to; index += 1) this.set(index, this.get(index) * factor);
  }

  get bytes(): number {
    return this.fixed ? this.fixed.byteLength : this.wide!.length * 40;
  }
}

/**
 * A double-ended queue of store indices with middle insertion, for the monotonic high/low deques.
 * Int32 entries: indices are physical positions in the store, re-based when the store compacts.
 */
export class IndexDeque {
  private buffer = new Int32Array(16);
  private head = 0;
  private tail = 0;

  /** A deque holding `values`, front first. */
  static of(values: Int32Array): IndexDeque {
    const deque = new IndexDeque();
    deque.buffer = new Int32Array(Math.max(16, values.length * 2));
    deque.buffer.set(values);
    deque.tail = values.length;
    return deque;
  }

  /** A copy of the entries, front first, each less `offset`. */
  values(offset = 0): Int32Array {
    return this.buffer.slice(this.head, this.tail).map((value) => value - offset);
  }

  get size(): number {
    return this.tail - this.head;
  }

  at(offset: number): number {
    return this.buffer[this.head + offset]!;
  }

  front(): number {
    return this.buffer[this.head]!;
  }

  back(): number {
    return this.buffer[this.tail - 1]!;
  }

  popFront(): void {
    this.head += 1;
    if (this.head === this.tail) this.head = this.tail = 0;
  }

  popBack(): void {
    this.tail -= 1;
    if (this.head === this.tail) this.head = this.tail = 0;
  }

  pushBack(value: number): void {
    this.ensureRoom();
    this.buffer[this.tail] = value;
    this.tail += 1;
  }

  /** Replaces `removeCount` entries starting at `offset` with `value` (when given). */
  splice(offset: number, removeCount: number, value?: number): void {
    const at = this.head + offset;
    if (removeCount > 0) {
      this.buffer.copyWithin(at, at + removeCount, this.tail);
      this.tail -= removeCount;
    }
    if (value !== undefined) {
      this.ensureRoom();
      this.buffer.copyWithin(at + 1, at, this.tail);
      this.buffer[at] = value;
      this.tail += 1;
    }
    if (this.head === this.tail) this.head = this.tail = 0;
  }

  /** Adds `delta` to every entry ≥ `from` (entries are increasing, so a suffix). */
  shift(from: number, delta: number): void {
    for (let index = this.tail - 1; index >= this.head && this.buffer[index]! >= from; index -= 1)
      this.buffer[index]! += delta;
  }

  /** Subtracts `offset` from every entry (the store moved its live part to the front). */
  rebase(offset: number): void {
    for (let index = this.head; index < this.tail; index += 1) this.buffer[index]! -= offset;
  }

  get bytes(): number {
    return this.buffer.byteLength;
  }

  private ensureRoom(): void {
    if (this.tail < this.buffer.length) return;
    if (this.head > this.buffer.length / 2) {
      this.buffer.copyWithin(0, this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
      return;
    }
    const bigger = new Int32Array(this.buffer.length * 2);
    bigger.set(this.buffer.subarray(this.head, this.tail));
    this.tail -= this.head;
    this.head = 0;
    this.buffer = bigger;
  }
}
