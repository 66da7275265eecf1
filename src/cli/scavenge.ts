// `pricealert scavenge`: asks a node to scavenge (EventStoreDB's Operations.StartScavenge) and prints its
// progress until it completes: the node running on the data dir (started for the occasion when none
// is), or the node of `--url`/EVENTSTORE_URL.
import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { liveLock, startEmbeddedNode, type EmbeddedNode } from '../eventstore/embedded/index.ts';
import { ScavengeEvent, followScavenge, startScavenge, type ScavengeStep } from '../eventstore/scavenge.ts';
import { connectClient } from '../eventstore/store.ts';
import { UsageError } from './errors.ts';

interface ScavengeFlags {
  data?: string;
  url?: string;
}

const size = (bytes: unknown): string => {
  const n = Number(bytes);
  return n >= 1_000_000 ? `${(n / 1_000_000).toFixed(1)} MB` : `${(n / 1_000).toFixed(1)} kB`;
};

/** One line per step of the scavenge's own stream. */
function describe({ type, data }: ScavengeStep): string {
  switch (type) {
    case ScavengeEvent.started:
      return `scavenge ${String(data.scavengeId)} started on ${String(data.nodeEndpoint)}`;
    case ScavengeEvent.streamCompleted:
      return `  ${String(data.streamName)}: ${String(data.eventsRemoved)} events removed (${String(data.timeTaken)})`;
    case ScavengeEvent.spaceReclaimed:
      return `  file: ${size(data.bytesBefore)} -> ${size(data.bytesAfter)}`;
    case ScavengeEvent.completed:
      return `scavenge ${String(data.scavengeId)}: ${String(data.result)}${data.error ? ` (${String(data.error)})` : ''}, ${String(data.eventsRemoved ?? 0)} events removed, ${size(data.spaceSaved)} saved in ${String(data.timeTaken)}`;
    default:
      return `  ${type}`;
  }
}

export function defineScavenge(command: Command): void {
  command
    .option('--data <dir>', 'the data dir of the embedded node (PRICEALERT_DATA_DIR)')
    .option('--url <esdb>', 'an esdb:// connection string instead (EVENTSTORE_URL)')
    .action(async (flags: ScavengeFlags) => {
      if (flags.data && flags.url) throw new UsageError('give --data or --url, not both');
      if (flags.url && !/^esdb(\+discover)?:\/\//.test(flags.url))
        throw new UsageError(`--url "${flags.url}": use an esdb:// connection string`);
      const config = loadConfig(process.env, { PRICEALERT_DATA_DIR: flags.data });
      const url = flags.url ?? (flags.data ? undefined : config.EVENTSTORE_URL);
      let started: EmbeddedNode | undefined;
      let connectionString = url ?? liveLock(config.PRICEALERT_DATA_DIR)?.connectionString;
      if (!connectionString) {
        started = await startEmbeddedNode({ dataDir: config.PRICEALERT_DATA_DIR, logLevel: 'warn' });
        connectionString = started.connectionString;
      }
      const client = connectClient(connectionString);
      try {
        const answer = await startScavenge(connectionString);
        if (answer.result === 'in_progress')
          process.stdout.write(`scavenge ${answer.scavengeId} is already running; following it\n`);
        const completed = await followScavenge(client, answer.scavengeId, (step) =>
          process.stdout.write(`${describe(step)}\n`),
        );
        if (completed.data.result !== 'Success') process.exitCode = 1;
      } finally {
        await client.dispose();
        await started?.stop();
      }
    });
}
