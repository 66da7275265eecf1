// The `pricealert` command: one subcommand per file in this folder.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { reportFailure } from './errors.ts';
import { registerBacktest } from './backtest.ts';
import { registerImport } from './import.ts';
import { registerScavenge } from './scavenge.ts';
import { registerServe } from './serve.ts';
import { registerStore } from './store.ts';
import { registerToken } from './token.ts';

export { InvalidArgumentError };

export function buildProgram(): Command {
  const program = new Command('pricealert')
    .description('Real-time price alerts on crypto trades, event-sourced, served over GraphQL.')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerServe(program);
  registerStore(program);
  registerToken(program);
  registerImport(program);
  registerBacktest(program);
  registerScavenge(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

async function main(argv: string[]): Promise<void> {
  // `pricealert … | head` closes the pipe early; that is not a failure of the command.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version output exit 0; every other commander error is bad usage.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    reportFailure(error);
  }
}

await main(process.argv);
