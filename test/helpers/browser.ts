/**
 * Headless Chromium for the browser tests, from the project's own dependencies: the build
 * that `@sparticuz/chromium` ships inside its npm package, unpacked once into
 * node_modules/.cache (with the NSS and expat libraries the package carries for hosts that
 * lack them, so a machine with nothing but Node runs it), driven by playwright-core.
 * `CASTMIRROR_CHROMIUM=/path/to/chromium` uses that browser instead.
 *
 * The package unpacks into os.tmpdir() and reuses whatever `chromium` it finds there; two
 * test files launching at once could then start a half-written binary. So each process
 * unpacks into a staging folder of its own and renames it into place: the first rename
 * wins, the others discard theirs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import sparticuz from '@sparticuz/chromium';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from './cluster.js';

const PACKAGE = path.join(ROOT, 'node_modules', '@sparticuz', 'chromium');

/** Keeps the browser off the (closed) network; --no-sandbox because CI runs as root. */
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface Unpacked {
  readonly executable: string;
  readonly env: Record<string, string>;
}

async function unpackBundled(): Promise<Unpacked> {
  const { version } = JSON.parse(readFileSync(path.join(PACKAGE, 'package.json'), 'utf8')) as { version: string };
  const dir = path.join(ROOT, 'node_modules', '.cache', `castmirror-chromium-${version}`);
  if (!existsSync(path.join(dir, 'chromium'))) {
    const staging = `${dir}.staging-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    const tmpdir = process.env.TMPDIR;
    process.env.TMPDIR = staging; // where the package unpacks (os.tmpdir() reads it at each call)
    try {
      await sparticuz.executablePath();
    } finally {
      if (tmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmpdir;
    }
    // The libraries: the package unpacks them only on Amazon Linux; other hosts may lack them too.
    const libraries = path.join(staging, 'al2023');
    mkdirSync(libraries);
    const tar = path.join(staging, 'al2023.tar');
    writeFileSync(tar, brotliDecompressSync(readFileSync(path.join(PACKAGE, 'bin', 'al2023.tar.br'))));
    const untar = spawnSync('tar', ['-xf', tar, '-C', libraries]);
    if (untar.status !== 0) throw new Error(`could not unpack Chromium's libraries: ${untar.stderr}`);
    rmSync(tar);
    // The package's fonts.conf names /tmp/fonts; point it at the fonts unpacked here.
    writeFileSync(
      path.join(staging, 'fonts', 'fonts.conf'),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig><dir>${path.join(dir, 'fonts')}</dir><cachedir>${path.join(dir, 'fonts-cache')}</cachedir></fontconfig>\n`,
    );
    try {
      renameSync(staging, dir);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(path.join(dir, 'chromium'))) throw error;
    }
  }
  const libraryPath = [path.join(dir, 'al2023', 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  return { executable: path.join(dir, 'chromium'), env: { LD_LIBRARY_PATH: libraryPath, FONTCONFIG_PATH: path.join(dir, 'fonts') } };
}

/** Which Chromium the tests use: CASTMIRROR_CHROMIUM, or the one in @sparticuz/chromium. */
export async function chromiumToUse(): Promise<Unpacked> {
  const chosen = process.env.CASTMIRROR_CHROMIUM;
  if (chosen) {
    if (!existsSync(chosen)) throw new Error(`CASTMIRROR_CHROMIUM=${chosen} does not exist`);
    return { executable: chosen, env: {} };
  }
  return unpackBundled();
}

export async function launchChromium(): Promise<Browser> {
  const { executable, env } = await chromiumToUse();
  return chromium.launch({ executablePath: executable, args: ARGS, env: { ...(process.env as Record<string, string>), ...env } });
}
