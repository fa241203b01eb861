/**
 * The loopback listener of `gatehouse-connect login` (RFC 8252 §7.3): an HTTP server on exactly the
 * registered redirect URI's host and port (Gatehouse matches redirect URIs exactly, port included,
 * SPEC decision 4). `localhost` is served on both 127.0.0.1 and ::1, whichever the browser resolves.
 * Only the redirect path is answered; a request whose `state` is not the login's is refused and the
 * wait goes on (a stale tab cannot end it).
 */
import { secretsEqual } from '@gatehouse/protocol';
import { createServer, type Server, type ServerResponse } from 'node:http';
import escapeHtml from 'escape-html';

export interface CallbackPage {
  ok: boolean;
  title: string;
  message: string;
}

export interface ReceivedCallback {
  url: URL;
  /** Sends the page the browser shows; call once. */
  respond(page: CallbackPage): void;
}

export interface LoopbackListener {
  /** Resolves with the first request to the redirect path carrying `state`; rejects after `timeoutMilliseconds`. */
  waitForCallback(state: string, timeoutMilliseconds: number): Promise<ReceivedCallback>;
  close(): Promise<void>;
}

/** No callback arrived in time. */
export class CallbackTimeoutError extends Error {}

/** @throws the `listen` error (`EADDRINUSE`, `EACCES`…) with `address` set. */
export async function listenOnRedirectUri(redirectUri: URL): Promise<LoopbackListener> {
  const port = Number(redirectUri.port || 80);
  const hosts = redirectUri.hostname === 'localhost' ? ['127.0.0.1', '::1'] : [redirectUri.hostname.replace(/^\[|\]$/g, '')];
  let waiting: { state: string; deliver(callback: ReceivedCallback): void } | undefined;

  const handle = (requestUrl: string | undefined, response: ServerResponse) => {
    const url = new URL(requestUrl ?? '/', redirectUri);
    if (url.pathname !== redirectUri.pathname) {
      sendPage(response, 404, { ok: false, title: 'Not found', message: 'Nothing here: gatehouse-connect only listens for the OAuth callback.' });
      return;
    }
    const state = url.searchParams.get('state');
    // SPEC decision 9: compared in constant time, by digests (the lengths may differ).
    if (!waiting || state === null || !secretsEqual(state, waiting.state)) {
      sendPage(response, 400, { ok: false, title: 'Not this login', message: 'This callback does not belong to the login in progress (its state does not match). Use the URL gatehouse-connect printed.' });
      return;
    }
    const { deliver } = waiting;
    waiting = undefined;
    let answered = false;
    deliver({
      url,
      respond(page) {
        if (answered) return;
        answered = true;
        sendPage(response, page.ok ? 200 : 400, page);
      },
    });
  };

  const servers: Server[] = [];
  for (const host of hosts) {
    const server = createServer((request, response) => handle(request.url, response));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      servers.push(server);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // An IPv6-less machine has no ::1; 127.0.0.1 is then enough for `localhost`.
      if (host === '::1' && servers.length > 0 && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT')) continue;
      await Promise.all(servers.map((open) => new Promise((resolve) => open.close(resolve))));
      Object.assign(error as object, { address: `${redirectUri.hostname}:${port}` });
      throw error;
    }
  }

  return {
    waitForCallback(state, timeoutMilliseconds) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting = undefined;
          reject(new CallbackTimeoutError(`no callback within ${Math.round(timeoutMilliseconds / 1000)} s`));
        }, timeoutMilliseconds);
        waiting = {
          state,
          deliver(callback) {
            clearTimeout(timer);
            resolve(callback);
          },
        };
      });
    },
    async close() {
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })));
    },
  };
}

function sendPage(response: ServerResponse, status: number, page: CallbackPage): void {
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(page.title)}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto"><h1>${page.ok ? '✓' : '✗'} ${escapeHtml(page.title)}</h1><p>${escapeHtml(page.message)}</p></body></html>`;
  response.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // The callback URL carries the code; keep it out of any Referer.
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    'x-frame-options': 'DENY',
  }).end(body);
}
