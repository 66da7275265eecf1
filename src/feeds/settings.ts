// The simulator's own settings from the environment (the rest of the feed configuration is in src/config.ts).
import { z } from 'zod';
import { ConfigError } from '../config.ts';

const simulatorSchema = z.object({
  /** Same seed, same tape (prices, sizes, sides, gaps between trades). */
  PRICEALERT_SIM_SEED: z.coerce.number().int().min(0).max(4_294_967_295).default(42),
  /** Mean trades per second per product; arrivals come in bursts around it. */
  PRICEALERT_SIM_RATE: z.coerce.number().positive().max(1_000_000).default(5),
});

export interface SimulatorSettings {
  seed: number;
  ratePerSecond: number;
}

export function loadSimulatorSettings(
  env: Record<string, string | undefined> = process.env,
): SimulatorSettings {
  const raw = Object.fromEntries(
    Object.keys(simulatorSchema.shape).flatMap((key) => (env[key] ? [[key, env[key]]] : [])),
  );
  const parsed = simulatorSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${issue?.path.join('.') ?? 'simulator'}: ${issue?.message ?? 'invalid'}`);
  }
  return { seed: parsed.data.PRICEALERT_SIM_SEED, ratePerSecond: parsed.data.PRICEALERT_SIM_RATE };
}
