// `pricealert` as a user runs it: `serve` as a child process on a data dir, `token` as a command.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const BIN = join(import.meta.dirname, '../../bin/pricealert.js');
const run = promisify(execFile);

export interface Served {
  process: ChildProcess;
  /** Where GraphiQL is, as `serve` printed it; for a process without the API, its /health address. */
  url: string;
  /** The exit code once the process has exited. */
  exited: Promise<number | null>;
}

/** Every `serve` and `store` child started here, also those that never printed their address. */
const started = new Set<ChildProcess>();

/** Kills (SIGKILL) every `serve` and `store` started by this module that still runs: for afterAll. */
export async function killAllServes(): Promise<void> {
  const running = [...started].filter((child) => child.exitCode === null && child.signalCode === null);
  await Promise.all(
    running.map((child) => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      return exited;
    }),
  );
}

/**
 * Starts `pricealert serve [...args]` on `dataDir` (any free port, no feed, its own embedded node unless
 * `env` says otherwise) and waits for its GraphiQL (or, without the API, /health) line, printed once
 * it is ready.
 */
export async function serve(
  dataDir: string,
  env: Record<string, string> = {},
  args: string[] = [],
): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], {
    env: {
      ...process.env,
      PORT: '0',
      PRICEALERT_DATA_DIR: dataDir,
      PRICEALERT_FEED: 'none',
      LOG_LEVEL: 'warn',
      EVENTSTORE_URL: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return announced(child, /(?:GraphiQL|health) at (\S+)/, 'serve exited with {code} before listening');
}

/** `pricealert store --port 0` on `dataDir`, once it has printed its connection string. */
export async function storeProcess(dataDir: string): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'store', '--port', '0', '--data', dataDir], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return announced(child, /^(esdb:\/\/\S+)$/m, 'store exited with {code}');
}

/** The stdout lines of `pricealert token <userId> --data <dataDir> [...flags]`. */
export async function token(dataDir: string, userId: string, ...flags: string[]): Promise<string[]> {
  const { stdout } = await run(process.execPath, [BIN, 'token', userId, '--data', dataDir, ...flags], {
    env: { ...process.env, PRICEALERT_JWT_SECRET: '' },
  });
  return stdout.split('\n').filter((line) => line.length > 0);
}

/** A port that was free a moment ago, for a server that must come back on the same address. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Tracks `child` for killAllServes and waits for the first line matching `pattern` (its group 1 is the url). */
async function announced(child: ChildProcess, pattern: RegExp, failure: string): Promise<Served> {
  started.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = pattern.exec(output);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`${failure.replace('{code}', String(code))}: ${output}`)));
  });
  return { process: child, url, exited };
}
