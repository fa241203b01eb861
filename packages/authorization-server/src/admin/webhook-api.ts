/**
 * Issue 15 §5: a client's partner webhook through the admin API, under /admin/v1:
 * - `PUT /clients/{client_id}/webhook` `{ "url": ..., "event_types"?: [...] | null }` sets it and answers
 *   the `whsec_` signing secret once (a new secret on every PUT; stored only encrypted,
 *   webhooks/webhook-secret.ts); `event_types` absent keeps the subscription (every event for a new one);
 * - `GET /clients/{client_id}/webhook` the settings `{ client_id, url, event_types, created_at }` (never the secret);
 * - `PATCH /clients/{client_id}/webhook` `{ "event_types": [...] | null }` changes only the subscription;
 * - `POST /clients/{client_id}/webhook/rotate-secret` a new secret for the same URL, answered once;
 * - `DELETE /clients/{client_id}/webhook` removes it (204; 404 when there was none);
 * - `GET /clients/{client_id}/webhook/deliveries` the delivery log, newest first (at most 100);
 * - `POST /clients/{client_id}/webhook/deliveries/{delivery_id}/resend` makes one due again (202).
 * Each change is audited (`client.webhook_set`, `client.webhook_removed`), never with the secret.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../server-context.ts';
import type { WebhookDeliveryRecord } from '../storage/storage.ts';
import { removeClientWebhook, resendWebhookDelivery, rotateClientWebhookSecret, setClientWebhook, setClientWebhookEvents } from '../webhooks/webhook-endpoint.ts';
import { WEBHOOK_EVENT_TYPES } from '../webhooks/webhook-events.ts';

const CLIENT_ID_PARAMS = { type: 'object', required: ['client_id'], properties: { client_id: { type: 'string', maxLength: 100 } } } as const;
const EVENT_TYPES = {
  type: ['array', 'null'], items: { type: 'string', enum: [...WEBHOOK_EVENT_TYPES] }, minItems: 1, uniqueItems: true,
  description: 'The events the endpoint receives; null = every event (also ones added later)',
} as const;

/** The delivery log's JSON: snake_case, times in seconds since the epoch, `event` the body as sent. */
export const deliveryJson = (d: WebhookDeliveryRecord) => ({
  delivery_id: d.deliveryId, event_type: d.eventType, event: JSON.parse(d.payload) as unknown, created_at: d.createdAt, attempts: d.attempts,
  next_attempt_at: d.nextAttemptAt, last_attempt_at: d.lastAttemptAt, last_status: d.lastStatus, delivered_at: d.deliveredAt,
});

