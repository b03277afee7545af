// GET /v1/live: Server-Sent Events of one metric per minute. First `snapshot` (the metrics answer
// from `from` to now), then `delta` events with the rows whose values changed, each carrying its
// current full value, as the speed layer commits; `ping` every 15 s.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServingContext } from '../context.ts';
import { ApiError, ErrorBody } from '../errors.ts';
import { type LiveHub, LiveSubscription } from '../live.ts';
import { MetricQuery, shapeOf } from '../metric-query.ts';

const HEARTBEAT_MS = 15_000;
const RECONNECT_MS = 2_000;

const LiveQuery = MetricQuery.pick({ groupBy: true, filter: true, from: true }).extend({
  metric: z.string().describe('Catalog name of the metric'),
  key: z.string().optional().describe('API key (reader role), for clients that cannot set Authorization'),
});

export const liveRoutes: FastifyPluginAsyncZod<{
  ctx: ServingContext;
  hub?: LiveHub;
  maxRate: number;
}> = async (app, { ctx, hub, maxRate }) => {
  // Open streams never go idle: end them so that closing the server does not wait on them.
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of streams) end();
  });

  app.get(
    '/v1/live',
    {
      schema: {
        summary: 'Live updates of one metric per minute (Server-Sent Events)',
        description:
          'Events: `snapshot` (the GET /v1/metrics/:name body from `from`, default an hour ago, to now, ' +
          'grain minute), then `delta` (same shape; `rows` holds only the minutes whose values changed, ' +
          'each with its current full value: replace by time and dimensions) as new events are ' +
          `committed, at most ${maxRate} per second; \`ping\` every 15 s. The stream asks clients to reconnect after 2 s.`,
        tags: ['metrics'],
        querystring: LiveQuery,
        response: { 400: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      if (!hub)
        throw new ApiError(503, 'live_unavailable', 'this instance has no Redis configured for live push');
      const { metric: name, groupBy, filter } = request.query;
      const query = {
        grain: 'minute' as const,
        groupBy,
        filter,
        from: request.query.from ?? Date.now() - 3_600_000,
      };
      shapeOf(ctx.metric(name), query); // a bad metric, groupBy or filter is a 4xx, before the stream opens

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write(`retry: ${RECONNECT_MS}\n\n`);
      const send = (event: string, data: string) => {
        if (!raw.writableEnded) raw.write(`event: ${event}\ndata: ${data}\n\n`);
      };
      const subscription = new LiveSubscription(ctx, name, query, 1000 / maxRate, send);
      const heartbeat = setInterval(
        () => send('ping', JSON.stringify({ at: new Date().toISOString() })),
        HEARTBEAT_MS,
      );
      const end = () => {
        streams.delete(end);
        clearInterval(heartbeat);
        hub.remove(subscription);
        if (!raw.writableEnded) raw.end();
      };
      streams.add(end);
      raw.on('close', end);
      try {
        await hub.add(subscription);
        await subscription.start();
      } catch (error) {
        request.log.error({ err: error }, 'live snapshot failed');
        send(
          'error',
          JSON.stringify({ error: { code: 'live_unavailable', message: (error as Error).message } }),
        );
        end();
      }
    },
  );
};
