// The live dashboard: GET / is its page, /dashboard/* its bundled assets (built by
// `npm run build:dashboard`). Both are open: the page itself asks for an API key. Without a build,
// GET / answers 503 with the command to run, rather than a bare 404.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { DASHBOARD_DIST_DIR } from '../dashboard-assets.ts';

const NOT_BUILT =
  '<!doctype html><meta charset="utf-8"><title>tidewater: dashboard not built</title>' +
  '<p>The dashboard has not been built. Run <code>npm run build:dashboard</code> (or <code>npm install</code>) ' +
  'and restart the server. The API is served as usual, see <a href="/docs">/docs</a>.</p>';

export const dashboardRoutes: FastifyPluginAsync<{ dir?: string }> = async (app, options) => {
  const root = options.dir ?? DASHBOARD_DIST_DIR;
  if (!existsSync(join(root, 'index.html'))) {
    app.get('/', { schema: { hide: true } }, async (_request, reply) =>
      reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT),
    );
    return;
  }
  // One route per built file (wildcard: false), so the API's JSON 404s stay as they are.
  await app.register(fastifyStatic, {
    root,
    prefix: '/dashboard/',
    wildcard: false,
    index: false,
    schemaHide: true,
  });
  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.sendFile('index.html'));
};
