// Liveness, readiness (every dependency answers) and Prometheus metrics.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServingContext } from '../context.ts';

const PROBE_TIMEOUT_MS = 2_000;

const Check = z.object({ ok: z.boolean(), ms: z.number(), error: z.string().optional() });

async function probe(check: () => Promise<unknown>): Promise<z.infer<typeof Check>> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (error) {
    return { ok: false, ms: Math.round(performance.now() - started), error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export const healthRoutes: FastifyPluginAsyncZod<{ ctx: ServingContext }> = async (app, { ctx }) => {
  const started = Date.now();
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'The process is up',
        tags: ['health'],
        response: { 200: z.object({ status: z.literal('ok'), uptimeSeconds: z.number() }) },
      },
    },
    async () => ({ status: 'ok' as const, uptimeSeconds: Math.round((Date.now() - started) / 1000) }),
  );

  const Ready = z.object({ status: z.enum(['ready', 'not_ready']), checks: z.record(z.string(), Check) });
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Every dependency answers (Kafka, ClickHouse, Redis, the lake)',
        tags: ['health'],
        response: { 200: Ready, 503: Ready },
      },
    },
    async (_request, reply) => {
      const probes = ctx.probes();
      const names = Object.keys(probes);
      const results = await Promise.all(names.map((name) => probe(probes[name] as () => Promise<unknown>)));
      const checks = Object.fromEntries(names.map((name, i) => [name, results[i] as z.infer<typeof Check>]));
      const ready = results.every((r) => r.ok);
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
    },
  );

  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics of this process', tags: ['health'] } },
    async (_request, reply) => {
      const registry = ctx.options.registry;
      if (!registry) return reply.type('text/plain; version=0.0.4').send('');
      return reply.type(registry.contentType).send(await registry.metrics());
    },
  );
};
