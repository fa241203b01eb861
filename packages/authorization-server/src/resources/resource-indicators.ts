/**
 * Resource indicators (RFC 8707; issue 15 §4): which API an access token is for.
 *
 * A deployment has a default resource — the platform API configured as `accessTokenAudience` — and any
 * number of registered ones (storage `resources`, managed by resource-registration.ts). Each has a scope
 * family: the scopes that belong to it. A registered resource names its family; the default resource has
 * every catalogue scope no registered resource claims, so with none registered nothing changes.
 *
 * The rules, each checked where it is cited:
 * - /oauth/authorize (and /oauth/par) may name several resources (`resource`, repeated); each must be
 *   known and allowed for the client (it has a registered scope in the family), and the scopes requested
 *   must each belong to one of them, each resource covering at least one; no `resource` = the default.
 * - The grant remembers the resources; a token request (code or refresh) names at most one, which must be
 *   among them, and must name one when the grant has several (RFC 8707 §2.2); the access token's `aud`
 *   is that resource and its scope is the grant's scope within the resource's family.
 */
import { SCOPE_CATALOGUE } from '@gatehouse/protocol';
import { OAuthError } from '../errors.ts';
import type { RawParameters } from '../http/parameters.ts';
import type { ServerContext } from '../server-context.ts';
import type { ClientRecord, ResourceRecord } from '../storage/storage.ts';

/** One API tokens can be issued for: its indicator (the `aud`), its name and its scope family. */
export interface Resource {
  resource: string;
  name: string;
  scopes: string[];
  /** The configured platform API (`accessTokenAudience`): tokens for it are stored without an audience. */
  isDefault: boolean;
}

/** The resources of the deployment at one moment: the default one and the registered ones. */
export class ResourceCatalogue {
  readonly defaultResource: Resource;
  readonly #byIndicator: Map<string, Resource>;

