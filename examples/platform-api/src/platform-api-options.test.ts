import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createManualClock } from '@gatehouse/resource-server/testing';
import { createPlatformApi, PLATFORM_API_DEVELOPMENT_DEFAULTS, platformApiVerifierOptions } from './platform-api.ts';
import type { PlatformApiOptions } from './platform-api.ts';

const BASE: PlatformApiOptions = {
  issuer: PLATFORM_API_DEVELOPMENT_DEFAULTS.issuer,
  audience: PLATFORM_API_DEVELOPMENT_DEFAULTS.audience,
  introspectionClientId: PLATFORM_API_DEVELOPMENT_DEFAULTS.introspectionClientId,
  introspectionClientSecret: PLATFORM_API_DEVELOPMENT_DEFAULTS.introspectionClientSecret,
};

describe('validationMode', () => {
  test('defaults to introspection and passes the introspection settings', () => {
    const options = platformApiVerifierOptions({ ...BASE, introspectionCacheTtlSeconds: 0 });
    assert.equal(options.mode, 'introspection');
    assert.equal(options.mode === 'introspection' ? options.introspectionCacheTtlSeconds : undefined, 0);
  });

  test('local passes the feed settings and the same credentials', () => {
    const options = platformApiVerifierOptions({ ...BASE, validationMode: 'local', revocationPollIntervalSeconds: 1, maxRevocationStalenessSeconds: 3 });
    assert.equal(options.mode, 'local');
    assert.equal(options.introspectionClientId, BASE.introspectionClientId);
    assert.equal(options.mode === 'local' ? options.revocationPollIntervalSeconds : undefined, 1);
  });

  test('anything else is refused', () => {
    assert.throws(() => platformApiVerifierOptions({ ...BASE, validationMode: 'jwt' as never }), TypeError);
  });

  test('closing the API stops local mode polling', async () => {
    const clock = createManualClock();
    const app = createPlatformApi({
      ...BASE,
      validationMode: 'local',
      now: clock.now,
      scheduleTimer: clock.scheduleTimer,
      fetch: async () => new Response(null, { status: 503 }),
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(clock.pendingTimers, 1, 'the next poll is scheduled');
    await app.close();
    assert.equal(clock.pendingTimers, 0);
  });
});