export function webhookApi(context: ServerContext, administratorName: (request: FastifyRequest) => string) {
  return async function webhookApiPlugin(app: FastifyInstance): Promise<void> {
    const clientId = (request: FastifyRequest) => (request.params as { client_id: string }).client_id;
    const unknownClient = (reply: FastifyReply) => reply.code(404).send({ error: 'not_found', error_description: 'no client with that id' });

    app.put('/clients/:client_id/webhook', {
      schema: {
        summary: 'Set the partner webhook (issue 15 §5): https URL to a public address (loopback, private and http loopback URLs only in development); answers the whsec_ signing secret once',
        params: CLIENT_ID_PARAMS,
        body: { type: 'object', required: ['url'], additionalProperties: false, properties: { url: { type: 'string' }, event_types: EVENT_TYPES } },
      },
    }, async (request, reply) => {
      const body = request.body as { url: string; event_types?: string[] | null };
      const rule = { environment: context.options.environment, allowPrivateAddresses: context.options.webhookAllowPrivateAddresses };
      const result = await setClientWebhook(context.storage, context.options.tokenHmacKey, rule, clientId(request),
        body.url, `admin:${administratorName(request)}`, context.clock.nowSeconds(), body.event_types);
      if (result.outcome === 'unknown_client') return unknownClient(reply);
      if (result.outcome === 'invalid_url') return reply.code(400).send({ error: 'invalid_request', error_description: result.problem, field: 'url' });
      if (result.outcome === 'invalid_event_types') return reply.code(400).send({ error: 'invalid_request', error_description: result.problem, field: 'event_types' });
      return { client_id: clientId(request), url: result.url, event_types: result.eventTypes, secret: result.secret, created_at: result.createdAt };
    });

    app.get('/clients/:client_id/webhook', { schema: { summary: 'The partner webhook settings (never the secret)', params: CLIENT_ID_PARAMS } }, async (request, reply) => {
      const endpoint = await context.storage.webhooks.findEndpoint(clientId(request));
      if (!endpoint) return reply.code(404).send({ error: 'not_found', error_description: 'the client has no webhook' });
      return { client_id: endpoint.clientId, url: endpoint.url, event_types: endpoint.eventTypes ?? null, created_at: endpoint.createdAt };
    });

    app.patch('/clients/:client_id/webhook', {
      schema: {
        summary: 'Change which events the webhook receives (the URL and secret stay)', params: CLIENT_ID_PARAMS,
        body: { type: 'object', required: ['event_types'], additionalProperties: false, properties: { event_types: EVENT_TYPES } },
      },
    }, async (request, reply) => {
      const result = await setClientWebhookEvents(context.storage, clientId(request), (request.body as { event_types: unknown }).event_types,
        `admin:${administratorName(request)}`, context.clock.nowSeconds());
      if (result.outcome === 'unknown_client') return unknownClient(reply);
      if (result.outcome === 'no_webhook') return reply.code(404).send({ error: 'not_found', error_description: 'the client has no webhook' });
      if (result.outcome === 'invalid_event_types') return reply.code(400).send({ error: 'invalid_request', error_description: result.problem, field: 'event_types' });
      return { client_id: clientId(request), event_types: result.eventTypes };
    });

    app.post('/clients/:client_id/webhook/rotate-secret', {
      schema: { summary: 'A new whsec_ signing secret for the same URL, answered once; the old one stops signing at once', params: CLIENT_ID_PARAMS },
    }, async (request, reply) => {
      const result = await rotateClientWebhookSecret(context.storage, context.options.tokenHmacKey, clientId(request), `admin:${administratorName(request)}`, context.clock.nowSeconds());
      if (result.outcome === 'unknown_client') return unknownClient(reply);
      if (result.outcome === 'no_webhook') return reply.code(404).send({ error: 'not_found', error_description: 'the client has no webhook' });
      return { client_id: clientId(request), secret: result.secret };
    });

    app.delete('/clients/:client_id/webhook', { schema: { summary: 'Remove the partner webhook (queued deliveries are dropped)', params: CLIENT_ID_PARAMS } }, async (request, reply) => {
      if (!(await removeClientWebhook(context.storage, clientId(request), `admin:${administratorName(request)}`, context.clock.nowSeconds()))) {
        return reply.code(404).send({ error: 'not_found', error_description: 'the client has no webhook' });
      }
      return reply.code(204).send();
    });

    app.get('/clients/:client_id/webhook/deliveries', { schema: { summary: 'The webhook delivery log, newest first (at most 100)', params: CLIENT_ID_PARAMS } }, async (request, reply) => {
      if (!(await context.storage.clients.find(clientId(request)))) return unknownClient(reply);
      return (await context.storage.webhooks.list(clientId(request), 100)).map(deliveryJson);
    });

    app.post('/clients/:client_id/webhook/deliveries/:delivery_id/resend', {
      schema: {
        summary: 'Send a delivery again (the same webhook-id, so receivers deduplicate)',
        params: { type: 'object', required: ['client_id', 'delivery_id'], properties: { client_id: { type: 'string', maxLength: 100 }, delivery_id: { type: 'string', maxLength: 100 } } },
      },
    }, async (request, reply) => {
      const { delivery_id: deliveryId } = request.params as { delivery_id: string };
      if (!(await resendWebhookDelivery(context.storage, clientId(request), deliveryId, `admin:${administratorName(request)}`, context.clock.nowSeconds()))) {
        return reply.code(404).send({ error: 'not_found', error_description: 'no such delivery for this client' });
      }
      return reply.code(202).send({ delivery_id: deliveryId });
    });
  };
}
