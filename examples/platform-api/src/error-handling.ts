import type { FastifyError, FastifyInstance } from 'fastify';
import { ResourceServerError, sendResourceServerError } from '@gatehouse/resource-server';
import { InvalidCursorError } from './pagination.ts';

/** A resource that does not exist for the company the request acts for. */
export class NotFoundError extends Error {
  readonly status = 404;
  readonly error = 'not_found';
}

/**
 * Every error leaves as a JSON body `{ error, error_description }`:
 * resource-server refusals with their own status and headers (RFC 6750 §3 challenges,
 * 503 when introspection is unavailable), schema violations as 400 `invalid_parameter`,
 * unknown cursors as 400 `invalid_cursor`, the rest as the framework's 4xx or 500 `server_error`.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ResourceServerError) {
      return sendResourceServerError(reply, error);
    }
    if (error instanceof NotFoundError || error instanceof InvalidCursorError) {
      return reply.code(error.status).send({ error: error.error, error_description: error.message });
    }
    if (error.validation !== undefined) {
      return reply.code(400).send({ error: 'invalid_parameter', error_description: error.message });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : 'bad_request';
      return reply.code(status).send({ error: code, error_description: error.message });
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ error: 'server_error', error_description: 'An unexpected error occurred' });
  });

  app.setNotFoundHandler((request, reply) => {
    // The path only: a query string may carry an access token we refuse to echo.
    const path = request.url.split('?', 1)[0];
    return reply.code(404).send({ error: 'not_found', error_description: `No resource at ${request.method} ${path}` });
  });
}
