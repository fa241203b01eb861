/**
 * Issue 15 §5: delivers queued webhook events. Each instance runs the loop (like storage/cleanup-job.ts);
 * `webhooks.claimDue` leases deliveries so two instances never send one at the same time; a run sends to several
 * clients at once, one delivery per client at a time, so one slow receiver holds up only its own client. A delivery is
 * signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`, with the
 * `standardwebhooks` library), POSTed with a timeout, and on anything but a 2xx retried with exponential
 * backoff: `baseDelaySeconds * 2^(attempts-1)`, at most `maxDelaySeconds`, until `maxAttempts`. Receivers' host names
 * are resolved at most two at a time per process (`resolveWebhookHost`), so partners whose DNS hangs cannot take
 * libuv's whole thread pool from the rest of the server.
 */
import { Webhook } from 'standardwebhooks';
import type { Clock } from '../clock.ts';
import type { Storage, WebhookDeliveryRecord } from '../storage/storage.ts';
import { startPeriodicFlush } from '../storage/periodic-flush.ts';
import type { Environment } from '../options.ts';
import { decryptWebhookSecret, privateWebhookTargetsAllowed } from './webhook-secret.ts';
import { isPublicAddress, NonPublicAddressError } from '../clients/public-address.ts';
import { ADDRCONFIG, lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';

/**
 * How a receiver's host name is resolved: `dns.lookup` with `all: true` (its shape), which runs getaddrinfo on
 * libuv's thread pool. Injectable (`WebhookDeliveryOptions.lookup`) so tests decide when a lookup answers.
 */
export type WebhookHostLookup = (hostname: string, options: LookupAllOptions, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

export interface WebhookDeliveryOptions {
  storage: Storage;
  clock: Clock;
  /** The AES-256-GCM key of webhook-secret.ts `webhookSecretKey`. */
  secretKey: Buffer;
  /**
   * The server's environment: where deliveries may connect. Outside development they connect only to public
   * addresses (clients/public-address.ts; webhook-secret.ts privateWebhookTargetsAllowed), checked on the addresses
   * the URL's host resolves to when connecting (IP literals before it), so a URL stored earlier or a name that
   * resolves (or is rebound) to a private address gets no request: the delivery fails (status 0) and is retried like
   * an unreachable receiver. Development (and tests) deliver to receivers on 127.0.0.1.
   */
  environment: Environment;
  /** `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES`: in staging, connect to any address as in development. Default false; never in production. */
  allowPrivateAddresses?: boolean;
  /** Default 8 attempts in all. */
  maxAttempts?: number;
  /** Default 30 seconds (then 60, 120, …). */
  baseDelaySeconds?: number;
  /** Default 3600 seconds. */
  maxDelaySeconds?: number;
  /** Per request, default 10 seconds. */
  timeoutSeconds?: number;
  /** Deliveries per run, default 50. */
  batchSize?: number;
  /**
   * Deliveries in flight at once, each to a different client (never two of one client's), default 4: a receiver that
   * takes the whole timeout holds up its own client's deliveries only.
   */
  concurrency?: number;
  /**
   * Told of each attempt that did not deliver (main.ts logs it), since the delivery log keeps only the status (0 when
   * no response came). `reason`: the error's code (`ENOTPUBLIC` for an address that is not public, `ECONNREFUSED`,
   * `ELOOKUPTIMEOUT` when the host name was not resolved within the timeout, `ABORT_ERR` for the timeout, …),
   * `http_<status>` for a non-2xx answer, `no_endpoint` when the webhook was removed. Never a secret, a signature or
   * the payload.
   */
  onAttemptFailed?: (failure: { deliveryId: string; clientId: string; status: number; reason: string }) => void;
  /**
   * Resolves a receiver's host name (never called for an IP literal), default `dns.lookup`. Whatever it is, at most
   * one such lookup is in flight in the process at a time (`resolveWebhookHost`).
   */
  lookup?: WebhookHostLookup;
  /** Once aborted, the run starts no further delivery (the ones under way finish): `WebhookWorker.stop`. */
  signal?: AbortSignal;
}

/** The delay before attempt `attempts + 1`, after `attempts` failed ones (seconds). */
export function webhookBackoffSeconds(attempts: number, baseDelaySeconds = 30, maxDelaySeconds = 3600): number {
  return Math.min(maxDelaySeconds, baseDelaySeconds * 2 ** Math.max(0, attempts - 1));
}

/** Deliveries in flight at once in one run, by default (`concurrency`). */
export const DEFAULT_WEBHOOK_CONCURRENCY = 4;

/**
 * `options.concurrency` (default DEFAULT_WEBHOOK_CONCURRENCY).
 * @throws RangeError unless it is a whole number of at least 1: 0 would claim deliveries and start none, leaving them
 *   leased and undelivered run after run.
 */
function deliveryConcurrency(options: Pick<WebhookDeliveryOptions, 'concurrency'>): number {
  const concurrency = options.concurrency ?? DEFAULT_WEBHOOK_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`webhook delivery concurrency must be a whole number of at least 1, got ${concurrency}`);
  return concurrency;
}

/**
 * One run: delivers the deliveries due now (at most `batchSize`), to different clients at once (at most `concurrency`
 * in flight, one per client), as long as their lease allows. @returns how many were attempted and delivered; the ones
 * claimed but not attempted stay due.
 * @throws the first error of a delivery that failed in storage (after the others under way have finished).
 */
export async function deliverDueWebhooks(options: WebhookDeliveryOptions): Promise<{ attempted: number; delivered: number }> {
  const timeoutSeconds = options.timeoutSeconds ?? 10;
  const concurrency = deliveryConcurrency(options);
  const now = options.clock.nowSeconds();
  // The lease outlasts a request's timeout, so a slow receiver is not sent the event twice at once.
  const leaseEnds = now + timeoutSeconds + 30;
  const waiting = await options.storage.webhooks.claimDue(now, options.batchSize ?? 50, leaseEnds - now);
  let attempted = 0;
  let delivered = 0;
  // One delivery at a time, a receiver that took the whole timeout delayed every other partner's deliveries behind
  // it, run after run. Now up to `concurrency` go out at once, but never two of one client's: its deliveries still go
  // out one after the other in the batch's order (README "Partner webhooks": in the order they happened), and one
  // partner cannot take every slot.
  const busyClients = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let starting = true;
  for (;;) {
    while (starting && failure === undefined && inFlight.size < concurrency) {
      // The first waiting delivery (in the batch's order) of a client with none in flight.
      const index = waiting.findIndex((delivery) => !busyClients.has(delivery.clientId));
      if (index === -1) break;
      // One lease covers the whole batch, but the batch goes out over time: behind slow receivers (up to
      // `timeoutSeconds` each) the leases of the later deliveries ran out before they were sent, another instance
      // claimed them, and a receiver got the same event twice at once. A request that could still be running when the
      // lease ends is not started (nor any later one: the clock only moves on): the rest stay due and are claimed
      // again (by any instance) once their lease ends. Once stopping, none is started either.
      if (options.clock.nowSeconds() + timeoutSeconds >= leaseEnds || options.signal?.aborted) {
        starting = false;
        break;
      }
      const [delivery] = waiting.splice(index, 1) as [WebhookDeliveryRecord];
      busyClients.add(delivery.clientId);
      attempted++;
      const task: Promise<void> = deliverOne(options, delivery, timeoutSeconds).then((ok) => {
        if (ok) delivered++;
      }, (error: unknown) => {
        // A storage error: start nothing more, let the others under way finish, then end the run with it.
        failure ??= { error };
      }).finally(() => {
        busyClients.delete(delivery.clientId);
        inFlight.delete(task);
      });
      inFlight.add(task);
    }
    if (inFlight.size === 0) break;
    await Promise.race(inFlight);
  }
  if (failure) throw failure.error;
  return { attempted, delivered };
}

async function deliverOne(options: WebhookDeliveryOptions, delivery: WebhookDeliveryRecord, timeoutSeconds: number): Promise<boolean> {
  const endpoint = await options.storage.webhooks.findEndpoint(delivery.clientId);
  const at = options.clock.nowSeconds();
  const failed = (status: number, reason: string) => options.onAttemptFailed?.({ deliveryId: delivery.deliveryId, clientId: delivery.clientId, status, reason });
  if (!endpoint) {
    // The endpoint was removed: nothing to send it to, no more attempts.
    await options.storage.webhooks.recordAttempt(delivery.deliveryId, { at, status: 0, nextAttemptAt: null, deliveredAt: null });
    failed(0, 'no_endpoint');
    return false;
  }
  let status = 0;
  let reason = '';
  try {
    // Inside the try: a secret that cannot be read (GATEHOUSE_TOKEN_KEY changed, README "Partner webhooks") fails this
    // delivery alone, retried and given up as an unreachable receiver is; thrown, it ended the run, and the deliveries
    // leased with it (other clients' too) came due with it again, behind it, run after run.
    const secret = decryptWebhookSecret(options.secretKey, delivery.clientId, endpoint.secretCiphertext);
    // Standard Webhooks: the id stays the same on every attempt (receivers deduplicate), the timestamp is the attempt's.
    const signature = new Webhook(secret).sign(delivery.deliveryId, new Date(at * 1000), delivery.payload);
    status = await post(endpoint.url, delivery.payload, {
      'content-type': 'application/json', 'webhook-id': delivery.deliveryId, 'webhook-timestamp': String(at), 'webhook-signature': signature,
    }, timeoutSeconds, !privateWebhookTargetsAllowed(options.environment, options.allowPrivateAddresses), options.lookup ?? defaultLookup);
  } catch (error) {
    status = 0;
    reason = errorReason(error);
  }
  if (status >= 200 && status < 300) {
    await options.storage.webhooks.recordAttempt(delivery.deliveryId, { at, status, nextAttemptAt: null, deliveredAt: at });
    return true;
  }
  const attempts = delivery.attempts + 1;
  const nextAttemptAt = attempts >= (options.maxAttempts ?? 8) ? null : at + webhookBackoffSeconds(attempts, options.baseDelaySeconds, options.maxDelaySeconds);
  await options.storage.webhooks.recordAttempt(delivery.deliveryId, { at, status, nextAttemptAt, deliveredAt: null });
  failed(status, status === 0 ? reason : `http_${status}`);
  return false;
}

/** An error's code (Node's system and HTTP errors, NonPublicAddressError's ENOTPUBLIC), else its name: never its message. */
function errorReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code)) return code;
  return error instanceof Error ? error.name : 'error';
}

