/**
 * Golden files (test/fixtures/...): a test compares what it renders with the file. A missing
 * golden FAILS its test; goldens are written only on the explicit update command,
 * `npm run build && BERTH_UPDATE_GOLDEN=1 npm run test:unit` (then review the diff).
 */
import type { ExecutionContext } from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ROOT } from './netns.js';

/** True only under BERTH_UPDATE_GOLDEN=1: the one way golden files get written. */
export const UPDATE_GOLDEN = process.env.BERTH_UPDATE_GOLDEN === '1';

const HOW = 'BERTH_UPDATE_GOLDEN=1 rewrites it (npm run build && BERTH_UPDATE_GOLDEN=1 npm run test:unit), then review the diff';

/** Compares `text` with the golden `file`; under BERTH_UPDATE_GOLDEN=1 writes it first. */
export function expectGolden(t: ExecutionContext<unknown>, file: string, text: string): void {
  if (UPDATE_GOLDEN) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  const name = relative(ROOT, file);
  if (!existsSync(file)) {
    t.fail(`the golden file ${name} is missing: ${HOW}`);
    return;
  }
  t.is(text, readFileSync(file, 'utf8'), `${name} differs: ${HOW}`);
}

/** A directory of golden files holding exactly `files` (name → text); under BERTH_UPDATE_GOLDEN=1 rewrites it first. */
export function expectGoldenDir(t: ExecutionContext<unknown>, dir: string, files: ReadonlyMap<string, string>): void {
  if (UPDATE_GOLDEN) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [f, text] of files) writeFileSync(join(dir, f), text);
  }
  const name = relative(ROOT, dir);
  if (!existsSync(dir)) {
    t.fail(`the golden directory ${name} is missing: ${HOW}`);
    return;
  }
  t.deepEqual(readdirSync(dir).sort(), [...files.keys()].sort(), `${name} holds other files: ${HOW}`);
  for (const [f, text] of files) {
    const file = join(dir, f);
    if (existsSync(file)) t.is(text, readFileSync(file, 'utf8'), `${relative(ROOT, file)} differs: ${HOW}`);
  }
}
