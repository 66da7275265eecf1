// Connecting to the event store: a cluster named by EVENTSTORE_URL, the node already running on the
// data dir (its node.lock), or a new embedded node started here (CONTRACT §1).
import { EventStoreDBClient } from '@eventstore/db-client';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { EmbeddedNodeError, liveLock, startEmbeddedNode, type EmbeddedNode } from './embedded/index.ts';

export interface StoreHandle {
  readonly client: EventStoreDBClient;
  readonly connectionString: string;
  /** Set when this handle started the node (and stops it on close). */
  readonly embedded?: EmbeddedNode;
  close(): Promise<void>;
}

const EXIT_LOCKED = 2;

function handle(connectionString: string, embedded?: EmbeddedNode): StoreHandle {
  const client = EventStoreDBClient.connectionString(connectionString);
  let closing: Promise<void> | undefined;
  return {
    client,
    connectionString,
    ...(embedded ? { embedded } : {}),
    close: () => {
      closing ??= (async () => {
        await client.dispose();
        await embedded?.stop();
      })();
      return closing;
    },
  };
}

export async function openStore(config: Config, logger: Logger): Promise<StoreHandle> {
  const log = logger.child({ component: 'eventstore' });
  if (config.EVENTSTORE_URL) {
    log.info('using the event store at EVENTSTORE_URL');
    return handle(config.EVENTSTORE_URL);
  }
  const dataDir = config.PRICEALERT_DATA_DIR;
  const running = liveLock(dataDir);
  if (running?.connectionString) {
    log.info({ pid: running.pid, connectionString: running.connectionString }, 'using the node already running on the data dir');
    return handle(running.connectionString);
  }
  try {
    const node = await startEmbeddedNode({ dataDir, logLevel: config.LOG_LEVEL });
    return handle(node.connectionString, node);
  } catch (error) {
    // Another process started a node on this data dir in the meantime: use it.
    const winner = error instanceof EmbeddedNodeError && error.exitCode === EXIT_LOCKED ? liveLock(dataDir) : undefined;
    if (winner?.connectionString) return handle(winner.connectionString);
    throw error;
  }
}