/** `dns.lookup` read at call time (a test's `mock.method(dns, 'lookup')` + syncBuiltinESMExports replaces it). */
const defaultLookup: WebhookHostLookup = (hostname, options, callback) => dnsLookup(hostname, options, callback);

/**
 * How many webhook host-name lookups may run at once in the process. `dns.lookup` is getaddrinfo on libuv's thread
 * pool (4 threads by default, UV_THREADPOOL_SIZE; https://nodejs.org/api/dns.html#implementation-considerations), and a
 * lookup whose DNS never answers holds its thread until the system resolver gives up, whatever our timeout says (a
 * getaddrinfo call cannot be cancelled). With `concurrency` deliveries at once, four partners with dead DNS held the
 * whole pool, and everything else on it stalled: scrypt/argon2 password hashing (logins), some crypto, file system
 * calls. Two slots leave half the pool to the server, and since a run has at most one delivery of a client in flight,
 * one partner's dead DNS holds one slot and cannot stop every other partner's deliveries (with one slot it did, until
 * its resolver gave up). A slot is handed on only when the lookup itself returns, not when a delivery gives up on it,
 * so hung getaddrinfo calls never outnumber the slots.
 */
export const WEBHOOK_LOOKUP_SLOTS = 2;
let lookupSlotsFree = WEBHOOK_LOOKUP_SLOTS;
const lookupSlotWaiters: (() => void)[] = [];

