/**
 * Issue 16: API keys in the administrators' console (platform administrators; CSRF and the Origin check
 * on every form, routes.ts):
 * - `GET /admin/api-keys`: every active key (integrated and standalone), newest first, at most 500;
 * - `POST /admin/api-keys/:key_id/revoke`: a confirmation, then (`confirm=yes`) the revocation through
 *   api-keys/api-key-service.ts (audit `api_key.revoked` by `admin:<name> (user:<id>)`), 303 back with a notice.
 *   The confirmation's language switch (endpoints/confirmation.ts) shows it again in the language chosen; it never revokes.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isUuid } from '@gatehouse/protocol';
import { revokeApiKey } from '../api-keys/api-key-service.ts';
import { consoleConfirmationPage, consoleMessagePage } from '../pages/console-pages.ts';
import { consoleApiKeysPage, type ConsoleApiKeyView } from '../pages/console-api-key-pages.ts';
import type { ServerContext } from '../server-context.ts';
import type { ApiKeyRecord } from '../storage/storage.ts';
import { administrator } from './console.ts';
import { confirmedAction, rememberSwitchedLocale } from './confirmation.ts';

function page(reply: FastifyReply, status: number, body: string): void {
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

async function subjectName(context: ServerContext, key: ApiKeyRecord): Promise<string> {
  return (await context.storage.subjects.find(key.subjectType, key.subjectId))?.name ?? key.subjectId;
}

/** GET /admin/api-keys */
export async function consoleApiKeys(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const admin = await administrator(context, request, reply);
  if (!admin) return;
  const { t } = admin.frame;
  const when = (seconds: number | null) => (seconds === null ? null : t.dateTime(seconds));
  const keys: ConsoleApiKeyView[] = [];
  for (const key of await context.storage.apiKeys.list({ limit: 500 })) {
    const client = key.clientId === null ? undefined : await context.storage.clients.find(key.clientId);
    keys.push({
      keyId: key.keyId, name: key.name, kind: key.keyType === 'integrated' ? t.t('consoleApiKeys.integrated', { client: client?.clientName ?? key.name }) : t.t('consoleApiKeys.standalone'),
      displayPrefix: key.displayPrefix, subjectName: await subjectName(context, key), scopes: key.scopes.map((scope) => t.scope(scope)).join(', '),
      createdAt: when(key.createdAt)!, expiresAt: when(key.expiresAt), lastUsedAt: when(key.lastUsedAt),
    });
  }
  const revoked = (request.query as Record<string, unknown>).revoked;
  const revokedKey = typeof revoked === 'string' && isUuid(revoked) ? await context.storage.apiKeys.find(revoked) : undefined;
  page(reply, 200, consoleApiKeysPage({ ...admin.frame, keys, revokedName: revokedKey?.revokedAt ? revokedKey.name : undefined }));
}

/** POST /admin/api-keys/:key_id/revoke */
export async function consoleRevokeApiKey(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply);
  const admin = await administrator(context, request, reply);
  if (!admin) return;
  const keyId = (request.params as { key_id: string }).key_id.toLowerCase();
  const key = isUuid(keyId) ? await context.storage.apiKeys.find(keyId) : undefined;
  if (!key || key.revokedAt !== null) {
    page(reply, 404, consoleMessagePage(admin.frame, admin.frame.t.t('apiKeys.notFoundTitle'), admin.frame.t.t('consoleApiKeys.notFound')));
    return;
  }
  const subject = await subjectName(context, key);
  if (!confirmedAction(request)) {
    page(reply, 200, consoleConfirmationPage({
      ...admin.frame, title: admin.frame.t.t('consoleApiKeys.revokeTitle', { name: key.name, subject }),
      consequences: [admin.frame.t.t('consoleApiKeys.revokeRefused', { subject }), admin.frame.t.t('consoleApiKeys.revokeRestore')],
      action: `/admin/api-keys/${key.keyId}/revoke`, confirmLabel: admin.frame.t.t('apiKeys.revokeConfirm'), cancelHref: '/admin/api-keys',
    }));
    return;
  }
  await revokeApiKey(context, key.keyId, `admin:${admin.user.name} (user:${admin.user.userId})`, 'revoked');
  reply.redirect(`/admin/api-keys?revoked=${key.keyId}`, 303);
}
