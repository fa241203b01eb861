/**
 * Resource servers (SPEC decision 14; issue 15 §4, RFC 8707): the platform's APIs, each holding
 * introspection credentials that see the access tokens issued for its audience. Registered through the
 * same code path as the development seed's platform API (clients/registration.ts `registerResourceServer`:
 * a client of kind `resource_server`, a 256-bit secret shown once and stored as its SHA-256).
 *
 * An API other than the default one (the configured platform API, `accessTokenAudience`) is registered with
 * its scope family (`scopes`): it becomes a resource clients may name in `resource` (storage `resources`,
 * resources/resource-indicators.ts). Credentials registered without `scopes` only introspect.
 */
import { pageUriProblem, registerResourceServer } from '../clients/registration.ts';
import { asciiUriProblem } from '../clients/redirect-uri.ts';
import type { ClientRecord, ResourceRecord } from '../storage/storage.ts';
import { isScopeName, isUuid, SCOPE_CATALOGUE } from '@gatehouse/protocol';
import { ResourceCatalogue } from '../resources/resource-indicators.ts';
import { DirectoryError, readName, refuseUnknownMembers, type DirectoryContext, type Input } from './directory.ts';

/**
 * The wire form; `scopes` is the audience's scope family when it is a resource tokens are issued for (the
 * default one, or one registered with scopes), `[]` otherwise.
 */
export function resourceServerToJson(client: ClientRecord, catalogue?: ResourceCatalogue) {
  const resource = client.audience === null ? undefined : catalogue?.find(client.audience);
  return {
    client_id: client.clientId, name: client.clientName, audience: client.audience, status: client.status, created_at: client.createdAt,
    ...(catalogue ? { scopes: resource?.scopes ?? [] } : {}),
  };
}

/** The resource catalogue as the directory sees it: the given default audience and the registered resources. */
export async function directoryResourceCatalogue(context: Pick<DirectoryContext, 'storage' | 'defaultAudience'>): Promise<ResourceCatalogue | undefined> {
  return context.defaultAudience === undefined ? undefined : new ResourceCatalogue(context.defaultAudience, await context.storage.resources.list());
}

/**
 * Registers a resource server: `{ audience, name?, scopes? }` (`name` defaults to the audience). The audience
 * is the exact `aud` of the tokens it will introspect: an absolute https URI (http only for localhost outside
 * production), without user information or fragment (RFC 8707 §2). With `scopes` (issue 15 §4), the audience
 * becomes a resource clients may request: `scopes` is its scope family, catalogue scopes no other
 * registered resource claims; it may not be the default audience (whose family is every unclaimed scope)
 * nor a resource registered already.
 * `context.defaultAudience` is the configured platform API (`accessTokenAudience`); needed only with `scopes`.
 * @returns the record and the client secret, which is shown this once.
 * @throws DirectoryError 400 naming the field; 409 `audience` when the resource is registered already.
 */
export async function createResourceServer(
  context: DirectoryContext, input: Input,
): Promise<{ client: ClientRecord; clientSecret: string; resource?: ResourceRecord }> {
  refuseUnknownMembers(input, ['audience', 'name', 'scopes']);
  if (typeof input.audience !== 'string') throw new DirectoryError(400, 'audience is required: the URI of the API, as access tokens name it in aud', 'audience');
  const audience = input.audience;
  const problem = pageUriProblem(audience, context.environment) ?? asciiUriProblem(audience) ?? (new URL(audience).hash || audience.includes('#') ? 'must not contain a fragment' : undefined);
  if (problem) throw new DirectoryError(400, `audience ${problem}`, 'audience');
  const name = input.name === undefined ? audience : readName(input.name);
  let resource: ResourceRecord | undefined;
  if (input.scopes !== undefined) {
    const scopes = readScopeFamily(input.scopes);
    if (context.defaultAudience === undefined || audience === context.defaultAudience) {
      throw new DirectoryError(400, 'the default API has every scope no other API claims: register it without scopes', 'scopes');
    }
    const registered = await context.storage.resources.list();
    if (registered.some((other) => other.resource === audience)) {
      throw new DirectoryError(409, 'this API is registered already: register its credentials without scopes', 'audience');
    }
    const claimed = scopes.filter((scope) => registered.some((other) => other.scopes.includes(scope)));
    if (claimed.length > 0) throw new DirectoryError(400, `scopes already belong to another API: ${claimed.join(' ')}`, 'scopes');
    resource = { resource: audience, name, scopes, createdAt: context.now };
    // The checks above answer from the catalogue as read; the store repeats both atomically with the insert,
    // so a concurrent registration that got there first is refused with the same errors.
    const created = await context.storage.resources.create(resource);
    if (created === 'duplicate') throw new DirectoryError(409, 'this API is registered already: register its credentials without scopes', 'audience');
    if (created !== 'created') throw new DirectoryError(400, `scopes already belong to another API: ${created.scopes.join(' ')}`, 'scopes');
    await context.storage.audit.record({ type: 'resource.registered', at: context.now, actor: context.actor, details: { resource: audience, scopes: scopes.join(' ') } });
  }
  const registeredServer = await registerResourceServer({ storage: context.storage, environment: context.environment, brandName: '', now: context.now }, { name, audience }, {}, { actor: context.actor });
  return { ...registeredServer, ...(resource ? { resource } : {}) };
}

/** A scope family: a non-empty list of catalogue scopes (a JSON array, or one space-separated string from the CLI). */
function readScopeFamily(value: unknown): string[] {
  const scopes = typeof value === 'string' ? value.split(' ').filter((scope) => scope !== '') : value;
  if (!Array.isArray(scopes) || scopes.length === 0 || scopes.some((scope) => typeof scope !== 'string' || !isScopeName(scope))) {
    throw new DirectoryError(400, 'scopes must be a non-empty list of scope names (resource:permission)', 'scopes');
  }
  const unknown = scopes.filter((scope) => !SCOPE_CATALOGUE.has(scope));
  if (unknown.length > 0) throw new DirectoryError(400, `scopes must be scopes of the catalogue; unknown: ${unknown.join(' ')}`, 'scopes');
  return [...new Set(scopes as string[])];
}

/** Every resource server that is not deleted, oldest first. */
export async function listResourceServers(context: Pick<DirectoryContext, 'storage'>): Promise<ClientRecord[]> {
  return (await context.storage.clients.list()).filter((client) => client.kind === 'resource_server' && client.status !== 'deleted');
}

/**
 * Deletes a resource server for good: its credentials stop working at once (introspection answers 401
 * invalid_client). When they were the last credentials of a registered resource, the resource goes too:
 * no token is issued for it from then on (`invalid_target`, RFC 8707 §2).
 * @throws DirectoryError 404.
 */
export async function deleteResourceServer(context: DirectoryContext, clientId: string): Promise<ClientRecord> {
  const client = isUuid(clientId) ? await context.storage.clients.find(clientId) : undefined;
  if (!client || client.kind !== 'resource_server' || client.status === 'deleted') throw new DirectoryError(404, 'no resource server has this client_id', 'client_id');
  const deleted = (await context.storage.clients.update(clientId, { status: 'deleted' }))!;
  await context.storage.audit.record({ type: 'resource_server.deleted', at: context.now, actor: context.actor, clientId, details: { audience: client.audience } });
  if (client.audience !== null && !(await listResourceServers(context)).some((other) => other.audience === client.audience)
    && (await context.storage.resources.delete(client.audience))) {
    await context.storage.audit.record({ type: 'resource.removed', at: context.now, actor: context.actor, details: { resource: client.audience } });
  }
  return deleted;
}
