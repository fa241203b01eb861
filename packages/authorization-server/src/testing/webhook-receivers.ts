/**
 * Webhook receivers and queued deliveries for the delivery worker's tests, driven without sleeps: a receiver on 127.0.0.1 holds every
 * request until the test answers it (or answers at once with `autoAnswer`), and `when` resolves once a condition
 * holds, checked again whenever something `changed()` (a request arrived, a lookup was asked).
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Storage } from '../storage/storage.ts';

/** Conditions re-checked on `changed()`; `clear()` between tests drops the ones left waiting. */
export function conditionWaiter(): { when(condition: () => boolean): Promise<void>; changed(): void; clear(): void } {
  const listeners = new Set<() => void>();
  return {
    when: (condition) => new Promise((resolve) => {
      const check = () => {
        if (!condition()) return;
        listeners.delete(check);
        resolve();
      };
      listeners.add(check);
      check();
    }),
    changed: () => {
      for (const listener of [...listeners]) listener();
    },
    clear: () => listeners.clear(),
  };
}

/** A partner's receiver on 127.0.0.1. */
export interface WebhookReceiver {
  port: number;
  /** webhook-ids in the order their requests arrived. */
  arrived: string[];
  /** Requests arrived and not yet answered (nor closed by the worker). */
  open: number;
  /** The most requests this receiver had open at once. */
  maxOpen: number;
  /** Answer every request at once (204) from now on. */
  autoAnswer: boolean;
  /** Answers every held request (204). */
  answerAll(): void;
  /** Answers what is held, closes its connections and stops listening. */
  close(): Promise<void>;
}

/**
 * @param changed called on every request that arrives (conditionWaiter's `changed`).
 * @param autoAnswer answer every request at once (204) instead of holding it.
 */
export async function webhookReceiver(changed: () => void, autoAnswer = false): Promise<WebhookReceiver> {
  const held: ServerResponse[] = [];
  const sockets = new Set<Socket>();
  const result = { port: 0, arrived: [] as string[], open: 0, maxOpen: 0, autoAnswer } as WebhookReceiver;
  const answer = (response: ServerResponse) => {
    if (response.writableEnded) return;
    result.open--;
    response.statusCode = 204;
    response.end();
  };
  const server = createServer((request, response) => {
    request.resume();
    result.arrived.push(String(request.headers['webhook-id']));
    result.open++;
    result.maxOpen = Math.max(result.maxOpen, result.open);
    // Closed by the worker (its timeout) before an answer: no longer open.
    response.on('close', () => {
      if (!response.writableEnded) result.open--;
    });
    if (result.autoAnswer) answer(response);
    else held.push(response);
    changed();
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  result.port = (server.address() as AddressInfo).port;
  result.answerAll = () => {
    for (const response of held.splice(0)) answer(response);
  };
  result.close = async () => {
    result.answerAll();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  return result;
}

/** Queues one `client.suspended` delivery per [client, id], all due `now`; ids that sort in the order given go out in it. */
export async function queueDueDeliveries(storage: Storage, now: number, deliveries: readonly (readonly [clientId: string, deliveryId: string])[]): Promise<void> {
  for (const [clientId, deliveryId] of deliveries) {
    await storage.webhooks.enqueue({
      deliveryId, clientId, eventType: 'client.suspended', payload: '{"type":"client.suspended"}',
      createdAt: now, attempts: 0, nextAttemptAt: now, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
    });
  }
}