function lookupTimeoutError(hostname: string): Error {
  return Object.assign(new Error(`the host name ${hostname} was not resolved within the delivery's timeout`), { code: 'ELOOKUPTIMEOUT' });
}

/** Waits for the lookup slot; rejects with ELOOKUPTIMEOUT (leaving the queue) if `signal` aborts first. */
function takeLookupSlot(hostname: string, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(lookupTimeoutError(hostname));
  if (lookupSlotsFree > 0) {
    lookupSlotsFree -= 1;
    return Promise.resolve();
  }
  return new Promise<void>((resolve, reject) => {
    const waiter = () => {
      signal.removeEventListener('abort', abandon);
      resolve();
    };
    const abandon = () => {
      const index = lookupSlotWaiters.indexOf(waiter);
      if (index !== -1) lookupSlotWaiters.splice(index, 1);
      reject(lookupTimeoutError(hostname));
    };
    lookupSlotWaiters.push(waiter);
    signal.addEventListener('abort', abandon, { once: true });
  });
}

/** Hands the slot to the next waiting delivery (it stays taken), else frees it. */
function releaseLookupSlot(): void {
  const next = lookupSlotWaiters.shift();
  if (next) next();
  else lookupSlotsFree += 1;
}

/**
 * Resolves a receiver's host name through one of the process's lookup slots (see `WEBHOOK_LOOKUP_SLOTS`): every address, as
 * `dns.lookup` with `all: true` and the ADDRCONFIG hint Node's net.connect passes by default. Waiting for the slot
 * and for the answer together end with `signal` (the delivery's timeout): the delivery then fails with ELOOKUPTIMEOUT
 * (status 0, retried like an unreachable receiver), while the lookup, if it was started, keeps the slot until it
 * returns.
 */
