/**
 * Issue 15 §5: a client's partner webhook through the admin API, under /admin/v1:
 * - `PUT /clients/{client_id}/webhook` `{ "url": ... }` sets it and answers the `whsec_` signing secret
 *   once (a new secret on every PUT; stored only encrypted, webhooks/webhook-secret.ts);
 * - `DELETE /clients/{client_id}/webhook` removes it (204; 404 when there was none);
 * - `GET /clients/{client_id}/webhook/deliveries` the delivery log, newest first (at most 100);
 * - `POST /clients/{client_id}/webhook/deliveries/{delivery_id}/resend` makes one due again (202).
 * Each change is audited (`client.webhook_set`, `client.webhook_removed`), never with the secret.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../server-context.ts';
import type { WebhookDeliveryRecord } from '../storage/storage.ts';
import { removeClientWebhook, setClientWebhook } from '../webhooks/webhook-endpoint.ts';

const CLIENT_ID_PARAMS = { type: 'object', required: ['client_id'], properties: { client_id: { type: 'string', maxLength: 100 } } } as const;

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
        summary: 'Set the partner webhook (issue 15 §5): https URL (http only for loopback outside production); answers the whsec_ signing secret once',
        params: CLIENT_ID_PARAMS, body: { type: 'object', required: ['url'], additionalProperties: false, properties: { url: { type: 'string' } } },
      },
    }, async (request, reply) => {
      const result = await setClientWebhook(context.storage, context.options.tokenHmacKey, context.options.environment, clientId(request),
        (request.body as { url: string }).url, `admin:${administratorName(request)}`, context.clock.nowSeconds());
      if (result.outcome === 'unknown_client') return unknownClient(reply);
      if (result.outcome === 'invalid_url') return reply.code(400).send({ error: 'invalid_request', error_description: result.problem, field: 'url' });
      return { client_id: clientId(request), url: result.url, secret: result.secret, created_at: result.createdAt };
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
      if (!(await context.storage.webhooks.resend(clientId(request), deliveryId, context.clock.nowSeconds()))) {
        return reply.code(404).send({ error: 'not_found', error_description: 'no such delivery for this client' });
      }
      return reply.code(202).send({ delivery_id: deliveryId });
    });
  };
}
