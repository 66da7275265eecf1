// `pricealert token <userId>`: prints a bearer token signed with the server's secret (CONTRACT §1).
import { Option, type Command } from 'commander';
import { MAX_TOKEN_TTL_SECONDS, ROLES, isUserId, loadSecret, signToken } from '../api/auth.ts';
import { loadConfig, windowMillis } from '../config.ts';
import type { Role } from '../domain/types.ts';
import { UsageError } from './errors.ts';

interface TokenOptions {
  role: Role;
  ttl: string;
  data?: string;
}

export function defineToken(command: Command): void {
  command
    .argument('<userId>', 'the user the token acts as (letters, digits and . _ @ : + -, at most 128)')
    .addOption(new Option('--role <role>', 'what the token may do').choices(ROLES).default('user'))
    .option('--ttl <duration>', 'how long the token is valid: 30s, 15m, 12h, 30d (at most 365d)', '30d')
    .option('--data <dir>', 'data dir holding the generated secret (PRICEALERT_DATA_DIR)')
    .action(async (userId: string, options: TokenOptions) => {
      if (!isUserId(userId))
        throw new UsageError(`userId "${userId}": use 1–128 letters, digits or . _ @ : + -`);
      const ttlMs = windowMillis(options.ttl);
      if (ttlMs === undefined)
        throw new UsageError(`--ttl "${options.ttl}": use a duration like 30s, 15m, 12h or 30d`);
      if (ttlMs > MAX_TOKEN_TTL_SECONDS * 1000)
        throw new UsageError(`--ttl "${options.ttl}": tokens live at most 365d`);
      const config = loadConfig(process.env, { PRICEALERT_DATA_DIR: options.data });
      const secret = await loadSecret(config);
      const token = await signToken(secret, { userId, role: options.role }, Math.ceil(ttlMs / 1000));
      process.stdout.write(`${token}\n`);
    });
}
