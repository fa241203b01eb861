/**
 * GET /logos/<client_id>: a client's uploaded logo (issue 3: "served with its content type,
 * `X-Content-Type-Options: nosniff`, and cache headers"). The bytes were checked on upload to be PNG,
 * JPEG or WebP (client-management.ts `inspectLogo`), and are sent with the type read from them, never
 * one the uploader declared; `nosniff` keeps browsers from guessing another. The `logo_uri` carries a
 * content hash (`?v=`), so the response may be cached for a day; the ETag answers revalidations.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../server-context.ts';

const LOGO_CACHE_SECONDS = 86_400;

export async function clientLogoEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const { client_id: clientId } = request.params as { client_id: string };
  const client = await context.storage.clients.find(clientId);
  const logo = client && client.status !== 'deleted' ? await context.storage.clientLogos.get(clientId) : undefined;
  reply.header('x-content-type-options', 'nosniff');
  if (!logo) {
    reply.code(404).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send('no logo');
    return;
  }
  const etag = `"${logo.sha256}"`;
  reply.header('etag', etag).header('cache-control', `public, max-age=${LOGO_CACHE_SECONDS}`);
  if (request.headers['if-none-match'] === etag) {
    reply.code(304).send();
    return;
  }
  reply.code(200).type(logo.contentType).send(logo.bytes);
}
