// `pricealert store`: runs the embedded EventStoreDB-compatible node in the foreground until SIGINT/SIGTERM.
import type { Command } from 'commander';
import { loadConfig, windowMillis } from '../config.ts';
import {
  LIMIT_OPTIONS,
  LimitError,
  limitFlags,
  resolveLimits,
  type NodeLimits,
} from '../eventstore/embedded/limits.ts';
import { NodeLockedError } from '../eventstore/embedded/lock.ts';
import { runNode } from '../eventstore/embedded/node.ts';
import { startScavenge } from '../eventstore/scavenge.ts';
import { createLogger } from '../logger.ts';
import { UsageError } from './errors.ts';

/** EventStoreDB's own default port, so tools pointed at a local EventStoreDB find this node too. */
const DEFAULT_PORT = 2113;

interface StoreFlags {
  port: string;
  data?: string;
  host: string;
  scavengeEvery?: string;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError(`--port: not a port number: ${text}`);
  return port;
}

export function defineStore(command: Command): void {
  command
    .option('--port <port>', 'gRPC port (0 picks a free one)', String(DEFAULT_PORT))
    .option('--data <dir>', 'data dir (default: PRICEALERT_DATA_DIR or ./data)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--scavenge-every <duration>', 'start a scavenge this often, e.g. 24h (default: never)');
  for (const option of LIMIT_OPTIONS)
    command.option(
      `--${option.flag} <${option.choices?.join('|') ?? 'n'}>`,
      `${option.description} (${option.env})`,
    );
  command.action(async (flags: StoreFlags & Record<string, unknown>) => {
    const config = loadConfig(process.env, { PRICEALERT_DATA_DIR: flags.data });
    const port = parsePort(flags.port);
    const scavengeEvery = flags.scavengeEvery === undefined ? undefined : windowMillis(flags.scavengeEvery);
    // setInterval takes at most 2^31 - 1 ms (24.8 days); a longer delay would fire at once, again and again.
    if (flags.scavengeEvery !== undefined && (scavengeEvery === undefined || scavengeEvery > 2 ** 31 - 1))
      throw new UsageError(
        `--scavenge-every "${flags.scavengeEvery}": use a duration like 30m, 12h or 7d (at most 24d)`,
      );
    let limits: NodeLimits;
    try {
      limits = resolveLimits(
        process.env,
        // commander names `--max-append-size` maxAppendSize.
        limitFlags((flag) => flags[flag.replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase())]),
      );
    } catch (error) {
      if (error instanceof LimitError) throw new UsageError(error.message);
      throw error;
    }
    const logger = createLogger(config.LOG_LEVEL).child({ component: 'eventstore-node' });
    let node;
    try {
      node = await runNode({
        dataDir: config.PRICEALERT_DATA_DIR,
        host: flags.host,
        port,
        logger,
        limits,
      });
    } catch (error) {
      if (error instanceof NodeLockedError) throw new UsageError(error.message);
      throw error;
    }
    process.stdout.write(`${node.connectionString}\n`);
    const running = node;
    // Through the node's own Operations service, as any client would; one already running is left be.
    const schedule =
      scavengeEvery === undefined
        ? undefined
        : setInterval(() => {
            startScavenge(running.connectionString).then(
              (answer) => logger.info(answer, 'scheduled scavenge'),
              (error: unknown) => logger.error({ err: error }, 'scheduled scavenge could not start'),
            );
          }, scavengeEvery);
    await new Promise<void>((resolve) => {
      const shutdown = (): void => {
        clearInterval(schedule);
        running.stop().then(resolve, resolve);
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
  });
}
