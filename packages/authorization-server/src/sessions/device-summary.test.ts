import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deviceParts, deviceSummary } from './device-summary.ts';
import { translator } from '../i18n/i18n.ts';
import { sessionsPage } from '../pages/session-pages.ts';

describe('deviceSummary (issue 10 §4: a short summary of the User-Agent, never the header itself)', () => {
  it('names the browser and the system of common User-Agents', () => {
    const cases: [string, string][] = [
      ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0', 'Edge on Windows'],
      ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'Chrome on macOS'],
      ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15', 'Safari on macOS'],
      ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36', 'Chrome on Android'],
      ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', 'Safari on iOS'],
      ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 'Firefox on Linux'],
      ['curl/8.5.0', 'curl'],
    ];
    for (const [userAgent, summary] of cases) assert.equal(deviceSummary(userAgent), summary, userAgent);
  });

  it('answers an empty summary for an absent or unknown User-Agent, and at most 40 characters', () => {
    assert.equal(deviceSummary(undefined), '');
    assert.equal(deviceSummary(''), '');
    assert.equal(deviceSummary('<img src=x onerror=alert(1)>'.repeat(100)), '');
    assert.equal(deviceSummary(['Firefox/1', 'Chrome/2']), 'Firefox');
    assert.ok(deviceSummary('Firefox/1 Linux'.repeat(1000)).length <= 40);
  });
});

describe('deviceParts: a stored summary worded in the page\'s language (issue 13)', () => {
  it('splits what deviceSummary wrote, and nothing else', () => {
    assert.deepEqual(deviceParts('Chrome on Linux'), { browser: 'Chrome', system: 'Linux' });
    assert.deepEqual(deviceParts(deviceSummary('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1')), { browser: 'Safari', system: 'iOS' });
    for (const summary of ['Chrome', 'Linux', '', 'Chrome on Linux on Linux', 'Netscape on Linux', 'Chrome on BeOS']) assert.equal(deviceParts(summary), undefined, summary);
  });

  it('the sessions page shows it in the page\'s language', () => {
    const page = sessionsPage({ brandName: 'Nordlys', csrfToken: 'c', userName: 'Alice', t: translator('fr'), sessions: [
      { sessionId: 'a', device: 'Chrome on Linux', createdAt: 1_800_000_000, lastSeenAt: 1_800_000_000, current: true },
      { sessionId: 'b', device: 'curl', createdAt: 1_800_000_000, lastSeenAt: 1_800_000_000, current: false },
    ] });
    assert.match(page, /Chrome sous Linux/);
    assert.doesNotMatch(page, / on Linux/);
    assert.match(page, /<td>curl<\/td>/);
    // The table scrolls inside its own region at 390 px (German and French headers are wider than the screen).
    assert.match(page, /<div class="table-scroll" tabindex="0" role="region" aria-label="[^"]+"><table class="sessions">/);
  });
});
