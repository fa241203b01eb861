/**
 * The directory admin API (issue 10 §1), registered inside the admin API plugin (admin-api.ts), so it
 * shares its administrator bearer authentication, `Cache-Control: no-store` and OpenAPI document:
 *
 * - `POST/GET /organizations`, `GET/PATCH/DELETE /organizations/{id}`
 * - `POST/GET /companies` (`organization_id` optional; list filter `organization_id`), `GET/PATCH/DELETE /companies/{id}`
 * - `POST/GET /users` (`email`, `name`, `locale`; list filter `email`), `GET/PATCH/DELETE /users/{id}`
 * - `PUT/DELETE /users/{user_id}/administers/{subject_type}/{subject_id}` (204)
 * - `POST /users/{id}/invitation` (201 `{ url, expires_at }`: a one-time set-password link, issue 10 §3)
 * - `POST/GET /resource-servers`, `DELETE /resource-servers/{client_id}` (the secret in the creation response only)
 * - `PUT/DELETE /developers/{user_id}` (204)
 *
 * JSON with snake_case members; times are seconds since the epoch. Create answers 201 with the record;
 * lists answer `{ "data": [...], "next_cursor": "…" | null }` (`limit` 1–1000, default 100; `cursor`).
 * Refusals: 400 `invalid_request`, 404 `not_found`, 409 `conflict`, each with `error_description` and
 * the `field` it concerns. The rules and lifecycle are directory/directory.ts; every change is an audit
 * event by `admin:<name>`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  createDirectorySubject, createDirectoryUser, deleteDirectorySubject, deleteDirectoryUser, DirectoryError, findDirectorySubject, findDirectoryUser,
  grantAdministration, listDirectorySubjects, listDirectoryUsers, MAX_PAGE_LIMIT, removeDeveloper, revokeAdministration, subjectToJson,
  updateDirectorySubject, updateDirectoryUser, userToJson, addDeveloper, type DirectoryContext, type Input,
} from '../directory/directory.ts';
import { createResourceServer, deleteResourceServer, listResourceServers, resourceServerToJson } from '../directory/resource-servers.ts';
import { directoryResourceCatalogue } from '../directory/resource-servers.ts';
import { sendStorageUnavailableJson } from '../http/storage-unavailable-response.ts';
import { isStorageUnavailable } from '../storage/storage-unavailable.ts';
import type { ServerContext } from '../server-context.ts';
import { inviteUser } from '../users/password-links.ts';
import type { SubjectType } from '../storage/storage.ts';

const ERROR_SCHEMA = {
  type: 'object',
  properties: { error: { type: 'string' }, error_description: { type: 'string' }, field: { type: 'string' } },
} as const;
const errors = { 400: ERROR_SCHEMA, 401: ERROR_SCHEMA, 404: ERROR_SCHEMA, 409: ERROR_SCHEMA };
const security = [{ administratorToken: [] }];
const uuid = { type: 'string', format: 'uuid' } as const;
const seconds = { type: 'integer', description: 'Seconds since the epoch' } as const;
const nullableLocale = { type: ['string', 'null'], maxLength: 35, description: 'BCP 47 language tag, e.g. da-DK' } as const;

const MEMBERSHIP_SCHEMA = { type: 'object', properties: { type: { type: 'string', enum: ['company', 'organization'] }, id: uuid } } as const;
const USER_SCHEMA = {
  type: 'object',
  properties: {
    id: { ...uuid, description: 'The `sub` of the tokens this user\'s consents produce' }, email: { type: 'string' }, name: { type: 'string' },
    locale: { type: ['string', 'null'] }, created_at: seconds, updated_at: seconds,
    administers: { type: 'array', items: MEMBERSHIP_SCHEMA, description: 'In GET /users/{id} only' },
  },
} as const;
const ORGANIZATION_SCHEMA = { type: 'object', properties: { id: uuid, name: { type: 'string' }, created_at: seconds, updated_at: seconds } } as const;
const COMPANY_SCHEMA = {
  type: 'object',
  properties: { id: uuid, name: { type: 'string' }, organization_id: { type: ['string', 'null'], format: 'uuid' }, created_at: seconds, updated_at: seconds },
} as const;
const RESOURCE_SERVER_SCHEMA = {
  type: 'object',
  properties: {
    client_id: uuid, name: { type: 'string' }, audience: { type: 'string' }, status: { type: 'string' }, created_at: seconds,
    scopes: { type: 'array', items: { type: 'string' }, description: 'RFC 8707: the scope family of the audience, when tokens are issued for it' },
    client_secret: { type: 'string', description: 'In the creation response only: shown once' },
  },
} as const;
const page = (items: object) => ({
  type: 'object',
  properties: { data: { type: 'array', items }, next_cursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page; null on the last' } },
});
const pageQuery = (filters: Record<string, object>) => ({
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, description: 'Records per page (default 100)' },
    cursor: { type: 'string', maxLength: 200, description: 'next_cursor of the previous page' },
    ...filters,
  },
});
const idParams = (name: string) => ({ type: 'object', required: [name], properties: { [name]: { type: 'string', maxLength: 100 } } });
const DELETED_SCHEMA = {
  type: 'object',
  properties: { id: uuid, deleted: { type: 'boolean' }, grants_revoked: { type: 'integer' }, api_keys_revoked: { type: 'integer' }, login_sessions_ended: { type: 'integer' }, memberships_removed: { type: 'integer' } },
} as const;

/**
 * The directory routes, as a plugin registered by the admin API plugin.
 * @param administratorName the authenticated administrator of a request (the admin API's onRequest hook set it).
 */
