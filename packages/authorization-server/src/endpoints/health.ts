/**
 * Health checks for load balancers and orchestrators.
 * - `GET /health` is liveness: the process answers (no storage access, so an outage never restarts it).
 * - `GET /health/ready` is readiness: 200 only when the storage answers a cheap query, its schema has every
 *   migration this code knows, and the signing keys are loaded; otherwise 503 with `Retry-After`, so a load
 *   balancer sends traffic elsewhere until the database is back. Recovery needs no restart.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../server-context.ts';
import { STORAGE_RETRY_AFTER_SECONDS } from '../http/storage-unavailable-response.ts';
import { isStorageUnavailable } from '../storage/storage-unavailable.ts';

/** GET /health/ready: `{"status":"ready"}` (200) or `{"status":"unavailable","reason":…}` (503). */
export async function readinessEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  reply.header('cache-control', 'no-store');
  const unavailable = (reason: 'storage_unreachable' | 'storage_not_migrated' | 'signing_keys_missing') => {
    reply.code(503).header('retry-after', String(STORAGE_RETRY_AFTER_SECONDS)).send({ status: 'unavailable', reason });
  };
  if (!context.signingKey || !context.handoverSigningKey) return unavailable('signing_keys_missing');
  try {
    await context.storage.checkReady();
  } catch (error) {
    if (isStorageUnavailable(error)) return unavailable('storage_unreachable');
    request.log.error({ err: error }, 'readiness check failed');
    return unavailable('storage_not_migrated');
  }
  reply.code(200).send({ status: 'ready' });
}