async function resolveWebhookHost(hostname: string, lookup: WebhookHostLookup, signal: AbortSignal): Promise<LookupAddress[]> {
  await takeLookupSlot(hostname, signal);
  // Handed the slot just as the timeout fired: start no lookup for a delivery already given up.
  if (signal.aborted) {
    releaseLookupSlot();
    throw lookupTimeoutError(hostname);
  }
  return new Promise<LookupAddress[]>((resolve, reject) => {
    let returned = false;
    const giveUp = () => reject(lookupTimeoutError(hostname));
    signal.addEventListener('abort', giveUp, { once: true });
    const done = (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
      // A lookup that calls back twice must not hand the slot on twice.
      if (returned) return;
      returned = true;
      signal.removeEventListener('abort', giveUp);
      releaseLookupSlot();
      // After giveUp this settles nothing (a promise settles once).
      if (error) reject(error);
      else resolve(addresses);
    };
    try {
      lookup(hostname, { all: true, hints: ADDRCONFIG }, done);
    } catch (error) {
      done(error as NodeJS.ErrnoException, []);
    }
  });
}

/**
 * A `lookup` for `http.request` that answers with addresses already resolved (and checked): the connection goes to
 * exactly those, no second resolution a rebinding name could change. As `dns.lookup` answers: every address with
 * `all`, else the first; only those of the family asked for, if one is.
 */
function pinnedLookup(hostname: string, addresses: LookupAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    const matching = family === 4 || family === 6 ? addresses.filter((entry) => entry.family === family) : addresses;
    // Asynchronously, as dns.lookup calls back.
    process.nextTick(() => {
      if (matching.length === 0) {
        return callback(Object.assign(new Error(`no address of ${hostname} in the family asked for`), { code: 'ENOTFOUND' }), options.all ? [] : '');
      }
      if (options.all) return callback(null, matching);
      return callback(null, matching[0]!.address, matching[0]!.family);
    });
  };
}

/**
 * POSTs `body` and resolves with the response's status (redirects are not followed: a 3xx is a failed
 * attempt); the body is not read. `node:http(s)` rather than fetch: its `lookup` is the one place where the
 * addresses actually connected to can be decided. A host name is resolved first (`resolveWebhookHost`, one lookup
 * in flight per process) and, with `publicOnly`, refused unless every address is public (public-address.ts
 * `isPublicAddress`, as its `publicAddressesOnly` does); the request's `lookup` then answers with those addresses.
 * A `101` upgrade resolves with 101 (a failed attempt, as a 3xx). Never through a proxy (see below).
 * @throws on a refused address (NonPublicAddressError, ENOTPUBLIC), a name not resolved within the timeout
 *   (ELOOKUPTIMEOUT), a network error, the timeout (ABORT_ERR), or a connection closed without an answer (ENORESPONSE).
 */
