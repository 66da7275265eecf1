// The `pricealert` program: one command per file in this folder. A command's file, and everything it
// imports, loads only when that command runs, so `pricealert --help` or `pricealert token` does not
// pay for the server, the store node or the backtest engine.
import { Command } from 'commander';

interface CommandEntry {
  readonly name: string;
  /** The line `pricealert --help` lists, and the head of the command's own help. */
  readonly description: string;
  /** The command's file: it adds the arguments, options and action. */
  readonly load: () => Promise<(command: Command) => void>;
}

const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'serve',
    description:
      'run the GraphQL API, the alert reactor and the trade feed (all, or the parts --role names), on the embedded store unless EVENTSTORE_URL',
    load: async () => (await import('./serve.ts')).defineServe,
  },
  {
    name: 'store',
    description:
      'run the embedded EventStoreDB-compatible node in the foreground; prints its connection string',
    load: async () => (await import('./store.ts')).defineStore,
  },
  {
    name: 'token',
    description: "print a bearer token for a user, signed with the server's secret (the only line on stdout)",
    load: async () => (await import('./token.ts')).defineToken,
  },
  {
    name: 'import',
    description:
      'append historical trades from a CSV or NDJSON file; re-importing the same file adds nothing',
    load: async () => (await import('./import.ts')).defineImport,
  },
  {
    name: 'backtest',
    description:
      'replay trades through the live projection code with hypothetical alerts and report every trigger',
    load: async () => (await import('./backtest.ts')).defineBacktest,
  },
  {
    name: 'scavenge',
    description:
      'remove the events reads no longer return ($maxCount, $maxAge, $tb, deleted streams) and shrink the store; prints progress',
    load: async () => (await import('./scavenge.ts')).defineScavenge,
  },
];

export const COMMAND_NAMES: readonly string[] = COMMANDS.map((entry) => entry.name);

/**
 * The program with every command listed; the commands named in `defined` (by default all) also get
 * their arguments, options and action, their files loaded for it.
 */
export async function buildProgram(defined: readonly string[] = COMMAND_NAMES): Promise<Command> {
  const program = new Command('pricealert')
    .description('Real-time price alerts on crypto trades, event-sourced, served over GraphQL.')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const { name, description, load } of COMMANDS) {
    const command = program.command(name).description(description).exitOverride();
    if (defined.includes(name)) (await load())(command);
  }
  return program;
}

/**
 * The command a command line runs or asks help about (`pricealert serve …`, `pricealert help serve`),
 * if any. The program itself takes no option with a value, so its first word is the command.
 */
export function commandOf(argv: readonly string[]): string | undefined {
  const words = argv.slice(2).filter((arg) => !arg.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}
