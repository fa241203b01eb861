/**
 * Test support: a `GatehouseClient` connected through the fake authorization server, with an injected
 * clock, a recording logger and a recording (non-sleeping) backoff wait.
 */
import { createManualClock } from '../clock.ts';
import { generateEncryptionKey } from '../encryption.ts';
import { createGatehouseClient, type GatehouseClient, type GatehouseClientOptions } from '../gatehouse-client.ts';
import type { RefreshLock } from '../lock.ts';
import type { LogEntry } from '../logging.ts';
import { createMemoryTokenStore } from '../stores/memory.ts';
import type { FakeAuthorizationServer } from './fake-authorization-server.ts';

export const FAKE_START_SECONDS = 1_800_000_000;

export interface FakeConnection {
  client: GatehouseClient;
  connectionId: string;
  clock: ReturnType<typeof createManualClock>;
  logs: LogEntry[];
  /** Every backoff wait asked for, milliseconds. */
  sleeps: number[];
}

/** @param connection.connectionId connect (or reconnect) under this id; default a new one. */
export async function connectThroughFake(
  fake: FakeAuthorizationServer, overrides: Partial<GatehouseClientOptions> = {}, connection: { connectionId?: string } = {},
): Promise<FakeConnection> {
  const clock = createManualClock(FAKE_START_SECONDS);
  const logs: LogEntry[] = [];
  const sleeps: number[] = [];
  const client = createGatehouseClient({
    issuer: fake.issuer,
    clientId: '7af385a0-284d-48c5-b225-362862085551',
    clientSecret: 'fake-client-secret',
    redirectUri: 'http://127.0.0.1:9/callback',
    scope: ['users:read'],
    store: createMemoryTokenStore(),
    encryptionKeys: [generateEncryptionKey('test')],
    clock,
    logger: (entry) => logs.push(entry),
    sleep: async (milliseconds) => {
      sleeps.push(milliseconds);
    },
    random: () => 0.999,
    ...overrides,
  });
  const { transaction } = await client.authorizationUrl(connection.connectionId === undefined ? {} : { connectionId: connection.connectionId });
  const callback = new URL(transaction.redirectUri);
  callback.searchParams.set('code', fake.issueCode());
  callback.searchParams.set('state', transaction.state);
  callback.searchParams.set('iss', fake.issuer);
  const connected = await client.handleCallback(callback, transaction);
  return { client, connectionId: connected.connection.connectionId, clock, logs, sleeps };
}

/**
 * A connection through the fake whose refresh requests each time out after `stepMilliseconds` of its injected
 * clock; `sentAt` records when each was sent (the clock's milliseconds), `onSent` sees each one's number.
 */
export async function connectWithTimingOutRefreshes(
  fake: FakeAuthorizationServer, stepMilliseconds: number, overrides: Partial<GatehouseClientOptions> = {}, onSent: (count: number) => void = () => {},
): Promise<FakeConnection & { sentAt: number[] }> {
  const sentAt: number[] = [];
  let connection: FakeConnection | undefined;
  const connected = await connectThroughFake(fake, {
    ...overrides,
    fetch: async (input, init) => {
      if (connection && new URLSearchParams(String(init?.body)).get('grant_type') === 'refresh_token') {
        sentAt.push(connection.clock.nowMilliseconds());
        onSent(sentAt.length);
        connection.clock.advanceMilliseconds(stepMilliseconds);
        throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
      }
      return fetch(input, init);
    },
  });
  connection = connected;
  return { ...connected, sentAt };
}

/** A refresh lock that excludes nothing and records each hold's controller, so a test can take a hold's lock away (`abort`). */
export function takeableLock(): { lock: RefreshLock; holds: AbortController[] } {
  const holds: AbortController[] = [];
  const lock: RefreshLock = {
    withLock: (_key, work) => {
      const hold = new AbortController();
      holds.push(hold);
      return work({ signal: hold.signal });
    },
  };
  return { lock, holds };
}
