/**
 * Form-body benchmark (`npm run bench:form-body`, issue 11 item 1): what the worst-case form body costs
 * the authorization server, next to a normal token request.
 *
 *   normal token request   POST /oauth/token, HTTP Basic, `grant_type=refresh_token` with a well-formed
 *                          unknown refresh token: form parsing, client authentication, HMAC check,
 *                          400 invalid_grant (no storage write)
 *   32,000 × `a&`, token   the body of the issue (64,000 bytes) at /oauth/token: 413 from Content-Length
 *   4,000 × `a&`, token    8,000 bytes, under the token endpoint's 8 KiB limit: 400 (too many parameters)
 *   32,000 × `a&`, 64 KiB  the issue's body at a form endpoint with the 64 KiB default limit
 *                          (/account/connected-apps/:id/disconnect): 400 (too many parameters)
 *
 * The server runs in a child process (a fresh in-memory SQLite database with the development seed,
 * logger off); this process sends the requests one at a time on a keep-alive connection (reopened when
 * the server closes it after a 413) and checks every status. `server CPU µs/req` is the child's
 * `process.cpuUsage()` (user + system) over the row divided by its requests. The last table times the
 * form parser alone, in this process, on the issue's body: the parser before issue 11 (a copy of it,
 * below) and the one in http/parameters.ts with and without its parameter cap.
 *
 * Usage: node bench/form-body.ts [--requests 2000]
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HttpConnection, headerValue } from './http-client.ts';
import { API_AUDIENCE } from './config.ts';

const ROLE = process.argv[2] ?? 'orchestrator';

if (ROLE === 'server') {
  const { createAuthorizationServer } = await import('../packages/authorization-server/src/authorization-server.ts');
  const { createSqliteStorage } = await import('../packages/authorization-server/src/storage/sqlite/sqlite-storage.ts');
  const { seedDevelopmentData } = await import('../packages/authorization-server/src/seed/development-seed.ts');
  const storage = createSqliteStorage(':memory:');
  await seedDevelopmentData(storage, { brandName: 'Gatehouse', now: Math.floor(Date.now() / 1000), apiAudience: API_AUDIENCE });
  const app = await createAuthorizationServer({
    issuer: 'http://127.0.0.1', environment: 'development', storage, accessTokenAudience: API_AUDIENCE, tokenHmacKey: randomBytes(32), logger: false,
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  process.on('message', (message: string) => {
    if (message === 'cpu') {
      const usage = process.cpuUsage();
      process.send!({ cpuMicros: usage.user + usage.system });
    } else if (message === 'stop') {
      void app.close().then(() => process.exit(0));
    }
  });
  process.send!({ url });
} else {
  await orchestrate();
}

async function orchestrate(): Promise<void> {
  const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000' } } });
  const requests = Number(values.requests);
  const { DEVELOPMENT_SEED } = await import('../packages/authorization-server/src/seed/development-seed.ts');
  const { parseFormBody } = await import('../packages/authorization-server/src/http/parameters.ts');

  const child = fork(fileURLToPath(import.meta.url), ['server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const nextMessage = () => new Promise<any>((resolve) => child.once('message', resolve));
  const { url } = await nextMessage();
  const serverCpu = async () => {
    child.send('cpu');
    return (await nextMessage()).cpuMicros as number;
  };

  const client = DEVELOPMENT_SEED.confidentialClient;
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const rows = [
    { label: 'normal token request (refresh_token, unknown token)', path: '/oauth/token', headers: { ...form, authorization: basic },
      body: `grant_type=refresh_token&refresh_token=grt_${randomBytes(32).toString('base64url')}.${randomBytes(32).toString('base64url')}`, status: 400 },
    { label: '32,000 × a& at /oauth/token (64,000 B)', path: '/oauth/token', headers: { ...form, authorization: basic }, body: 'a&'.repeat(32_000), status: 413 },
    { label: '4,000 × a& at /oauth/token (8,000 B)', path: '/oauth/token', headers: { ...form, authorization: basic }, body: 'a&'.repeat(4_000), status: 400 },
    { label: '32,000 × a& at a 64 KiB form endpoint', path: '/account/connected-apps/00000000-0000-4000-8000-000000000000/disconnect', headers: form, body: 'a&'.repeat(32_000), status: 400 },
  ];

  const results: string[] = [];
  let connection = await HttpConnection.open(url);
  for (const row of rows) {
    const latencies: number[] = [];
    const cpuBefore = await serverCpu();
    for (let index = 0; index < requests; index++) {
      const started = process.hrtime.bigint();
      const response = await connection.request('POST', row.path, row.headers, row.body);
      latencies.push(Number(process.hrtime.bigint() - started) / 1000);
      if (response.status !== row.status) throw new Error(`${row.label}: expected ${row.status}, got ${response.status}: ${response.body.slice(0, 200)}`);
      if (headerValue(response, 'connection') === 'close') {
        connection.close();
        connection = await HttpConnection.open(url);
      }
    }
    const cpu = (await serverCpu()) - cpuBefore;
    latencies.sort((a, b) => a - b);
    const mean = latencies.reduce((sum, value) => sum + value, 0) / latencies.length;
    results.push(`| ${row.label} | ${row.status} | ${requests} | ${mean.toFixed(0)} | ${latencies[Math.floor(latencies.length * 0.99)]!.toFixed(0)} | ${(cpu / requests).toFixed(0)} |`);
  }
  connection.close();
  child.send('stop');

  console.log('| request | status | requests | mean µs | p99 µs | server CPU µs/req |');
  console.log('|---|---|---|---|---|---|');
  for (const line of results) console.log(line);

  const body = 'a&'.repeat(32_000);
  const time = (parse: () => void, times: number) => {
    const started = process.hrtime.bigint();
    for (let index = 0; index < times; index++) parse();
    return Number(process.hrtime.bigint() - started) / 1000 / times;
  };
  console.log('\n| parser, on 32,000 × a& | µs per body |');
  console.log('|---|---|');
  console.log(`| before issue 11 (copies the array per repeat) | ${time(() => parseFormBodyBeforeIssue11(body), 1).toFixed(0)} |`);
  console.log(`| fast-querystring, no cap | ${time(() => parseFormBody(body, Number.MAX_SAFE_INTEGER), 50).toFixed(0)} |`);
  console.log(`| fast-querystring with the 100-parameter cap (refused) | ${time(() => { try { parseFormBody(body); } catch {} }, 1000).toFixed(1)} |`);
}

/** The parser http/parameters.ts had before issue 11, kept here only to measure it. */
function parseFormBodyBeforeIssue11(body: string): Record<string, string | string[]> {
  const parameters: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of new URLSearchParams(body)) {
    const existing = parameters[name];
    if (existing === undefined) parameters[name] = value;
    else parameters[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return parameters;
}
