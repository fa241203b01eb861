/**
 * One run of the delivery worker delivers to different partners at once (at most `concurrency`, default 4, in
 * flight; at most one per client), so a receiver that takes the whole timeout holds up only its own partner's
 * deliveries. Receivers here hold every request until the test answers it (no sleeps, no timed assertions): each case
 * checks what reached which receiver while another was still held, and what never happened (two of one partner's
 * deliveries at once, a request that could outlast its lease, a delivery started after stop()).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createTestClock } from '../clock.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { conditionWaiter, queueDueDeliveries, webhookReceiver, type WebhookReceiver } from '../testing/webhook-receivers.ts';
import { deliverDueWebhooks, startWebhookWorker, type WebhookDeliveryOptions } from './webhook-worker.ts';
import { encryptWebhookSecret, newWebhookSecret, webhookSecretKey } from './webhook-secret.ts';

const secretKey = webhookSecretKey(Buffer.alloc(32, 7));
/** Long enough that a correct run never reaches it on a loaded machine; the parent code (one at a time) does. */
const timeoutSeconds = 5;

const { when, changed, clear } = conditionWaiter();
type Receiver = WebhookReceiver;
const receiver = () => webhookReceiver(changed);

describe('webhook deliveries: partners are delivered to concurrently, one delivery per partner at a time', () => {
  let storage: Storage;
  let clock: ReturnType<typeof createTestClock>;
  let receivers: Receiver[];

  beforeEach(() => {
    storage = createSqliteStorage(':memory:');
    clock = createTestClock();
    receivers = [];
  });
  afterEach(async () => {
    clear();
    for (const open of receivers) await open.close();
    await storage.close();
  });

  /** A partner (its own client id) whose webhook is `target`'s URL. */
  async function partner(name: string, target?: Receiver): Promise<{ clientId: string; receiver: Receiver }> {
    const hook = target ?? (await receiver());
    if (!target) receivers.push(hook);
    const clientId = `00000000-0000-4000-8000-${name.padStart(12, '0')}`;
    await storage.webhooks.setEndpoint({
      clientId, url: `http://127.0.0.1:${hook.port}/hooks/${name}`, secretCiphertext: encryptWebhookSecret(secretKey, clientId, newWebhookSecret()), createdAt: clock.nowSeconds(),
    });
    return { clientId, receiver: hook };
  }
  /** Queues deliveries due now; their ids sort (and so go out) in the order given. */
  const queue = (...deliveries: [clientId: string, deliveryId: string][]) => queueDueDeliveries(storage, clock.nowSeconds(), deliveries);
  const options = (overrides: Partial<WebhookDeliveryOptions> = {}): WebhookDeliveryOptions =>
    ({ storage, clock, secretKey, environment: 'development', timeoutSeconds, ...overrides });
  /** [attempts, delivered] of each delivery, by id. */
  async function logged(clientIds: string[], deliveryIds: string[]) {
    const all = (await Promise.all(clientIds.map((clientId) => storage.webhooks.list(clientId, 100)))).flat();
    return deliveryIds.map((id) => {
      const delivery = all.find((entry) => entry.deliveryId === id)!;
      return [id, delivery.attempts, delivery.deliveredAt !== null];
    });
  }

  it('a receiver that does not answer does not hold up another partner\'s delivery in the same run', async () => {
    const slow = await partner('1');
    const quick = await partner('2');
    quick.receiver.autoAnswer = true;
    // The slow partner's delivery comes first: one at a time, the quick one waited for its whole timeout.
    await queue([slow.clientId, 'msg_hang_1'], [quick.clientId, 'msg_hang_2']);
    const run = deliverDueWebhooks(options());
    await when(() => quick.receiver.arrived.length === 1);
    assert.deepEqual(slow.receiver.arrived, ['msg_hang_1']);
    assert.equal(slow.receiver.open, 1, 'the quick partner was delivered to while the slow one was still being waited for');
    slow.receiver.answerAll();
    assert.deepEqual(await run, { attempted: 2, delivered: 2 });
    assert.deepEqual(await logged([slow.clientId, quick.clientId], ['msg_hang_1', 'msg_hang_2']), [['msg_hang_1', 1, true], ['msg_hang_2', 1, true]]);
    assert.deepEqual([slow.receiver.arrived, quick.receiver.arrived], [['msg_hang_1'], ['msg_hang_2']], 'each sent once');
  });

  it('one partner never has two deliveries in flight, and gets them in their order, while the others are delivered to', async () => {
    const busy = await partner('1');
    const second = await partner('2');
    const third = await partner('3');
    second.receiver.autoAnswer = true;
    third.receiver.autoAnswer = true;
    await queue([busy.clientId, 'msg_one_1'], [busy.clientId, 'msg_one_2'], [busy.clientId, 'msg_one_3'], [second.clientId, 'msg_one_4'], [third.clientId, 'msg_one_5']);
    const run = deliverDueWebhooks(options());
    // The later partners' deliveries come after the busy partner's second and third in the batch: once they have
    // arrived, the run has passed over those two, since their partner's first was still in flight.
    await when(() => second.receiver.arrived.length === 1 && third.receiver.arrived.length === 1);
    assert.deepEqual(busy.receiver.arrived, ['msg_one_1'], 'the busy partner\'s next delivery waits for its first');
    assert.equal(busy.receiver.open, 1);
    busy.receiver.autoAnswer = true;
    busy.receiver.answerAll();
    assert.deepEqual(await run, { attempted: 5, delivered: 5 });
    assert.deepEqual(busy.receiver.arrived, ['msg_one_1', 'msg_one_2', 'msg_one_3'], 'in their order, each once');
    assert.equal(busy.receiver.maxOpen, 1, 'never two at once');
  });

  it('at most 4 deliveries are in flight at once: the fifth partner\'s starts only when one of them has finished', async () => {
    // One receiver for six partners: it sees every request of the run.
    const shared = await receiver();
    receivers.push(shared);
    const partners = [];
    for (const name of ['1', '2', '3', '4', '5', '6']) partners.push(await partner(name, shared));
    await queue(...partners.map(({ clientId }, index): [string, string] => [clientId, `msg_bound_${index + 1}`]));
    // Which deliveries the run has begun (each looks its endpoint up first): counted as they begin, not as they arrive.
    const begun: string[] = [];
    const counted: Storage = { ...storage, webhooks: { ...storage.webhooks, findEndpoint: (clientId) => (begun.push(clientId), storage.webhooks.findEndpoint(clientId)) } };
    const run = deliverDueWebhooks(options({ storage: counted }));
    await when(() => shared.arrived.length === 4);
    assert.equal(shared.open, 4, 'four at once');
    assert.equal(begun.length, 4, 'and no fifth begun meanwhile');
    shared.autoAnswer = true;
    shared.answerAll();
    assert.deepEqual(await run, { attempted: 6, delivered: 6 });
    assert.equal(shared.maxOpen, 4);
    assert.deepEqual([...shared.arrived].sort(), partners.map((_, index) => `msg_bound_${index + 1}`));
  });

  it('the lease rule still holds with several partners in flight: no request is started that could outlast the lease, and another instance never claims one being sent', async () => {
    // One receiver for both partners, driven in rounds: once every request the run has started is held, the test moves
    // the clock on by the timeout (each request takes all of it), lets another instance claim what is due, and answers.
    const shared = await receiver();
    receivers.push(shared);
    const first = await partner('1', shared);
    const second = await partner('2', shared);
    const start = clock.nowSeconds();
    const ids = (clientId: string, letter: string) => [1, 2, 3, 4, 5].map((n): [string, string] => [clientId, `msg_lease_${letter}${n}`]);
    await queue(...ids(first.clientId, 'a'), ...ids(second.clientId, 'b'));
    const claimedElsewhere: string[] = [];
    const rounds = async (run: Promise<{ attempted: number; delivered: number }>) => {
      let finished = false;
      const before = shared.arrived.length;
      void run.then(() => (finished = true), () => (finished = true));
      for (let round = 1; ; round++) {
        // Two partners, one delivery each in flight: a round is two requests (or the run's end).
        await Promise.race([run, when(() => shared.arrived.length >= before + 2 * round)]);
        if (finished && shared.open === 0) return run;
        clock.advanceSeconds(10);
        claimedElsewhere.push(...(await storage.webhooks.claimDue(clock.nowSeconds(), 50, 40)).map((delivery) => delivery.deliveryId));
        shared.answerAll();
      }
    };
    // The lease is 40 s (timeout 10 + 30): rounds start at +0, +10 and +20; one started at +30 could still run at +40.
    assert.deepEqual(await rounds(deliverDueWebhooks(options({ timeoutSeconds: 10 }))), { attempted: 6, delivered: 6 });
    assert.deepEqual(claimedElsewhere, [], 'no other instance could claim a delivery while this run might still send it');
    assert.deepEqual([...shared.arrived].sort(), ['msg_lease_a1', 'msg_lease_a2', 'msg_lease_a3', 'msg_lease_b1', 'msg_lease_b2', 'msg_lease_b3']);
    // Their lease ends at +40 s: the next run sends the rest, each once.
    clock.advanceSeconds(start + 40 - clock.nowSeconds());
    assert.deepEqual(await rounds(deliverDueWebhooks(options({ timeoutSeconds: 10 }))), { attempted: 4, delivered: 4 });
    assert.deepEqual([...shared.arrived].sort(), [...ids(first.clientId, 'a'), ...ids(second.clientId, 'b')].map(([, id]) => id));
    assert.deepEqual(claimedElsewhere, []);
  });

  it('a delivery that fails in storage ends the run after the others under way have finished, and no further one is started', async () => {
    const failing = await partner('1');
    const other = await partner('2');
    failing.receiver.autoAnswer = true;
    await queue([failing.clientId, 'msg_fail_1'], [other.clientId, 'msg_fail_2'], [other.clientId, 'msg_fail_3']);
    const broken = new Error('the database went away');
    let recordFailed: () => void = () => {};
    const failed = new Promise<void>((resolve) => (recordFailed = resolve));
    const flaky: Storage = {
      ...storage,
      webhooks: {
        ...storage.webhooks,
        recordAttempt: (deliveryId, attempt) => {
          if (deliveryId !== 'msg_fail_1') return storage.webhooks.recordAttempt(deliveryId, attempt);
          recordFailed();
          return Promise.reject(broken);
        },
      },
    };
    let settled = false;
    const run = deliverDueWebhooks(options({ storage: flaky }));
    void run.then(() => (settled = true), () => (settled = true));
    await failed;
    await Promise.race([when(() => other.receiver.arrived.length === 1), run.catch(() => {})]);
    assert.deepEqual(other.receiver.arrived, ['msg_fail_2'], 'the other partner\'s delivery went out beside the failing one');
    // A turn of the event loop: a run that gave up at once would have settled by now.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'the run waits for the delivery still under way');
    other.receiver.answerAll();
    await assert.rejects(run, broken);
    assert.deepEqual(other.receiver.arrived, ['msg_fail_2'], 'nothing started after the failure');
    assert.deepEqual(await logged([other.clientId], ['msg_fail_2', 'msg_fail_3']), [['msg_fail_2', 1, true], ['msg_fail_3', 0, false]]);
  });

  it('stop() waits for the deliveries under way (every partner\'s) and starts no more: the rest stay due, unattempted', async () => {
    const first = await partner('1');
    const second = await partner('2');
    await queue([first.clientId, 'msg_stop_a1'], [second.clientId, 'msg_stop_b1'], [first.clientId, 'msg_stop_a2'], [second.clientId, 'msg_stop_b2']);
    const worker = startWebhookWorker({ ...options(), intervalSeconds: 0.02 });
    await when(() => first.receiver.arrived.length + second.receiver.arrived.length === 2);
    const stopped = worker.stop();
    first.receiver.answerAll();
    second.receiver.answerAll();
    await stopped;
    assert.deepEqual([first.receiver.arrived, second.receiver.arrived], [['msg_stop_a1'], ['msg_stop_b1']], 'both under way were finished, nothing started after stop()');
    assert.deepEqual(await logged([first.clientId, second.clientId], ['msg_stop_a1', 'msg_stop_b1', 'msg_stop_a2', 'msg_stop_b2']),
      [['msg_stop_a1', 1, true], ['msg_stop_b1', 1, true], ['msg_stop_a2', 0, false], ['msg_stop_b2', 0, false]]);
  });

  it('refuses a concurrency that is not a whole number of at least 1, before claiming anything', async () => {
    const { clientId, receiver: hook } = await partner('9');
    hook.autoAnswer = true;
    await queue([clientId, 'msg_concurrency_0']);
    for (const concurrency of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(deliverDueWebhooks({ storage, clock, secretKey, environment: 'development', timeoutSeconds, concurrency }), RangeError, String(concurrency));
      assert.throws(() => startWebhookWorker({ storage, clock, secretKey, environment: 'development', timeoutSeconds, concurrency, intervalSeconds: 60 }), RangeError, String(concurrency));
    }
    // Nothing was claimed: the delivery is still due now and is delivered by a run with a sound concurrency.
    assert.deepEqual(await deliverDueWebhooks({ storage, clock, secretKey, environment: 'development', timeoutSeconds, concurrency: 1 }), { attempted: 1, delivered: 1 });
  });
});
