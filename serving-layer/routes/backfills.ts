// Backfills and jobs for data engineers, on the orchestration queues.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { dayArg, isQueueName, type Orchestrator, QUEUES, type QueueName } from '../../orchestration/index.ts';
import type { ServingContext } from '../context.ts';
import { ApiError, badRequest, ErrorBody, notFound } from '../errors.ts';

const Job = z
  .object({
    id: z.string(),
    queue: z.string(),
    status: z.enum(['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled', 'unknown']),
    data: z.unknown(),
    progress: z.object({ fraction: z.number(), message: z.string(), eta: z.string().nullable() }).nullable(),
    attempts: z.object({ made: z.number(), max: z.number() }),
    cancelRequested: z.boolean(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    result: z.unknown(),
    failure: z.string().nullable(),
  })
  .describe('A job as the queues keep it');

const BackfillRequest = z.object({
  from: z.string().describe('First UTC day, YYYY-MM-DD'),
  to: z.string().describe('UTC day after the last, YYYY-MM-DD'),
  asOf: z.number().int().nonnegative().optional().describe('Lake version to read (default: the latest now)'),
  rerun: z.boolean().default(false).describe('Run again even if this range and version already completed'),
  full: z
    .boolean()
    .default(false)
    .describe(
      'Scan every hour of each day. By default a day with a batch view is built on it: only the hours ' +
        'whose lake data changed since the lake version it read are scanned again',
    ),
});

const JobsQuery = z.object({
  queue: z
    .string()
    .optional()
    .refine((q) => q === undefined || isQueueName(q), {
      message: `expected one of ${QUEUES.join(', ')}`,
    }),
  status: z.enum(['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled']).optional(),
  limit: z.coerce.number().int().positive().max(1000).default(50),
});

export const backfillRoutes: FastifyPluginAsyncZod<{ ctx: ServingContext }> = async (app, { ctx }) => {
  const orchestrator = (): Orchestrator => {
    const o = ctx.orchestrator();
    if (!o)
      throw new ApiError(503, 'orchestration_unavailable', 'this instance has no job queues configured');
    return o;
  };
  const Id = z.object({ id: z.string().min(1) });
  /** The job `id` when it is a backfill; jobs of other queues are not found here. */
  const backfill = async (id: string) => {
    const job = await orchestrator().getJob(id);
    if (job?.queue !== 'backfill') throw notFound(`no backfill ${id}`);
    return job;
  };

  app.post(
    '/v1/backfills',
    {
      schema: {
        summary: 'Recompute whole UTC days from the lake and replace the batch view',
        description:
          'The same range and lake version is one job: asking again returns it (200) unless it ' +
          'failed, was cancelled or `rerun` is set (201 for a new run).',
        tags: ['jobs'],
        body: BackfillRequest,
        response: {
          200: z.object({ job: Job, created: z.boolean() }),
          201: z.object({ job: Job, created: z.boolean() }),
          400: ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { from, to, asOf, rerun, full } = request.body;
      let days: [string, string];
      try {
        days = [dayArg(from, 'from'), dayArg(to, 'to')];
      } catch (error) {
        throw badRequest((error as Error).message);
      }
      if (days[1] <= days[0]) throw badRequest(`to (${days[1]}) must be after from (${days[0]})`);
      let answer: Awaited<ReturnType<Orchestrator['requestBackfill']>>;
      try {
        answer = await orchestrator().requestBackfill({ from: days[0], to: days[1], asOf, rerun, full });
      } catch (error) {
        const message = (error as Error).message;
        if (/lake version .* does not exist|no commits yet/.test(message))
          throw new ApiError(409, 'lake_not_ready', message);
        throw error;
      }
      return reply.code(answer.created ? 201 : 200).send(answer);
    },
  );

  app.get(
    '/v1/backfills/:id',
    {
      schema: {
        summary: 'A backfill job',
        tags: ['jobs'],
        params: Id,
        response: { 200: Job, 404: ErrorBody },
      },
    },
    async (request) => backfill(request.params.id),
  );

  app.delete(
    '/v1/backfills/:id',
    {
      schema: {
        summary: 'Cancel a backfill: days already replaced keep the new view, the rest keep the previous one',
        tags: ['jobs'],
        params: Id,
        response: { 200: Job, 404: ErrorBody },
      },
    },
    async (request) => {
      await backfill(request.params.id);
      const job = await orchestrator().cancelJob(request.params.id);
      if (!job) throw notFound(`no backfill ${request.params.id}`);
      return job;
    },
  );

  app.get(
    '/v1/jobs',
    {
      schema: {
        summary: 'Jobs of every queue, newest first',
        tags: ['jobs'],
        querystring: JobsQuery,
        response: { 200: z.object({ jobs: z.array(Job) }), 400: ErrorBody },
      },
    },
    async (request) => {
      const { queue, status, limit } = request.query;
      return {
        jobs: await orchestrator().listJobs({ queue: queue as QueueName | undefined, status, limit }),
      };
    },
  );
};
