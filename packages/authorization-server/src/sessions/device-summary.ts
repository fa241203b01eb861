/**
 * The device a login session started on, as the account page shows it (issue 10 §4): a short summary of
 * the User-Agent ("Firefox on Linux"), never the raw header, so the stored text is bounded and plain.
 * Pages escape it anyway (pages/html.ts), and show it in their language (`deviceParts`).
 */

const BROWSERS: [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\b(?:OPR|Opera)\//, 'Opera'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\bChrom(?:e|ium)\/|\bCriOS\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
  [/\bcurl\//, 'curl'],
];

const SYSTEMS: [RegExp, string][] = [
  [/\bAndroid\b/, 'Android'],
  [/\b(?:iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

/**
 * "<browser> on <system>", "<browser>", "<system>" or '' (unknown), at most 40 characters.
 * @param userAgent the request's User-Agent header, possibly absent or repeated.
 */
export function deviceSummary(userAgent: string | string[] | undefined): string {
  const text = (Array.isArray(userAgent) ? userAgent[0] : userAgent)?.slice(0, 512) ?? '';
  const browser = BROWSERS.find(([pattern]) => pattern.test(text))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(text))?.[1];
  return (browser && system ? `${browser} on ${system}` : (browser ?? system ?? '')).slice(0, 40);
}

/**
 * The browser and system of a stored summary ("Firefox on Linux"), for a page to word in its own language
 * (`sessions.deviceOn`); undefined for a summary of one part, or one this module did not write.
 */
export function deviceParts(summary: string): { browser: string; system: string } | undefined {
  const [browser, system, ...rest] = summary.split(' on ');
  if (rest.length > 0 || !browser || !system) return undefined;
  const known = (names: [RegExp, string][], name: string) => names.some(([, known]) => known === name);
  return known(BROWSERS, browser) && known(SYSTEMS, system) ? { browser, system } : undefined;
}