  constructor(defaultIndicator: string, registered: ResourceRecord[]) {
    const claimed = new Set(registered.flatMap((record) => record.scopes));
    this.defaultResource = {
      resource: defaultIndicator, name: 'Platform API', isDefault: true,
      scopes: [...SCOPE_CATALOGUE.keys()].filter((scope) => !claimed.has(scope)),
    };
    this.#byIndicator = new Map([[defaultIndicator, this.defaultResource]]);
    for (const record of registered) {
      if (!this.#byIndicator.has(record.resource)) this.#byIndicator.set(record.resource, { ...record, isDefault: false });
    }
  }

  /** The resource with exactly this indicator (RFC 8707 §2: compared as a string, no normalisation). */
  find(indicator: string): Resource | undefined {
    return this.#byIndicator.get(indicator);
  }
}

/** Reads the registered resources (one query) and builds the catalogue. */
export async function loadResourceCatalogue(context: Pick<ServerContext, 'storage' | 'options'>): Promise<ResourceCatalogue> {
  return new ResourceCatalogue(context.options.accessTokenAudience, await context.storage.resources.list());
}

/**
 * RFC 8707 §2: "The value of the resource parameter MUST be an absolute URI ... MUST NOT include a
 * fragment component." White space is refused too (indicators are stored space-separated).
 * @returns what is wrong, or undefined.
 */
export function resourceIndicatorProblem(value: string): string | undefined {
  if (value === '' || /\s/.test(value)) return 'resource must be an absolute URI without white space';
  if (!URL.canParse(value)) return 'resource must be an absolute URI (RFC 8707 section 2)';
  if (value.includes('#')) return 'resource must not contain a fragment (RFC 8707 section 2)';
  return undefined;
}

/**
 * The `resource` values of a request, in order, without duplicates: a repeated parameter arrives as an
 * array; a request kept server-side (interaction, pushed request) stores them space-separated in one value.
 * @throws OAuthError `invalid_target` for a malformed value.
 */
export function resourceParameters(raw: RawParameters, options: { stored: boolean }): string[] {
  const value = raw.resource;
  if (value === undefined || value === '') return [];
  const values = Array.isArray(value) ? value : options.stored ? value.split(' ') : [value];
  for (const indicator of values) {
    const problem = resourceIndicatorProblem(indicator);
    if (problem) throw new OAuthError('invalid_target', problem);
  }
  return [...new Set(values)];
}

/** Whether the client may obtain tokens for the resource: it is registered for a scope of its family. */
export function clientMayUse(client: ClientRecord, resource: Resource): boolean {
  return resource.scopes.some((scope) => client.scopes.includes(scope));
}

/**
 * The resources of an authorization request (RFC 8707 §2.1), checked against the client and the scopes
 * it requests (which the caller has already checked against the catalogue and the client).
 * @param requested the `resource` values (resourceParameters); empty means the default resource.
 * @returns the indicators to remember with the code, or undefined when the request named none.
 * @throws OAuthError `invalid_target` for an unknown resource, one the client may not use, or one none of
 *   the requested scopes belongs to; `invalid_scope` for a scope outside every requested resource's family.
 */
export function authorizedResources(catalogue: ResourceCatalogue, client: ClientRecord, requested: string[], scope: string[]): string[] | undefined {
  const resources = requested.length === 0 ? [catalogue.defaultResource] : requested.map((indicator) => {
    const resource = catalogue.find(indicator);
    // RFC 8707 §2: "invalid_target: The requested resource is invalid, missing, unknown, or malformed."
    if (!resource) throw new OAuthError('invalid_target', 'resource is not an API of this authorization server');
    if (!clientMayUse(client, resource)) throw new OAuthError('invalid_target', 'this client may not request tokens for that resource');
    return resource;
  });
  // Issue 15 §4: a token's scope is limited to its resource's scope family.
  if (scope.some((name) => !resources.some((resource) => resource.scopes.includes(name)))) {
    throw new OAuthError('invalid_scope', requested.length === 0
      ? 'scope includes a value that belongs to another API: name that API in the resource parameter (RFC 8707)'
      : 'scope includes a value that belongs to none of the requested resources');
  }
  // Each resource must get a token with some scope: one none of the requested scopes belongs to is not
  // allowed for this grant (RFC 8707 §2).
  if (resources.some((resource) => !scope.some((name) => resource.scopes.includes(name)))) {
    throw new OAuthError('invalid_target', 'a requested resource has none of the requested scopes');
  }
  return requested.length === 0 ? undefined : requested;
}

/**
 * The one resource a token request is for (RFC 8707 §2.2), among those the grant (or code) remembers.
 * @param granted the resources remembered at authorization; undefined = the default resource alone.
 * @param requested the token request's `resource` values (resourceParameters).
 * @param scope the scope asked for: the grant's, or a narrower one named at refresh.
 * @param scopeWasNamed whether `scope` was named in the request: a named scope outside the family is
 *   `invalid_scope`; the grant's own scope is only narrowed to the family.
 * @returns the resource, the access token's scope within its family, and the token record's `audience`
 *   (undefined for the default resource).
 * @throws OAuthError `invalid_target` for several resources, none where several were granted, one not
 *   granted or no longer known, or one whose family holds none of the scope; `invalid_scope`.
 */
export function tokenResource(
  catalogue: ResourceCatalogue, granted: string[] | undefined, requested: string[], scope: string[], scopeWasNamed: boolean,
): { resource: Resource; accessScope: string[]; audience: string | undefined } {
  const grantedResources = granted ?? [catalogue.defaultResource.resource];
  // RFC 8707 §2.2: an access token is for one resource; "the client ... may include the resource parameter
  // ... to narrow" — here it must, when the authorization named several.
  if (requested.length > 1) throw new OAuthError('invalid_target', 'name exactly one resource per token request (RFC 8707 section 2.2)');
  if (requested.length === 0 && grantedResources.length > 1) {
    throw new OAuthError('invalid_target', 'the authorization named several resources: name one of them in the resource parameter (RFC 8707 section 2.2)');
  }
  const indicator = requested[0] ?? grantedResources[0]!;
  // RFC 8707 §2.2: only a resource the resource owner granted at authorization.
  if (!grantedResources.includes(indicator)) throw new OAuthError('invalid_target', 'resource was not granted by this authorization');
  const resource = catalogue.find(indicator);
  if (!resource) throw new OAuthError('invalid_target', 'resource is no longer an API of this authorization server');
  if (scopeWasNamed && scope.some((name) => !resource.scopes.includes(name))) {
    throw new OAuthError('invalid_scope', 'scope includes a value that does not belong to the resource');
  }
  const accessScope = scope.filter((name) => resource.scopes.includes(name));
  if (accessScope.length === 0) throw new OAuthError('invalid_target', 'no granted scope belongs to the resource');
  return { resource, accessScope, audience: resource.isDefault ? undefined : resource.resource };
}

/** The `aud` of a stored access token: its audience, or the default resource's. */
export function audienceOf(token: { audience?: string }, defaultIndicator: string): string {
  return token.audience ?? defaultIndicator;
}
