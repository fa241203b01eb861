/**
 * A receiver's host name is resolved by getaddrinfo on libuv's thread pool (4 threads), and a partner whose DNS never
 * answers holds a thread until the system resolver gives up: with 4 deliveries at once, four such partners held the
 * whole pool, and password hashing, crypto and file system calls (logins) stalled behind them. So at most two webhook
 * host-name lookups are in flight in the process (webhook-worker.ts `resolveWebhookHost`, WEBHOOK_LOOKUP_SLOTS); an IP
 * literal needs none.
 * The lookup is injected and answers only when the test says so (no sleeps, no timed assertions); the deliveries that
 * give up on it do so at their own timeout (1 s here), which the test only waits for.
 */
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createTestClock } from '../clock.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { conditionWaiter, queueDueDeliveries, webhookReceiver, type WebhookReceiver } from '../testing/webhook-receivers.ts';
import { deliverDueWebhooks, WEBHOOK_LOOKUP_SLOTS, webhookBackoffSeconds, type WebhookDeliveryOptions, type WebhookHostLookup } from './webhook-worker.ts';
import { encryptWebhookSecret, newWebhookSecret, webhookSecretKey } from './webhook-secret.ts';

const secretKey = webhookSecretKey(Buffer.alloc(32, 9));
const loopback: LookupAddress[] = [{ address: '127.0.0.1', family: 4 }];

const { when, changed, clear } = conditionWaiter();
/** A receiver on 127.0.0.1 that answers every request at once (204). */
type Receiver = WebhookReceiver;
const receiver = () => webhookReceiver(changed, true);

/** A lookup that holds every question until the test answers it (or, with `autoAnswer`, answers 127.0.0.1 at once). */
function heldLookup() {
  const held: { hostname: string; answer: (addresses: LookupAddress[]) => void }[] = [];
  const state = {
    /** Host names asked, in order. */
    asked: [] as string[],
    inFlight: 0,
    /** The most lookups in flight at once. */
    maxInFlight: 0,
    autoAnswer: false,
    held,
    /** Answers the held question for `hostname`, leaving the others held. */
    answer(hostname: string, addresses: LookupAddress[] = loopback) {
      const index = held.findIndex((question) => question.hostname === hostname);
      if (index !== -1) held.splice(index, 1)[0]!.answer(addresses);
    },
    /** Answers the oldest held question. */
    answerNext(addresses: LookupAddress[] = loopback) {
      held.shift()?.answer(addresses);
    },
    lookup: ((hostname, _options, callback) => {
      state.asked.push(hostname);
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      const answer = (addresses: LookupAddress[]) => {
        state.inFlight--;
        callback(null, addresses);
      };
      if (state.autoAnswer) queueMicrotask(() => answer(loopback));
      else held.push({ hostname, answer });
      changed();
    }) as WebhookHostLookup,
  };
  return state;
}

