// Runs one alert reactor against a store until SIGTERM/SIGINT:
//   node --import tsx src/runtime/reactorProcess.ts <esdb://connection-string> [snapshot-every-ms]
// Configuration (windows, data dir for the snapshot, log level) comes from the environment as for
// `pricealert serve`. Prints `ready` on stdout once the projections have caught up (tests wait for it).
import { loadConfig } from '../config.ts';
import { connectClient } from '../eventstore/store.ts';
import { createLogger } from '../logger.ts';
import { startReactor } from './reactor.ts';

const connectionString = process.argv[2] ?? process.env.EVENTSTORE_URL;
if (!connectionString) {
  process.stderr.write('usage: reactorProcess.ts <esdb://connection-string> [snapshot-every-ms]\n');
  process.exit(2);
}
const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);
const client = connectClient(connectionString);
const snapshotEveryMs = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const reactor = await startReactor({
  client,
  config,
  logger,
  ...(snapshotEveryMs ? { snapshotEveryMs } : {}),
});
await reactor.ready;
process.stdout.write('ready\n');

const shutdown = async (): Promise<void> => {
  await reactor.stop();
  await client.dispose();
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
