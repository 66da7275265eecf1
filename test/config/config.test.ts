// Configuration at the boundary: a value the rest of the system cannot use is refused up front with
// a one-line reason naming the variable.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('EVENTSTORE_URL', () => {
  it.each(['esdb://localhost:2113?tls=false', 'esdb+discover://node1:2113,node2:2113?tls=true'])(
    'accepts %s',
    (url) => {
      expect(loadConfig({ EVENTSTORE_URL: url }).EVENTSTORE_URL).toBe(url);
    },
  );

  it.each(['kurrentdb://localhost:2113', 'kdb+discover://a:2113', 'http://localhost:2113', 'localhost:2113'])(
    'refuses %s, naming the schemes the client supports',
    (url) => {
      expect(() => loadConfig({ EVENTSTORE_URL: url })).toThrow(ConfigError);
      expect(() => loadConfig({ EVENTSTORE_URL: url })).toThrow(
        /^EVENTSTORE_URL: must start with esdb:\/\/ or esdb\+discover:\/\//,
      );
    },
  );
});

describe('PRICEALERT_ADDR_CONNECTIONS', () => {
  it('takes a whole number of at least 1', () => {
    expect(loadConfig({ PRICEALERT_ADDR_CONNECTIONS: '5000' }).PRICEALERT_ADDR_CONNECTIONS).toBe(5000);
    expect(() => loadConfig({ PRICEALERT_ADDR_CONNECTIONS: '0' })).toThrow(/PRICEALERT_ADDR_CONNECTIONS/);
    expect(() => loadConfig({ PRICEALERT_ADDR_CONNECTIONS: '2.5' })).toThrow(/whole number/);
  });
});

describe('PRICEALERT_ROLE', () => {
  it('is all by default, and takes a comma-separated list of api, reactor and feed', () => {
    expect(loadConfig({}).PRICEALERT_ROLE).toEqual(['all']);
    expect(loadConfig({ PRICEALERT_ROLE: 'api, reactor' }).PRICEALERT_ROLE).toEqual(['api', 'reactor']);
    expect(loadConfig({}, { PRICEALERT_ROLE: 'feed' }).PRICEALERT_ROLE).toEqual(['feed']);
  });

  it('refuses an unknown role, naming the ones there are', () => {
    expect(() => loadConfig({ PRICEALERT_ROLE: 'api,worker' })).toThrow(
      /^PRICEALERT_ROLE\.1: "worker" is not a role; roles are api, reactor, feed or all$/,
    );
  });
});