describe('webhook deliveries: at most WEBHOOK_LOOKUP_SLOTS (2) host-name lookups in flight in the process', () => {
  let storage: Storage;
  let clock: ReturnType<typeof createTestClock>;
  let receivers: Receiver[];
  let lookups: ReturnType<typeof heldLookup>;
  let failures: string[];

  beforeEach(() => {
    storage = createSqliteStorage(':memory:');
    clock = createTestClock();
    receivers = [];
    lookups = heldLookup();
    failures = [];
  });
  afterEach(async () => {
    clear();
    // The lookup slot is the process's: a question left held would keep it from the next case.
    while (lookups.held.length > 0) lookups.answerNext();
    for (const open of receivers) await open.close();
    await storage.close();
  });

  /** A partner (its own client and receiver) whose webhook URL names `host` (a name, or 127.0.0.1). */
  async function partner(name: string, host: string): Promise<{ clientId: string; receiver: Receiver }> {
    const hook = await receiver();
    receivers.push(hook);
    const clientId = `00000000-0000-4000-8000-${name.padStart(12, '0')}`;
    await storage.webhooks.setEndpoint({
      clientId, url: `http://${host}:${hook.port}/hooks/${name}`, secretCiphertext: encryptWebhookSecret(secretKey, clientId, newWebhookSecret()), createdAt: clock.nowSeconds(),
    });
    return { clientId, receiver: hook };
  }
  /** Queues deliveries due now; their ids sort (and so go out) in the order given. */
  const queue = (...deliveries: [clientId: string, deliveryId: string][]) => queueDueDeliveries(storage, clock.nowSeconds(), deliveries);
  // Development: receivers on 127.0.0.1 are allowed, as in the other webhook tests.
  const options = (overrides: Partial<WebhookDeliveryOptions> = {}): WebhookDeliveryOptions => ({
    storage, clock, secretKey, environment: 'development', timeoutSeconds: 5, lookup: lookups.lookup,
    onAttemptFailed: (failure) => failures.push(failure.reason), ...overrides,
  });
  /** [id, attempts, lastStatus, delivered, nextAttemptAt] of each delivery. */
  async function logged(clientIds: string[], deliveryIds: string[]) {
    const all = (await Promise.all(clientIds.map((clientId) => storage.webhooks.list(clientId, 100)))).flat();
    return deliveryIds.map((id) => {
      const delivery = all.find((entry) => entry.deliveryId === id)!;
      return [id, delivery.attempts, delivery.lastStatus, delivery.deliveredAt !== null, delivery.nextAttemptAt];
    });
  }

  it('three partners whose DNS hangs: two lookups in flight, the third delivery waits; all fail at their timeout (ELOOKUPTIMEOUT) and are retried; a slot is free again only when its hung lookup returns', async () => {
    assert.equal(WEBHOOK_LOOKUP_SLOTS, 2);
    const partners = [await partner('1', 'hooks-1.partner.invalid'), await partner('2', 'hooks-2.partner.invalid'), await partner('3', 'hooks-3.partner.invalid')];
    const clientIds = partners.map((each) => each.clientId);
    await queue([clientIds[0]!, 'msg_dns_1'], [clientIds[1]!, 'msg_dns_2'], [clientIds[2]!, 'msg_dns_3']);
    const start = clock.nowSeconds();
    // All three deliveries start at once (concurrency 4); no lookup is ever answered during this run.
    assert.deepEqual(await deliverDueWebhooks(options({ timeoutSeconds: 1 })), { attempted: 3, delivered: 0 });
    assert.equal(lookups.asked.length, 2, `two lookups were started, the third delivery waited: ${JSON.stringify(lookups.asked)}`);
    assert.equal(lookups.maxInFlight, 2);
    assert.deepEqual(failures, ['ELOOKUPTIMEOUT', 'ELOOKUPTIMEOUT', 'ELOOKUPTIMEOUT']);
    const retry = start + webhookBackoffSeconds(1);
    assert.deepEqual(await logged(clientIds, ['msg_dns_1', 'msg_dns_2', 'msg_dns_3']),
      [['msg_dns_1', 1, 0, false, retry], ['msg_dns_2', 1, 0, false, retry], ['msg_dns_3', 1, 0, false, retry]], 'failed attempts (status 0), retried later');
    assert.equal(lookups.inFlight, 2, 'the hung lookups are still in flight: the deliveries gave up on them, the resolver did not');

    // The retries come due while both hung lookups still hold the slots.
    clock.advanceSeconds(webhookBackoffSeconds(1));
    const begun: string[] = [];
    const counted: Storage = { ...storage, webhooks: { ...storage.webhooks, findEndpoint: async (clientId) => {
      const endpoint = await storage.webhooks.findEndpoint(clientId);
      begun.push(clientId);
      changed();
      return endpoint;
    } } };
    const run = deliverDueWebhooks(options({ storage: counted }));
    await Promise.race([when(() => begun.length === 3), run]);
    // A turn of the event loop: a delivery not held back by the slots would have asked its lookup by now.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(lookups.asked.length, 2, 'no lookup while both slots are held by lookups that have not returned');
    lookups.answerNext();
    await Promise.race([when(() => lookups.asked.length === 3), run]);
    assert.equal(lookups.asked.length, 3, 'the next lookup started once a hung one returned');
    assert.equal(lookups.inFlight, 2, 'and only that one beside the other hung lookup');
    lookups.autoAnswer = true;
    lookups.answerNext();
    lookups.answerNext();
    assert.deepEqual(await run, { attempted: 3, delivered: 3 });
    assert.equal(lookups.asked.length, 5);
    assert.equal(lookups.maxInFlight, 2, 'never more than two lookups at once');
    assert.deepEqual(partners.map((each) => each.receiver.arrived), [['msg_dns_1'], ['msg_dns_2'], ['msg_dns_3']]);
  });

  it('one partner whose DNS hangs holds one slot: another partner\'s name is still looked up and delivered to', async () => {
    const hung = await partner('1', 'hooks-hung.partner.invalid');
    const named = await partner('2', 'hooks-named.partner.invalid');
    await queue([hung.clientId, 'msg_one_1'], [named.clientId, 'msg_one_2']);
    const run = deliverDueWebhooks(options({ timeoutSeconds: 1 }));
    await Promise.race([when(() => lookups.asked.length === 2), run]);
    assert.deepEqual(lookups.asked, ['hooks-hung.partner.invalid', 'hooks-named.partner.invalid']);
    // Answer the second partner's lookup only (the first stays hung).
    lookups.answer('hooks-named.partner.invalid');
    assert.deepEqual(await run, { attempted: 2, delivered: 1 });
    assert.deepEqual(named.receiver.arrived, ['msg_one_2']);
    assert.deepEqual(hung.receiver.arrived, []);
    assert.deepEqual(failures, ['ELOOKUPTIMEOUT']);
  });

  it('a partner at an IP literal needs no lookup: it is delivered to while another partner\'s lookup hangs', async () => {
    const hung = await partner('1', 'hooks-hung.partner.invalid');
    const literal = await partner('2', '127.0.0.1');
    // The hung partner's delivery comes first and takes the lookup slot.
    await queue([hung.clientId, 'msg_literal_1'], [literal.clientId, 'msg_literal_2']);
    const run = deliverDueWebhooks(options());
    await Promise.race([when(() => lookups.asked.length === 1 && literal.receiver.arrived.length === 1), run]);
    assert.deepEqual(literal.receiver.arrived, ['msg_literal_2'], 'delivered without a lookup');
    assert.deepEqual(lookups.asked, ['hooks-hung.partner.invalid'], 'the literal was not looked up');
    assert.equal(lookups.inFlight, 1, 'while the other partner\'s lookup was still unanswered');
    assert.deepEqual(hung.receiver.arrived, []);
    lookups.answerNext();
    assert.deepEqual(await run, { attempted: 2, delivered: 2 });
    assert.deepEqual(hung.receiver.arrived, ['msg_literal_1']);
    assert.deepEqual(failures, []);
  });
});
