import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatehouseWith as gatehouse } from '../testing/cli.ts';



describe('gatehouse config check (issue 14)', () => {
  it('prints the effective configuration with secrets masked and warns about unknown GATEHOUSE_ variables', () => {
    const key = 'k'.repeat(43);
    const run = gatehouse(['config', 'check', '--json'], {
      GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'https://auth.example', GATEHOUSE_TOKEN_KEY: key,
      DATABASE_URL: 'postgres://gatehouse:s3cret@db.example/gh', GATEHOUSE_TOKEN_KYE: 'typo',
      // The partner side's settings (README: exported for gatehouse-connect) are not typos.
      GATEHOUSE_CLIENT_ID: '7af385a0-284d-48c5-b225-362862085551', GATEHOUSE_CLIENT_SECRET: 'partner-secret', GATEHOUSE_API_URL: 'http://localhost:3001',
    });
    assert.equal(run.status, 0, run.stderr);
    const output = JSON.parse(run.stdout);
    assert.equal(output.valid, true);
    assert.equal(output.configuration.GATEHOUSE_ISSUER, 'https://auth.example');
    assert.equal(output.configuration.GATEHOUSE_TOKEN_KEY, 'set (32 bytes, not shown)');
    assert.equal(output.configuration.database, 'postgres postgres://gatehouse@db.example/gh');
    // Issue 12: PostgreSQL's rate-limit counters are flushed in the background by default.
    assert.match(output.configuration.GATEHOUSE_RATE_LIMIT_COUNTERS, /^shared \(every instance's hits added to the database every 250 ms/);
    assert.equal(output.configuration.GATEHOUSE_RATE_LIMIT_FLUSH_INTERVAL_MS, '250');
    assert.deepEqual(output.warnings, ['GATEHOUSE_TOKEN_KYE is not a Gatehouse setting (a typo?); it is ignored']);
    assert.ok(!run.stdout.includes(key) && !run.stdout.includes('s3cret') && !run.stdout.includes('partner-secret'));
  });

  it('lists every problem, one a line, and exits 2', () => {
    const run = gatehouse(['config', 'check'], { GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'http://auth.example', PORT: 'eighty' });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /the configuration has 3 problems:\n {2}- PORT must be a port number \(0 to 65535\) \(got "eighty"\)\n {2}- GATEHOUSE_ISSUER must be https in production/);
    assert.match(run.stderr, /- GATEHOUSE_TOKEN_KEY is required in production/);
  });
});
