/**
 * Resource servers (SPEC decision 14): the platform's APIs, each holding introspection credentials that
 * see the access tokens issued for its audience. Registered through the same code path as the
 * development seed's platform API (clients/registration.ts `registerResourceServer`: a client of kind
 * `resource_server`, a 256-bit secret shown once and stored as its SHA-256).
 */
import { pageUriProblem, registerResourceServer } from '../clients/registration.ts';
import type { ClientRecord } from '../storage/storage.ts';
import { isUuid } from '@gatehouse/protocol';
import { DirectoryError, readName, refuseUnknownMembers, type DirectoryContext, type Input } from './directory.ts';

export function resourceServerToJson(client: ClientRecord) {
  return { client_id: client.clientId, name: client.clientName, audience: client.audience, status: client.status, created_at: client.createdAt };
}

/**
 * Registers a resource server: `{ audience, name? }` (`name` defaults to the audience). The audience is the
 * exact `aud` of the tokens it will introspect: an absolute https URI (http only for localhost outside
 * production), without user information or fragment.
 * @returns the record and the client secret, which is shown this once.
 * @throws DirectoryError 400 naming the field.
 */
export async function createResourceServer(context: DirectoryContext, input: Input): Promise<{ client: ClientRecord; clientSecret: string }> {
  refuseUnknownMembers(input, ['audience', 'name']);
  if (typeof input.audience !== 'string') throw new DirectoryError(400, 'audience is required: the URI of the API, as access tokens name it in aud', 'audience');
  const audience = input.audience;
  const problem = pageUriProblem(audience, context.environment) ?? (new URL(audience).hash || audience.includes('#') ? 'must not contain a fragment' : undefined);
  if (problem) throw new DirectoryError(400, `audience ${problem}`, 'audience');
  const name = input.name === undefined ? audience : readName(input.name);
  return registerResourceServer({ storage: context.storage, environment: context.environment, brandName: '', now: context.now }, { name, audience }, {}, { actor: context.actor });
}

/** Every resource server that is not deleted, oldest first. */
export async function listResourceServers(context: Pick<DirectoryContext, 'storage'>): Promise<ClientRecord[]> {
  return (await context.storage.clients.list()).filter((client) => client.kind === 'resource_server' && client.status !== 'deleted');
}

/** Deletes a resource server for good: its credentials stop working at once (introspection answers 401 invalid_client). @throws DirectoryError 404. */
export async function deleteResourceServer(context: DirectoryContext, clientId: string): Promise<ClientRecord> {
  const client = isUuid(clientId) ? await context.storage.clients.find(clientId) : undefined;
  if (!client || client.kind !== 'resource_server' || client.status === 'deleted') throw new DirectoryError(404, 'no resource server has this client_id', 'client_id');
  const deleted = (await context.storage.clients.update(clientId, { status: 'deleted' }))!;
  await context.storage.audit.record({ type: 'resource_server.deleted', at: context.now, actor: context.actor, clientId, details: { audience: client.audience } });
  return deleted;
}
