/**
 * Summarizes a V8 CPU profile (.cpuprofile, from `node --cpu-prof` or `npm run bench -- --profile DIR`):
 * the functions with the most self time, and self time grouped by where the code lives (package or
 * Node built-in), so "where does the time go" has a short answer.
 *
 *   node bench/profile-summary.ts FILE.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export function summarize(profile: Profile, top = 25): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  const total = [...selfMicros.values()].reduce((sum, value) => sum + value, 0);
  const functions = new Map<string, number>();
  const places = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id)!.callFrame;
    const where = shortUrl(frame.url);
    const name = `${frame.functionName || '(anonymous)'}  ${where}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + micros);
    const place = placeOf(frame);
    places.set(place, (places.get(place) ?? 0) + micros);
  }
  const percent = (micros: number) => `${((100 * micros) / total).toFixed(1).padStart(5)}%`;
  const lines = [`total sampled ${(total / 1000).toFixed(0)} ms`, '', 'self time by function:'];
  for (const [name, micros] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${percent(micros)}  ${name}`);
  // Native code (SQLite's exec/run/get, socket writes) by the first JavaScript frame above it: which call blocks.
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const natives = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id)!.callFrame;
    if (frame.url || frame.functionName.startsWith('(')) continue;
    let caller = parent.get(id);
    while (caller !== undefined && !byId.get(caller)!.callFrame.url) caller = parent.get(caller);
    // Skip the storage helpers (get/run/transaction wrappers) to name the operation that called them.
    const chain: string[] = [];
    for (let at = caller; at !== undefined && chain.length < 3; at = parent.get(at)) {
      const callFrame = byId.get(at)!.callFrame;
      if (!callFrame.url) continue;
      chain.push(`${callFrame.functionName || '(anonymous)'}:${callFrame.lineNumber + 1}`);
    }
    const key = `${frame.functionName} ← ${chain.join(' ← ')}`;
    natives.set(key, (natives.get(key) ?? 0) + micros);
  }
  lines.push('', 'native self time by JavaScript caller (3 frames):');
  for (const [name, micros] of [...natives].sort((a, b) => b[1] - a[1]).slice(0, 12)) lines.push(`  ${percent(micros)}  ${name}`);
  lines.push('', 'self time by place:');
  for (const [place, micros] of [...places].sort((a, b) => b[1] - a[1]).slice(0, 20)) lines.push(`  ${percent(micros)}  ${place}`);
  return lines.join('\n');
}

function shortUrl(url: string): string {
  const nodeModules = url.lastIndexOf('node_modules/');
  if (nodeModules >= 0) return url.slice(nodeModules + 'node_modules/'.length);
  const packages = url.indexOf('/packages/');
  if (packages >= 0) return url.slice(packages + 1);
  return url.replace(/^file:\/\/\/work\/main\//, '');
}

function placeOf(frame: ProfileNode['callFrame']): string {
  if (!frame.url) {
    // V8-internal entries: (garbage collector), (program), (idle), or native functions.
    return frame.functionName.startsWith('(') ? frame.functionName : `native ${frame.functionName}`;
  }
  if (frame.url.startsWith('node:')) return frame.url;
  const nodeModules = frame.url.lastIndexOf('node_modules/');
  if (nodeModules >= 0) {
    const rest = frame.url.slice(nodeModules + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const source = /\/packages\/([^/]+)\/src\/(.*)$/.exec(frame.url);
  if (source) return `@gatehouse/${source[1]} ${source[2]}`;
  return shortUrl(frame.url);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/profile-summary.ts FILE.cpuprofile [--top N]');
    process.exit(2);
  }
  const topIndex = process.argv.indexOf('--top');
  const top = topIndex > 0 ? Number(process.argv[topIndex + 1]) : 25;
  console.log(summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile, top));
}
