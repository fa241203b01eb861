import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IntrospectionUnavailableError } from './introspection-unavailable-error.ts';
import type { FetchFunction } from './introspection.ts';
import { createRevocationFeed, REVOCATION_FEED_PAGE_SIZE } from './revocation-feed.ts';
import type { RevocationFeedOptions } from './revocation-feed.ts';
import { createManualClock } from './testing/manual-clock.ts';
import type { ManualClock } from './testing/manual-clock.ts';

const ENDPOINT = 'http://localhost:3000/oauth/revoked-access-tokens';

interface Entry {
  jti: string;
  exp: number;
  revoked_at: number;
}

/** A feed endpoint over an array, with the contract's paging; records each request's `since`. */
function createFakeFeed(clock: ManualClock) {
  const entries: Entry[] = [];
  const requests: Array<{ since: string | null; after: string | null; authorization: string | null }> = [];
  const feed = {
    entries,
    requests,
    /** Answers `next_after` on full pages and honours `after`, as Gatehouse does; false: as it did before. */
    nextAfter: true,
    /** Overrides the answer when set. */
    respond: undefined as ((since: number, after: string | null) => Response | Promise<Response>) | undefined,
    fetch: (async (url, init) => {
      const { searchParams } = new URL(url);
      const since = searchParams.get('since');
      const after = searchParams.get('after');
      requests.push({ since, after, authorization: new Headers(init.headers).get('authorization') });
      if (feed.respond !== undefined) {
        return feed.respond(Number(since), after);
      }
      const nowSeconds = Math.floor(clock.now() / 1000);
      const sorted = entries.filter((entry) => entry.exp > nowSeconds)
        .sort((a, b) => a.revoked_at - b.revoked_at || (a.jti < b.jti ? -1 : a.jti > b.jti ? 1 : 0));
      const start = (entry: Entry) => (after === null || !feed.nextAfter ? entry.revoked_at >= Number(since) : entry.revoked_at > Number(since) || (entry.revoked_at === Number(since) && entry.jti > after));
      const page = sorted.filter(start).slice(0, REVOCATION_FEED_PAGE_SIZE);
      const full = page.length === REVOCATION_FEED_PAGE_SIZE;
      const nextSince = full ? (page.at(-1)?.revoked_at ?? nowSeconds) : nowSeconds;
      return Response.json({ revoked: page, next_since: nextSince, ...(full && feed.nextAfter ? { next_after: page.at(-1)?.jti } : {}), server_time: nowSeconds });
    }) as FetchFunction,
  };
  return feed;
}

function setup(overrides: Partial<RevocationFeedOptions> = {}) {
  const clock = createManualClock();
  const fake = createFakeFeed(clock);
  const feed = createRevocationFeed({
    revocationFeedEndpoint: ENDPOINT,
    clientId: 'dbb72d5e-29fb-4cf3-80cc-78a687063942',
    clientSecret: 'se cret_-.~',
    pollIntervalSeconds: 2,
    maxStalenessSeconds: 5,
    maxAccessTokenLifetimeSeconds: 900,
    clockSkewSeconds: 5,
    pollTimeoutMilliseconds: 2_000,
    now: clock.now,
    fetch: fake.fetch,
    scheduleTimer: clock.scheduleTimer,
    ...overrides,
  });
  const nowSeconds = () => Math.floor(clock.now() / 1000);
  return { clock, fake, feed, nowSeconds };
}

function staleness(action: () => unknown): IntrospectionUnavailableError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof IntrospectionUnavailableError);
    assert.equal(error.reason, 'revocation_feed_stale');
    return error;
  }
  assert.fail('expected the feed to be stale');
}

