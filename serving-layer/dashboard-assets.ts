// The dashboard's static assets: TypeScript and CSS under dashboard/, bundled by esbuild into a
// git-ignored folder at install time (`npm run build:dashboard`, run by `prepare`), served at `/`.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const DASHBOARD_SOURCE_DIR = fileURLToPath(new URL('./dashboard/', import.meta.url));
export const DASHBOARD_DIST_DIR = fileURLToPath(new URL('./dashboard/dist/', import.meta.url));

/** Bundles the page into `outDir` (index.html, main.js, main.css); replaces what was there. */
export async function buildDashboard(outDir = DASHBOARD_DIST_DIR): Promise<string[]> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: { main: `${DASHBOARD_SOURCE_DIR}main.ts` },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  await copyFile(`${DASHBOARD_SOURCE_DIR}index.html`, `${outDir}index.html`);
  return ['index.html', ...Object.keys(result.metafile.outputs).map((p) => p.slice(p.lastIndexOf('/') + 1))];
}
