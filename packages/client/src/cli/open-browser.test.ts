/**
 * Defect 9 of the partner-side review: on Windows the URL went through `cmd /c start`, where the `&`
 * between query parameters separates commands: the browser got the URL up to its first parameter and cmd
 * ran the rest. The URL is now one argument of a program run without a shell.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { browserCommand } from './open-browser.ts';

const url = 'https://auth.example.com/oauth/authorize?response_type=code&client_id=7af385a0&state=a^b|c<d>e&scope=users%3Aread';

describe('opening the browser', () => {
  it('on Windows runs no shell: the whole URL is one argument, & ^ | < > untouched', () => {
    const command = browserCommand(url, {}, 'win32')!;
    assert.deepEqual(command, ['rundll32', 'url.dll,FileProtocolHandler', url]);
    assert.ok(!command.some((part) => /^(cmd|cmd\.exe|powershell)$/i.test(part)), 'no shell');
  });

  it('elsewhere: $BROWSER, open, xdg-open (with a display) or nothing, the URL always one argument', () => {
    assert.deepEqual(browserCommand(url, { BROWSER: 'firefox' }, 'win32'), ['firefox', url]);
    assert.deepEqual(browserCommand(url, {}, 'darwin'), ['open', url]);
    assert.equal(browserCommand(url, { PATH: '' }, 'linux'), undefined);
  });
});
