// Small helpers every benchmark uses to print figures the same way.

export function percentile(sortedAscending: readonly number[], p: number): number {
  if (sortedAscending.length === 0) return Number.NaN;
  const index = Math.min(sortedAscending.length - 1, Math.ceil((p / 100) * sortedAscending.length) - 1);
  return sortedAscending[Math.max(0, index)]!;
}

export function summarize(samples: readonly number[]): {
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
} {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

export const fmt = (value: number, digits = 2): string =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits }) : String(value);

export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Prints one aligned result line: `label ........ value  (target …)`. */
export function report(label: string, value: string, target?: string): void {
  const line = `${label.padEnd(58, ' ')} ${value}`;
  process.stdout.write(target ? `${line.padEnd(90, ' ')} target ${target}\n` : `${line}\n`);
}

/** Quick mode (BENCH_QUICK=1) shrinks sizes for a smoke run; the figures then are not the real ones. */
export const QUICK = process.env.BENCH_QUICK === '1';

/**
 * A memory delta per item; a negative delta means the collector freed more than the items took
 * (noise at small counts), which is said rather than printed as a negative size.
 */
export const perItem = (deltaBytes: number, count: number, unit: 'B' | 'KB'): string =>
  deltaBytes < 0
    ? 'below measurement noise (heap shrank)'
    : unit === 'KB'
      ? `${fmt(deltaBytes / count / 1024, 1)} KB`
      : `${fmt(deltaBytes / count, 0)}`;
