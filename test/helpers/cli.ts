// `pricealert <args>` as a child process, its stdout's first line, its stderr and its exit code.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '../../bin/pricealert.js');

export interface CliRun {
  readonly child: ChildProcess;
  /** Resolves with stdout once it holds a whole line (or at exit). */
  readonly stdout: Promise<string>;
  readonly stderr: () => string;
  readonly exit: Promise<number | null>;
  /** SIGKILLs the process if it still runs, and waits for its exit. */
  kill(): Promise<void>;
}

export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stdout = new Promise<string>((resolve) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out);
    });
    void exit.then(() => resolve(out));
  });
  return {
    child,
    stdout,
    stderr: () => err,
    exit,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
  };
}