async function post(url: string, body: string, headers: Record<string, string>, timeoutSeconds: number, publicOnly: boolean, lookup: WebhookHostLookup): Promise<number> {
  const target = new URL(url);
  // An IP literal is connected to without a lookup: check it here.
  const literal = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  if (publicOnly && isIP(literal) !== 0 && !isPublicAddress(literal)) throw new NonPublicAddressError(target.hostname);
  // One timeout for the whole attempt: name resolution (the wait for the lookup slot included), connect and the
  // answer's headers together (README "Partner webhooks").
  const signal = AbortSignal.timeout(timeoutSeconds * 1000);
  let pinned: LookupFunction | undefined;
  if (isIP(literal) === 0) {
    const addresses = await resolveWebhookHost(target.hostname, lookup, signal);
    if (publicOnly && (addresses.length === 0 || addresses.some((entry) => !isPublicAddress(entry.address)))) throw new NonPublicAddressError(target.hostname);
    if (addresses.length === 0) throw Object.assign(new Error(`${target.hostname} resolved to no address`), { code: 'ENOTFOUND' });
    pinned = pinnedLookup(target.hostname, addresses);
  }
  const https = target.protocol === 'https:';
  const send = https ? httpsRequest : httpRequest;
  // Never through an environment proxy (NODE_USE_ENV_PROXY=1 or --use-env-proxy with HTTP(S)_PROXY set): a proxy
  // resolves the host itself, so `lookup` would never see the addresses and a private target would be reached through
  // it (README "Partner webhooks"). Node 24 gives env proxies to the global agents only, so `agent: false` was enough;
  // nodejs/node#64528 makes every agent built without `proxyEnv` inherit them, with an explicit `proxyEnv` as the
  // opt-out. This agent's proxyEnv names no proxy, either way. One agent per delivery, no keep-alive: no socket is
  // reused for another partner's request (as `agent: false` did). webhook-proxy.test.ts runs a delivery under both.
  const agent = https ? new HttpsAgent({ keepAlive: false, proxyEnv: {} }) : new HttpAgent({ keepAlive: false, proxyEnv: {} });
  return new Promise<number>((resolve, reject) => {
    const outgoing = send(target, {
      method: 'POST', agent, signal, ...(pinned ? { lookup: pinned } : {}),
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    }, (response) => {
      resolve(response.statusCode ?? 0);
      response.destroy();
    });
    outgoing.on('error', reject);
    // A `101` with `Connection: upgrade` answers a request that asked for no upgrade: with no 'upgrade' listener Node
    // closes the socket and emits neither a response nor an error, and the timeout's abort finds the request done, so
    // the promise never settled and the run (and every later run on this instance, and stop()) waited forever on one
    // receiver's answer. The upgrade is a failed attempt with its status; any other close without an answer rejects.
    outgoing.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve(response.statusCode ?? 0);
    });
    outgoing.on('close', () => reject(Object.assign(new Error('the connection closed without an answer'), { code: 'ENORESPONSE' })));
    outgoing.end(body);
  }).finally(() => agent.destroy());
}

export interface WebhookWorker {
  /**
   * Stops the timer and waits for the deliveries under way (at most `concurrency`, each at most `timeoutSeconds`, side
   * by side); the rest of the run's batch is not sent (it stays due, for any instance once its lease ends).
   */
  stop(): Promise<void>;
}

/** Runs `deliverDueWebhooks` every `intervalSeconds` (unref'd timer, runs never overlap; errors reported). */
export function startWebhookWorker(options: WebhookDeliveryOptions & { intervalSeconds: number; onError?: (error: unknown) => void }): WebhookWorker {
  // A wrong concurrency fails the start, not every run (where onError would only log it).
  deliveryConcurrency(options);
  // A stopping server (main.ts closeResources, within the shutdown's grace) waited for the whole batch, up to its lease.
  const stopping = new AbortController();
  const job = startPeriodicFlush(() => deliverDueWebhooks({ ...options, signal: stopping.signal }).then(() => {}, (error: unknown) => options.onError?.(error)),
    options.intervalSeconds * 1000);
  return {
    async stop() {
      job.stop();
      stopping.abort();
      await job.settled();
    },
  };
}
