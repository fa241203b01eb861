import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { confidentialAuth, obtainTokens, postForm, seed, startTestServer } from '../testing/harness.ts';
import { createTracing } from './tracing.ts';

describe('OpenTelemetry tracing (issue 14)', () => {
  it('records a span per request and a child span per storage operation, with no token value in any attribute', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing(new SimpleSpanProcessor(exporter));
    const server = await startTestServer({ tracer: tracing.tracer });
    try {
      const { tokens } = await obtainTokens(server);
      const refreshed = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
      assert.equal(refreshed.status, 200);
      const spans = exporter.getFinishedSpans();
      const tokenRequests = spans.filter((span) => span.name === 'POST /oauth/token');
      assert.equal(tokenRequests.length, 2);
      assert.deepEqual(tokenRequests.map((span) => span.attributes['http.response.status_code']), [200, 200]);
      assert.equal(tokenRequests[0]!.attributes['http.route'], '/oauth/token');
      // Storage operations of the refresh are children of its request span.
      const refreshSpan = tokenRequests[1]!;
      const children = spans.filter((span) => span.parentSpanContext?.spanId === refreshSpan.spanContext().spanId);
      // Issue 12: a refresh naming no scope, resource or DPoP proof reads and rotates its token in one operation.
      assert.ok(children.some((span) => span.name === 'tokens.rotateReadyRefreshToken'), children.map((span) => span.name).join(', '));
      assert.ok(children.every((span) => span.spanContext().traceId === refreshSpan.spanContext().traceId));
      // No secret anywhere in names or attributes.
      const recorded = JSON.stringify(spans.map((span) => [span.name, span.attributes]));
      for (const secret of [tokens.access_token, tokens.refresh_token, refreshed.json.refresh_token, seed.confidentialClient.secret, seed.users.alice.password]) {
        assert.ok(!recorded.includes(secret));
      }
      assert.ok(!recorded.includes('code='), 'no URL with its query');
    } finally {
      await server.close();
      await tracing.shutdown();
    }
  });

  it('is off by default: a server without a tracer records nothing', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing(new SimpleSpanProcessor(exporter));
    const server = await startTestServer();
    try {
      await obtainTokens(server);
      assert.equal(exporter.getFinishedSpans().length, 0);
    } finally {
      await server.close();
      await tracing.shutdown();
    }
  });
});
