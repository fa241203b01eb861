/**
 * OpenTelemetry tracing (issue 14, "Observe"): off by default; `OTEL_EXPORTER_OTLP_ENDPOINT` turns it on
 * (main.ts), exporting over OTLP/HTTP in batches (the exporter reads the standard `OTEL_EXPORTER_OTLP_*`
 * variables itself). One span per request (`http.request.method`, `http.route` — the route pattern, never the
 * URL or its query —, `http.response.status_code`) and one child span per storage operation
 * (`db.operation.name`, e.g. `tokens.findByDigest`). No attribute ever holds a token, code, secret,
 * header, body or identifier of a user or client.
 */
import { context, trace, SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Storage } from '../storage/storage.ts';
import { wrapStorageOperations } from '../storage/wrap-storage.ts';

export interface Tracing {
  tracer: Tracer;
  /** Exports what is buffered and stops; call after the server closed. */
  shutdown(): Promise<void>;
}

let contextManagerEnabled = false;

/**
 * A tracer exporting through `spanProcessor` (default: batched OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT`).
 * Enables AsyncLocalStorage context propagation once per process, so storage spans find their request span.
 */
export function createTracing(spanProcessor: SpanProcessor = new BatchSpanProcessor(new OTLPTraceExporter())): Tracing {
  if (!contextManagerEnabled) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerEnabled = true;
  }
  const provider = new BasicTracerProvider({ spanProcessors: [spanProcessor] });
  return { tracer: provider.getTracer('gatehouse-authorization-server'), shutdown: () => provider.shutdown() };
}

const requestSpans = new WeakMap<FastifyRequest, Span>();

/** A span per request; the rest of the request runs in its context, so storage spans are its children. */
export function traceHttp(app: FastifyInstance, tracer: Tracer): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const span = tracer.startSpan(`${request.method} ${route}`, {
      kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'http.route': route },
    });
    requestSpans.set(request, span);
    context.with(trace.setSpan(context.active(), span), done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const span = requestSpans.get(request);
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}

/** The storage with a child span per operation (its name only; never arguments or results). */
export function traceStorage(storage: Storage, tracer: Tracer): Storage {
  return wrapStorageOperations(storage, (operation, call) => (...args: unknown[]) =>
    tracer.startActiveSpan(operation, { kind: SpanKind.CLIENT, attributes: { 'db.operation.name': operation } }, async (span) => {
      try {
        return await call(...args);
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    }));
}
