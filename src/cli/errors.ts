// How a command ends: usage and configuration problems exit 2, runtime failures exit 1 (CONTRACT §1).

export class UsageError extends Error {
  readonly code = 'USAGE';
}

/**
 * A UsageError, or a ConfigError (config.ts), by its code: `pricealert --help` need not load the config
 * schema and its validator to know how a command ends.
 */
const USAGE_CODES: ReadonlySet<unknown> = new Set(['USAGE', 'CONFIG']);

export function exitCodeFor(error: unknown): number {
  return error instanceof Error && USAGE_CODES.has((error as { code?: unknown }).code) ? 2 : 1;
}

/** Prints the one-line reason on stderr and sets the exit code; never a stack for expected errors. */
export function reportFailure(error: unknown): void {
  const code = exitCodeFor(error);
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`pricealert: ${message.split('\n')[0]}\n`);
  if (code === 1 && process.env.PRICEALERT_DEBUG && error instanceof Error && error.stack) {
    process.stderr.write(`${error.stack}\n`);
  }
  process.exitCode = code;
}
