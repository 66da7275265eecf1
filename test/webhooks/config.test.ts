// The webhook settings: defaults, durations with milliseconds, and one-line refusals of bad values.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('webhook settings', () => {
  it('default to 10 endpoints per user, retries 5 s doubling to 1 h for 24 h, a 5 s timeout, no private targets', () => {
    const config = loadConfig({});
    expect(config.PRICEALERT_WEBHOOKS_PER_USER).toBe(10);
    expect(config.PRICEALERT_WEBHOOK_RETRY).toEqual({
      firstMs: 5_000,
      maxMs: 3_600_000,
      giveUpMs: 86_400_000,
    });
    expect(config.PRICEALERT_WEBHOOK_TIMEOUT).toBe(5_000);
    expect(config.PRICEALERT_WEBHOOK_ALLOW_PRIVATE).toBe(false);
  });

  it('take durations down to milliseconds', () => {
    const config = loadConfig({
      PRICEALERT_WEBHOOK_RETRY: '20ms,1s,2m',
      PRICEALERT_WEBHOOK_TIMEOUT: '250ms',
      PRICEALERT_WEBHOOK_ALLOW_PRIVATE: 'true',
    });
    expect(config.PRICEALERT_WEBHOOK_RETRY).toEqual({ firstMs: 20, maxMs: 1_000, giveUpMs: 120_000 });
    expect(config.PRICEALERT_WEBHOOK_TIMEOUT).toBe(250);
    expect(config.PRICEALERT_WEBHOOK_ALLOW_PRIVATE).toBe(true);
  });

  it.each([
    ['PRICEALERT_WEBHOOK_RETRY', '5s,1h', /PRICEALERT_WEBHOOK_RETRY: must be <first>,<max>,<give up after>/],
    ['PRICEALERT_WEBHOOK_RETRY', '1h,5s,24h', /PRICEALERT_WEBHOOK_RETRY/],
    ['PRICEALERT_WEBHOOK_RETRY', '0s,1h,24h', /PRICEALERT_WEBHOOK_RETRY/],
    ['PRICEALERT_WEBHOOK_TIMEOUT', '5', /PRICEALERT_WEBHOOK_TIMEOUT: must be a duration/],
    ['PRICEALERT_WEBHOOK_ALLOW_PRIVATE', 'yes', /PRICEALERT_WEBHOOK_ALLOW_PRIVATE: must be true or false/],
    ['PRICEALERT_WEBHOOKS_PER_USER', '0', /PRICEALERT_WEBHOOKS_PER_USER: must be at least 1/],
  ])('refuses %s=%s', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });
});
