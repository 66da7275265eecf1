// One embedded node in this process: the data dir's lock, the SQLite log and the gRPC server.
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { NodeLimits } from './limits.ts';
import { acquireLock } from './lock.ts';
import { startServer } from './server.ts';
import { openStorage, type Storage } from './storage.ts';
import { writeSystemEvents } from './system.ts';

export interface NodeOptions {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  readonly limits: NodeLimits;
}

export interface RunningNode {
  readonly connectionString: string;
  stop(): Promise<void>;
}

/** Starts the node; throws NodeLockedError when another live node owns the data dir. */
export async function runNode({ dataDir, host, port, logger, limits }: NodeOptions): Promise<RunningNode> {
  mkdirSync(dataDir, { recursive: true });
  const lock = acquireLock(dataDir);
  let storage: Storage | undefined;
  try {
    storage = await openStorage({
      dataDir,
      writer: { idempotency: limits.idempotency, idempotencyCacheSize: limits.idempotencyCacheSize },
      onFatal: (error) => {
        // Acknowledged events are safe on disk; what is unsafe is to go on accepting writes.
        logger.fatal({ err: error }, 'the log writer failed; stopping the node');
        lock.release();
        process.exit(1);
      },
    });
    await writeSystemEvents(storage);
    const server = await startServer({ storage, host, port, logger, limits });
    lock.publish(server.connectionString);
    logger.info(
      { dataDir, connectionString: server.connectionString, head: storage.head() },
      'embedded node started',
    );
    let stopping: Promise<void> | undefined;
    const opened = storage;
    return {
      connectionString: server.connectionString,
      stop: () => {
        stopping ??= (async () => {
          await server.stop();
          await opened.close();
          lock.release();
          logger.info('embedded node stopped');
        })();
        return stopping;
      },
    };
  } catch (error) {
    await storage?.close();
    lock.release();
    throw error;
  }
}
