/**
 * Opens a URL in the user's browser when one exists: `$BROWSER` if set, `open` on macOS,
 * `rundll32 url.dll,FileProtocolHandler` on Windows, `xdg-open` on a Linux desktop (a display is present).
 * Best effort: on a headless machine it does nothing and the printed URL is the way.
 *
 * No shell is involved anywhere: the URL is one argument of the program. (On Windows `cmd /c start` would
 * read the `&` between query parameters as a command separator, cutting the URL after its first parameter
 * and running the rest as commands.)
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** @returns whether a browser was launched. */
export function openBrowser(url: string, environment: NodeJS.ProcessEnv = process.env): boolean {
  const command = browserCommand(url, environment);
  if (!command) return false;
  try {
    const child = spawn(command[0]!, command.slice(1), { detached: true, stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
    return true;
  } catch {
    return false;
  }
}

/** The program and its arguments that open `url` on `platform`, or undefined when there is no browser. */
export function browserCommand(url: string, environment: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string[] | undefined {
  if (environment.BROWSER) return [environment.BROWSER, url];
  if (platform === 'darwin') return ['open', url];
  if (platform === 'win32') return ['rundll32', 'url.dll,FileProtocolHandler', url];
  if (!environment.DISPLAY && !environment.WAYLAND_DISPLAY) return undefined;
  return onPath('xdg-open', environment) ? ['xdg-open', url] : undefined;
}

function onPath(name: string, environment: NodeJS.ProcessEnv): boolean {
  return (environment.PATH ?? '').split(delimiter).some((directory) => {
    try {
      accessSync(join(directory, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
