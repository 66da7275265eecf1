// The `pricealert` executable's entry (bin/pricealert.js runs it): parses the command line, runs the
// command and turns its outcome into the exit code.
import { CommanderError } from 'commander';
import { reportFailure } from './errors.ts';
import { buildProgram, commandOf } from './program.ts';

async function main(argv: string[]): Promise<void> {
  // `pricealert … | head` closes the pipe early; that is not a failure of the command.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const command = commandOf(argv);
  try {
    const program = await buildProgram(command === undefined ? [] : [command]);
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
