/**
 * Test support: a `GatehouseClient` connected through the fake authorization server, with an injected
 * clock, a recording logger and a recording (non-sleeping) backoff wait.
 */
import { createManualClock } from '../clock.ts';
import { generateEncryptionKey } from '../encryption.ts';
import { createGatehouseClient, type GatehouseClient, type GatehouseClientOptions } from '../gatehouse-client.ts';
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
