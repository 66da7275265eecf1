// Connecting to the event store: a cluster named by EVENTSTORE_URL, the node already running on the
// data dir (its node.lock), or a new embedded node started here (CONTRACT §1).
import { connect } from 'node:net';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { EmbeddedNodeError, liveLock, startEmbeddedNode, type EmbeddedNode } from './embedded/index.ts';
import { connectClient, type StoreClient } from './store.ts';

export interface StoreHandle {
  readonly client: StoreClient;
  readonly connectionString: string;
  /** Set when this handle started the node (and stops it on close). */
  readonly embedded?: EmbeddedNode;
  close(): Promise<void>;
}

/** How long to wait for a node that holds the lock but does not answer yet (starting, or dying). */
const STARTING_NODE_WAIT_MS = 10_000;
/** How long one probe of a node's port may take. */
const PROBE_MS = 500;
/** HTTP/2's client preface and an empty SETTINGS frame: a live gRPC server answers with its SETTINGS. */
const HTTP2_HELLO = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/**
 * Whether an HTTP/2 server answers at the connection string's first host. A TCP connect alone is not
 * enough: the kernel completes it on the listening socket of a process that is dying.
 */
function answers(connectionString: string): Promise<boolean> {
  const match = /^esdb(?:\+discover)?:\/\/(?:[^@/]*@)?([^:/?,]+):(\d+)/.exec(connectionString);
  if (!match) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect({ host: match[1]!, port: Number(match[2]) });
    const timer = setTimeout(() => done(false), PROBE_MS);
    function done(result: boolean): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    }
    socket.once('connect', () => socket.write(HTTP2_HELLO));
    socket.once('data', () => done(true));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/**
 * The connection string of the live node that owns the data dir and answers on it, or undefined when
 * no live node owns it. A node killed a moment ago may still hold its guard for a few milliseconds
 * while refusing connections: that is waited out rather than connected to.
 */
async function runningNode(dataDir: string): Promise<string | undefined> {
  const deadline = Date.now() + STARTING_NODE_WAIT_MS;
  for (;;) {
    const lock = liveLock(dataDir);
    if (!lock) return undefined;
    if (lock.connectionString && (await answers(lock.connectionString))) return lock.connectionString;
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function handle(connectionString: string, embedded?: EmbeddedNode): StoreHandle {
  const client = connectClient(connectionString);
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
  const running = await runningNode(dataDir);
  if (running) {
    log.info({ connectionString: running }, 'using the node already running on the data dir');
    return handle(running);
  }
  try {
    const node = await startEmbeddedNode({ dataDir, logLevel: config.LOG_LEVEL });
    return handle(node.connectionString, node);
  } catch (error) {
    // Another process started a node on this data dir in the meantime: use it.
    const winner =
      error instanceof EmbeddedNodeError && error.locked ? await runningNode(dataDir) : undefined;
    if (winner) return handle(winner);
    throw error;
  }
}
