// A reactor's leases alone in a process of their own, for the lease tests to kill -9:
// `node --import tsx leaseHolder.ts <connectionString> <holder> <ttlMs> <renewEveryMs> <tickMs> <products…>`.
// Prints `held <products>` whenever what it holds changes.
import { connectClient } from '../../src/eventstore/store.ts';
import { createLogger } from '../../src/logger.ts';
import { startLeases } from '../../src/runtime/leases.ts';

const [connectionString, holder, ttlMs, renewEveryMs, tickMs, ...products] = process.argv.slice(2);
const leases = await startLeases({
  client: connectClient(connectionString!),
  products,
  holder: holder!,
  ttlMs: Number(ttlMs),
  renewEveryMs: Number(renewEveryMs),
  tickMs: Number(tickMs),
  logger: createLogger('silent'),
});
const report = (): void => void process.stdout.write(`held ${leases.held().join(',')}\n`);
leases.onChange(report);
report();
