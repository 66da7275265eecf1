// A real embedded node for integration tests: fresh temp data dir, ephemeral port, its own process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedNode, type EmbeddedNode } from '../../src/eventstore/embedded/index.ts';
import type { NodeLimits } from '../../src/eventstore/embedded/limits.ts';
import { connectClient, type StoreClient } from '../../src/eventstore/store.ts';

export interface TestStore {
  readonly client: StoreClient;
  readonly connectionString: string;
  readonly dataDir: string;
  readonly node: EmbeddedNode;
  /** Disposes the client, stops the node and, unless `keepData` was given, removes the data dir. */
  stop(): Promise<void>;
}

export interface TestStoreOptions {
  /** Reuse a data dir (e.g. to test a restart); by default a fresh temp dir. */
  readonly dataDir?: string;
  /** Leave the data dir in place on stop. Default: false for a fresh dir, true for a given one. */
  readonly keepData?: boolean;
  /** The node's pino level; default `warn` so test output stays readable. */
  readonly logLevel?: string;
  /** The node's limits and timeouts, e.g. a short idle timeout. */
  readonly limits?: Partial<NodeLimits>;
  /** `recent`: the node recognises replayed appends only as EventStoreDB does (recent ids for ANY). */
  readonly idempotency?: NodeLimits['idempotency'];
}

export async function startTestStore(options: TestStoreOptions = {}): Promise<TestStore> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'pricealert-store-'));
  const keepData = options.keepData ?? options.dataDir !== undefined;
  const node = await startEmbeddedNode({
    dataDir,
    logLevel: options.logLevel ?? 'warn',
    limits: {
      ...options.limits,
      ...(options.idempotency ? { idempotency: options.idempotency } : {}),
    },
  });
  const client = connectClient(node.connectionString);
  let stopping: Promise<void> | undefined;
  return {
    client,
    connectionString: node.connectionString,
    dataDir,
    node,
    stop: () => {
      stopping ??= (async () => {
        await client.dispose();
        await node.stop();
        if (!keepData) rmSync(dataDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
