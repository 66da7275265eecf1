// A feed can see thousands of bad frames a second; the log gets the first of each kind and then one
// line per interval with how many it left out.
import type { Logger } from '../logger.ts';

export type ThrottledWarn = (key: string, fields: Record<string, unknown>, message: string) => void;

export function throttledWarn(
  logger: Logger,
  intervalMs = 10_000,
  now: () => number = Date.now,
): ThrottledWarn {
  const seen = new Map<string, { at: number; suppressed: number }>();
  return (key, fields, message) => {
    const entry = seen.get(key);
    const at = now();
    if (entry && at - entry.at < intervalMs) {
      entry.suppressed += 1;
      return;
    }
    logger.warn(
      entry && entry.suppressed > 0 ? { ...fields, suppressed: entry.suppressed } : fields,
      message,
    );
    seen.set(key, { at, suppressed: 0 });
  };
}
