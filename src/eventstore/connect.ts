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

/** How long to wait for a node that holds the lock but has not yet published its connection string. */
const STARTING_NODE_WAIT_MS = 10_000;

/** The connection string of the node that owns the data dir, once it has published one. */
async function publishedBy(dataDir: string): Promise<string | undefined> {
  const deadline = Date.now() + STARTING_NODE_WAIT_MS;
  for (;;) {
    const lock = liveLock(dataDir);
    if (!lock) return undefined;
    if (lock.connectionString) return lock.connectionString;
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

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
    log.info(
      { pid: running.pid, connectionString: running.connectionString },
      'using the node already running on the data dir',
    );
    return handle(running.connectionString);
  }
  try {
    const node = await startEmbeddedNode({ dataDir, logLevel: config.LOG_LEVEL });
    return handle(node.connectionString, node);
  } catch (error) {
    // Another process started a node on this data dir in the meantime: use it.
    const winner =
      error instanceof EmbeddedNodeError && error.locked ? await publishedBy(dataDir) : undefined;
    if (winner) return handle(winner);
    throw error;
  }
}
