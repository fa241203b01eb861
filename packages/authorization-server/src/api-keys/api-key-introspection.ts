/**
 * The API-key answer of POST /oauth/token/introspect (issue 16).
 *
 * Decision: API keys are resolved through the RFC 7662 endpoint itself rather than a new one. RFC 7662
 * §2.1 makes `token_type_hint` an optional hint the server may use to speed up lookup and "MUST extend
 * its search across all of its supported token types" when it does not match, so the value's `gak_`
 * prefix decides, with or without `token_type_hint=api_key`. Only resource servers of our audience may
 * introspect keys (SPEC decision 14); any other caller, and any key that is not active (unknown, forged,
 * revoked, deleted, rotated, expired, of an integration no longer offered), gets the same
 * `{"active": false}` (RFC 7662 §2.2), so the answer is no oracle.
 *
 * Active answer: `active`, `token_type: "api_key"`, `scope`, `client_id` and `client_name` (integrated
 * keys only), `exp` (keys that expire), `iat`, `sub` (the administrator who created it), `aud`, `iss`,
 * `jti` (the key id), the subject URN member, and `api_key_type` (`integrated` or `standalone`).
 */
import type { FastifyReply } from 'fastify';
import { formatSubjectUrn, subjectUrnMemberName } from '@gatehouse/protocol';
import type { ServerContext } from '../server-context.ts';
import type { ClientRecord } from '../storage/storage.ts';
import { sendNoStoreJson } from '../endpoints/token.ts';
import { API_KEY_TOKEN_TYPE } from './api-key.ts';
import { resolveApiKey } from './api-key-service.ts';

export async function introspectApiKey(context: ServerContext, caller: ClientRecord, value: string, reply: FastifyReply): Promise<void> {
  // SPEC decision 14: resource servers of our audience only; checked before the lookup, so nothing else is learnt.
  const mayIntrospect = caller.kind === 'resource_server' && caller.audience === context.options.accessTokenAudience;
  const resolved = mayIntrospect ? await resolveApiKey(context, value) : undefined;
  if (!resolved) {
    sendNoStoreJson(reply, 200, { active: false });
    return;
  }
  const { key, client } = resolved;
  const { options } = context;
  const ns = options.brand.urnNamespace;
  sendNoStoreJson(reply, 200, {
    active: true,
    token_type: API_KEY_TOKEN_TYPE,
    scope: key.scopes.join(' '),
    ...(client ? { client_id: client.clientId, client_name: client.clientName } : {}),
    ...(key.expiresAt === null ? {} : { exp: key.expiresAt }),
    iat: key.createdAt,
    sub: key.createdByUserId,
    aud: options.accessTokenAudience,
    iss: options.issuer,
    jti: key.keyId,
    api_key_type: key.keyType,
    [subjectUrnMemberName(ns)]: formatSubjectUrn(ns, key.subjectType, key.subjectId),
  });
}