describe('revocation feed', () => {
  test('authenticates with form-urlencoded Basic credentials (RFC 6749 §2.3.1)', async () => {
    const { fake, feed } = setup();
    await feed.poll();
    const basic = /^Basic (.+)$/.exec(fake.requests[0]?.authorization ?? '')?.[1] ?? '';
    assert.equal(Buffer.from(basic, 'base64').toString('utf8'), 'dbb72d5e%2D29fb%2D4cf3%2D80cc%2D78a687063942:se+cret%5F%2D%2E%7E');
  });

  test('pages through full pages with since=next_since&after=next_after: each entry once, even within one second', async () => {
    const { fake, feed, nowSeconds, clock } = setup();
    const start = nowSeconds();
    // 2 500 revocations in one second (a burst of rotations, or a client's tokens revoked at once).
    for (let index = 0; index < 2_500; index += 1) {
      fake.entries.push({ jti: `jti-${String(index).padStart(4, '0')}`, exp: start + 600, revoked_at: start - 100 });
    }
    await feed.poll();
    assert.equal(feed.caughtUp, true);
    assert.equal(feed.revokedCount, 2_500);
    assert.deepEqual(
      fake.requests.map((request) => [Number(request.since) - start, request.after]),
      [[-905, null], [-100, 'jti-0999'], [-100, 'jti-1999']],
      'catch-up window, then after the last entry of each full page',
    );
    assert.equal(feed.isRevoked('jti-2499'), true);
    await clock.advance(2_000);
    await feed.poll();
    assert.deepEqual([Number(fake.requests.at(-1)?.since), fake.requests.at(-1)?.after], [start - 10, null], 'the next poll: from the lookback, without after');
  });

  test('an authorization server without next_after: pages by since=next_since and merges repeated entries by jti', async () => {
    const { fake, feed, nowSeconds, clock } = setup();
    fake.nextAfter = false;
    const start = nowSeconds();
    // 2 500 revocations over 25 seconds: pages repeat the entries of their boundary second.
    for (let index = 0; index < 2_500; index += 1) {
      fake.entries.push({ jti: `jti-${index}`, exp: start + 600, revoked_at: start - 100 + Math.floor(index / 100) });
    }
    await feed.poll();
    assert.equal(feed.revokedCount, 2_500);
    assert.deepEqual(
      fake.requests.map((request) => Number(request.since) - start),
      [-905, -91, -82],
      'catch-up window, then the last second of each full page',
    );
    assert.equal(feed.isRevoked('jti-0'), true);
    assert.equal(feed.isRevoked('jti-2499'), true);
    assert.equal(feed.isRevoked('jti-2500'), false);
    await clock.advance(2_000);
    await feed.poll();
    assert.equal(Number(fake.requests.at(-1)?.since), start - 10, 'the next poll continues from next_since, less the lookback');
  });

  test('re-reads the last 10 s, so a revocation committed after a later one was read is not stepped over', async () => {
    const { fake, feed, clock, nowSeconds } = setup();
    const start = nowSeconds();
    fake.entries.push({ jti: 'early', exp: start + 600, revoked_at: start });
    await clock.advance(3_000);
    await feed.poll();
    // Stamped at start + 1 but committed only now, after the poll above read up to start + 3.
    fake.entries.push({ jti: 'late-commit', exp: start + 600, revoked_at: start + 1 });
    await clock.advance(2_000);
    await feed.poll();
    assert.equal(feed.isRevoked('late-commit'), true);
  });

  test('a full page that does not advance next_since fails the poll instead of looping', async () => {
    const { fake, feed } = setup();
    fake.respond = (since) =>
      Response.json({
        revoked: Array.from({ length: REVOCATION_FEED_PAGE_SIZE }, (_, index) => ({ jti: `j${index}`, exp: since + 10_000, revoked_at: since })),
        next_since: since,
      });
    await feed.poll();
    assert.equal(fake.requests.length, 1);
    assert.equal(feed.caughtUp, false);
    assert.match(staleness(() => feed.isRevoked('j1')).detail, /without advancing past/);
  });

  test('a full page whose next_after does not move past the last after fails the poll instead of looping', async () => {
    const { fake, feed } = setup();
    fake.respond = (since) =>
      Response.json({
        revoked: Array.from({ length: REVOCATION_FEED_PAGE_SIZE }, (_, index) => ({ jti: `j${index}`, exp: since + 10_000, revoked_at: since })),
        next_since: since,
        next_after: 'j0500',
      });
    await feed.poll();
    assert.deepEqual(fake.requests.map((request) => request.after), [null, 'j0500'], 'one step after, then the same after again: refused');
    assert.equal(feed.caughtUp, false);
    assert.match(staleness(() => feed.isRevoked('j1')).detail, /without advancing past \d+ after j0500/);
  });

  test('a feed that keeps sending full pages stops at maxPagesPerPoll and fails the poll', async () => {
    const { fake, feed } = setup({ maxPagesPerPoll: 3 });
    fake.respond = (since, after) => {
      const base = after === null ? 0 : Number(after.slice(1)) + 1;
      return Response.json({
        revoked: Array.from({ length: REVOCATION_FEED_PAGE_SIZE }, (_, index) => ({ jti: `j${String(base + index).padStart(7, '0')}`, exp: since + 10_000, revoked_at: since })),
        next_since: since,
        next_after: `j${String(base + REVOCATION_FEED_PAGE_SIZE - 1).padStart(7, '0')}`,
      });
    };
    await feed.poll();
    assert.equal(fake.requests.length, 3);
    assert.equal(feed.caughtUp, false);
    assert.match(staleness(() => feed.isRevoked('j0000001')).detail, /more than 3 full pages/);
  });

  test('a next_after that is not a string fails the poll', async () => {
    const { fake, feed } = setup();
    fake.respond = () => Response.json({ revoked: [], next_since: 0, next_after: 5 });
    await feed.poll();
    assert.equal(feed.caughtUp, false);
    assert.match(staleness(() => feed.isRevoked('j1')).detail, /next_after that is not a jti/);
  });

  test('remembers a revoked jti until exp plus the clock skew, then forgets it', async () => {
    const { fake, feed, clock, nowSeconds } = setup();
    fake.entries.push({ jti: 'short', exp: nowSeconds() + 10, revoked_at: nowSeconds() });
    await feed.poll();
    assert.equal(feed.isRevoked('short'), true);
    await clock.advance(14_000);
    await feed.poll();
    assert.equal(feed.isRevoked('short'), true, 'a token at exp + 4 s still passes the exp check');
    await clock.advance(1_000);
    await feed.poll();
    assert.equal(feed.revokedCount, 0);
  });

  test('knowledge is dated by when the poll was sent: fresh up to the bound, stale one millisecond after', async () => {
    const { fake, feed, clock } = setup();
    fake.respond = async () => {
      await clock.advance(1_500); // the answer takes 1.5 s
      return Response.json({ revoked: [], next_since: 0 });
    };
    const sentAt = clock.now();
    await feed.poll();
    fake.respond = () => new Response(null, { status: 500 });
    clock.set(sentAt + 5_000);
    assert.equal(feed.isRevoked('x'), false);
    clock.set(sentAt + 5_001);
    staleness(() => feed.isRevoked('x'));
  });

  test('polls one interval after the previous poll started, however long it took', async () => {
    const { fake, feed, clock } = setup();
    const sentAt: number[] = [];
    fake.respond = async () => {
      sentAt.push(clock.now());
      clock.set(clock.now() + 700);
      return Response.json({ revoked: [], next_since: 0 });
    };
    feed.start();
    await feed.ready();
    await clock.advance(6_000);
    const start = sentAt[0] ?? 0;
    assert.deepEqual(sentAt.map((at) => at - start), [0, 2_000, 4_000, 6_000]);
  });

  test('a poll that does not answer in time fails with reason timeout', async () => {
    const { feed } = setup({
      pollTimeoutMilliseconds: 20,
      fetch: (_url, init) =>
        new Promise<Response>((_resolve, reject) => {
          init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        }),
    });
    await feed.poll();
    assert.match(staleness(() => feed.isRevoked('x')).detail, /timed out/);
  });

  test('stop() cancels the schedule and rejects ready() if the catch-up never succeeded', async () => {
    const { fake, feed, clock } = setup();
    fake.respond = () => new Response(null, { status: 503 });
    feed.start();
    // Let the catch-up poll finish and schedule the next one.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(clock.pendingTimers, 1);
    feed.stop();
    assert.equal(clock.pendingTimers, 0);
    await assert.rejects(feed.ready(), /stopped before its first successful poll/);
  });
});