export function directoryApi(context: ServerContext, administratorName: (request: FastifyRequest) => string) {
  return async function directoryApiPlugin(app: FastifyInstance): Promise<void> {
    app.setErrorHandler((error: Error & { statusCode?: number; validation?: { instancePath?: string; params?: Record<string, unknown> }[] }, request, reply) => {
      if (error instanceof DirectoryError) {
        reply.code(error.status).send({ error: error.error, error_description: error.message, ...(error.field ? { field: error.field } : {}) });
        return;
      }
      if (error.validation) {
        // Name the member the schema refused: its path, or the missing or unexpected property.
        const first = error.validation[0];
        const field = first?.params?.missingProperty ?? first?.params?.additionalProperty ?? first?.instancePath?.replace(/^\//, '').split('/')[0];
        reply.code(400).send({ error: 'invalid_request', error_description: error.message, ...(field ? { field: String(field) } : {}) });
        return;
      }
      if (error.statusCode && error.statusCode < 500) {
        reply.code(error.statusCode).send({ error: 'invalid_request', error_description: error.statusCode === 413 ? 'the body is too large' : 'the request could not be read (send JSON)' });
        return;
      }
      // SPEC decision 18: an unreachable storage is 503 temporarily_unavailable with Retry-After, as in the rest of the admin API.
      if (isStorageUnavailable(error)) {
        sendStorageUnavailableJson(reply);
        return;
      }
      request.log.error({ err: error }, 'unexpected error in the directory admin API');
      reply.code(500).send({ error: 'server_error', error_description: 'unexpected error' });
    });

    const directory = (request: FastifyRequest): DirectoryContext => ({
      storage: context.storage, environment: context.options.environment, now: context.clock.nowSeconds(), actor: `admin:${administratorName(request)}`,
      defaultAudience: context.options.accessTokenAudience,
      urnNamespace: context.options.brand.urnNamespace,
    });
    // Ids are UUIDs, stored lowercase: a path may spell them in any case.
    const params = (request: FastifyRequest) => Object.fromEntries(Object.entries(request.params as Record<string, string>).map(([name, value]) => [name, value.toLowerCase()]));
    const body = (request: FastifyRequest) => (request.body ?? {}) as Input;

    for (const [subjectType, plural, schema] of [['organization', 'organizations', ORGANIZATION_SCHEMA], ['company', 'companies', COMPANY_SCHEMA]] as const) {
      const type: SubjectType = subjectType;
      const fields = {
        name: { type: 'string', maxLength: 200 },
        ...(type === 'company' ? { organization_id: { type: ['string', 'null'], maxLength: 100, description: 'The organization grouping the company; null for none' } } : {}),
      };
      app.post(`/${plural}`, {
        schema: {
          summary: `Create a ${type}; id is the platform's UUID (generated when omitted)`, tags: ['directory'], security,
          body: { type: 'object', required: ['name'], properties: { id: { type: 'string', maxLength: 100 }, ...fields } },
          response: { 201: schema, ...errors },
        },
      }, async (request, reply) => reply.code(201).send(subjectToJson(await createDirectorySubject(directory(request), type, body(request)))));

      app.get(`/${plural}`, {
        schema: {
          summary: `List ${plural} by id, a page at a time`, tags: ['directory'], security,
          querystring: pageQuery(type === 'company' ? { organization_id: { type: 'string', maxLength: 100, description: 'Only the companies of this organization' } } : {}),
          response: { 200: page(schema), ...errors },
        },
      }, async (request) => {
        const result = await listDirectorySubjects(context.storage, type, request.query as Input);
        return { data: result.data.map(subjectToJson), next_cursor: result.nextCursor };
      });

      app.get(`/${plural}/:id`, {
        schema: { summary: `Show a ${type}`, tags: ['directory'], security, params: idParams('id'), response: { 200: schema, ...errors } },
      }, async (request) => subjectToJson(await findDirectorySubject(context.storage, type, params(request).id!)));

      app.patch(`/${plural}/:id`, {
        schema: {
          summary: `Change a ${type} (absent members stay)`, tags: ['directory'], security, params: idParams('id'),
          body: { type: 'object', properties: fields }, response: { 200: schema, ...errors },
        },
      }, async (request) => subjectToJson(await updateDirectorySubject(directory(request), type, params(request).id!, body(request))));

      app.delete(`/${plural}/:id`, {
        schema: {
          summary: type === 'company'
            ? 'Delete a company: every grant on it is revoked with its tokens, its memberships removed'
            : 'Delete an organization (409 while companies are inside it): every grant on it is revoked with its tokens',
          tags: ['directory'], security, params: idParams('id'), response: { 200: DELETED_SCHEMA, ...errors },
        },
      }, async (request) => {
        const { grantsRevoked, apiKeysRevoked } = await deleteDirectorySubject(directory(request), type, params(request).id!);
        return { id: params(request).id, deleted: true, grants_revoked: grantsRevoked, api_keys_revoked: apiKeysRevoked };
      });
    }

    const userFields = { email: { type: 'string', maxLength: 254 }, name: { type: 'string', maxLength: 200 }, locale: nullableLocale };
    app.post('/users', {
      schema: {
        summary: 'Create a user (no password); id is the platform\'s UUID (generated when omitted); e-mails are unique case-insensitively',
        tags: ['directory'], security,
        body: { type: 'object', required: ['email', 'name'], properties: { id: { type: 'string', maxLength: 100 }, ...userFields } },
        response: { 201: USER_SCHEMA, ...errors },
      },
    }, async (request, reply) => reply.code(201).send(userToJson(await createDirectoryUser(directory(request), body(request)))));

    app.get('/users', {
      schema: {
        summary: 'List users by id, a page at a time', tags: ['directory'], security,
        querystring: pageQuery({ email: { type: 'string', maxLength: 254, description: 'Only the user with this e-mail (any case)' } }),
        response: { 200: page(USER_SCHEMA), ...errors },
      },
    }, async (request) => {
      const result = await listDirectoryUsers(context.storage, request.query as Input);
      return { data: result.data.map((user) => userToJson(user)), next_cursor: result.nextCursor };
    });

    app.get('/users/:id', {
      schema: { summary: 'Show a user with the subjects they administer', tags: ['directory'], security, params: idParams('id'), response: { 200: USER_SCHEMA, ...errors } },
    }, async (request) => {
      const { user, administers } = await findDirectoryUser(context.storage, params(request).id!);
      return userToJson(user, administers);
    });

    app.patch('/users/:id', {
      schema: {
        summary: 'Change a user (absent members stay; locale null clears it)', tags: ['directory'], security, params: idParams('id'),
        description: 'A new e-mail address (not a change of case) ends what the old address may have given its holder: every login session and sign-in '
          + 'waiting at its second step end, unused set-password links and unredeemed codes are void, and the local password and second factor are '
          + 'cleared (the user sets a password again through a link to the new address). Memberships and grants stay.',
        body: { type: 'object', properties: userFields }, response: { 200: USER_SCHEMA, ...errors },
      },
    }, async (request) => userToJson(await updateDirectoryUser(directory(request), params(request).id!, body(request))));

    app.delete('/users/:id', {
      schema: {
        summary: 'Delete a user: their login sessions end everywhere, their memberships go; grants they made stay (they belong to the subject)',
        tags: ['directory'], security, params: idParams('id'), response: { 200: DELETED_SCHEMA, ...errors },
      },
    }, async (request) => {
      const result = await deleteDirectoryUser(directory(request), params(request).id!);
      return { id: params(request).id, deleted: true, login_sessions_ended: result.loginSessionsEnded, memberships_removed: result.membershipsRemoved };
    });

    // Issue 10 §3: a one-time set-password link (72 h, single use; only its digest is stored): users/password-links.ts.
    app.post('/users/:id/invitation', {
      schema: {
        summary: 'Invite a user: a one-time set-password link, valid 72 hours (a newer invitation voids the older)', tags: ['directory'], security,
        params: idParams('id'),
        response: { 201: { type: 'object', properties: { url: { type: 'string' }, expires_at: { type: 'string', format: 'date-time' } } }, ...errors },
      },
    }, async (request, reply) => reply.code(201).send(await inviteUser(directory(request), context.options.issuer, params(request).id!)));

    const membershipParams = {
      type: 'object', required: ['user_id', 'subject_type', 'subject_id'],
      properties: { user_id: { type: 'string', maxLength: 100 }, subject_type: { type: 'string', enum: ['company', 'organization'] }, subject_id: { type: 'string', maxLength: 100 } },
    };
    app.put('/users/:user_id/administers/:subject_type/:subject_id', {
      schema: { summary: 'The user administers the subject from now on (idempotent)', tags: ['directory'], security, params: membershipParams, response: { 204: { type: 'null' }, ...errors } },
    }, async (request, reply) => {
      const { user_id: userId, subject_type: subjectType, subject_id: subjectId } = params(request);
      await grantAdministration(directory(request), userId!, subjectType, subjectId!);
      return reply.code(204).send();
    });

    app.delete('/users/:user_id/administers/:subject_type/:subject_id', {
      schema: {
        summary: 'The user stops administering the subject at once (no more consents for it); grants already made stay',
        tags: ['directory'], security, params: membershipParams, response: { 204: { type: 'null' }, ...errors },
      },
    }, async (request, reply) => {
      const { user_id: userId, subject_type: subjectType, subject_id: subjectId } = params(request);
      await revokeAdministration(directory(request), userId!, subjectType, subjectId!);
      return reply.code(204).send();
    });

    app.post('/resource-servers', {
      schema: {
        summary: 'Register a resource server (SPEC decision 14): introspection credentials for one audience; the secret is in this response only',
        tags: ['resource servers'], security,
        body: {
          type: 'object', required: ['audience'],
          properties: {
            audience: { type: 'string', maxLength: 2000, description: 'The API\'s URI, exactly as access tokens carry it in aud' }, name: { type: 'string', maxLength: 200 },
            // Issue 15 §4: registering the API as a resource (RFC 8707) clients may name in `resource`.
            scopes: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 100 }, description: 'RFC 8707: the scope family of a new API other than the default one' },
          },
        },
        response: { 201: RESOURCE_SERVER_SCHEMA, ...errors },
      },
    }, async (request, reply) => {
      const { client, clientSecret } = await createResourceServer(directory(request), body(request));
      return reply.code(201).send({ ...resourceServerToJson(client, await directoryResourceCatalogue(directory(request))), client_secret: clientSecret });
    });

    app.get('/resource-servers', {
      schema: { summary: 'List the resource servers (never their secrets)', tags: ['resource servers'], security, response: { 200: { type: 'array', items: RESOURCE_SERVER_SCHEMA }, 401: ERROR_SCHEMA } },
    }, async (request) => {
      const catalogue = await directoryResourceCatalogue(directory(request));
      return (await listResourceServers(context)).map((client) => resourceServerToJson(client, catalogue));
    });

    app.delete('/resource-servers/:client_id', {
      schema: {
        summary: 'Delete a resource server: its credentials stop working at once', tags: ['resource servers'], security, params: idParams('client_id'),
        response: { 200: RESOURCE_SERVER_SCHEMA, ...errors },
      },
    }, async (request) => resourceServerToJson(await deleteResourceServer(directory(request), params(request).client_id!)));

    app.put('/developers/:user_id', {
      schema: { summary: 'Make a directory user a partner developer (developer portal); idempotent', tags: ['directory'], security, params: idParams('user_id'), response: { 204: { type: 'null' }, ...errors } },
    }, async (request, reply) => {
      await addDeveloper(directory(request), params(request).user_id!);
      return reply.code(204).send();
    });

    app.delete('/developers/:user_id', {
      schema: { summary: 'The user is no longer a partner developer (their clients stay)', tags: ['directory'], security, params: idParams('user_id'), response: { 204: { type: 'null' }, ...errors } },
    }, async (request, reply) => {
      await removeDeveloper(directory(request), params(request).user_id!);
      return reply.code(204).send();
    });
  };
}
