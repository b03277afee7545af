// POST /v1/events: producers without a Kafka client send events over HTTP.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError, ErrorBody } from '../errors.ts';
import { type Ingestor, jsonRecords, RETRY_AFTER_SECONDS, splitLines } from '../ingest.ts';

const IngestAnswer = z.object({
  request: z.string().describe('Request id; quarantined records carry it as their source topic `http/<id>`'),
  received: z.number(),
  accepted: z.number().describe('In Kafka (acknowledged by all in-sync replicas)'),
  late: z.number().describe('Accepted but older than the allowed lateness: the batch layer counts them'),
  rejected: z.number().describe('In the quarantine topic, with their reasons'),
  duplicates: z.number().describe('Repeats of an eventId earlier in this request, not produced'),
  rejections: z.array(
    z.object({
      index: z.number().describe('Position of the record in the request (blank NDJSON lines skipped)'),
      eventId: z.string().optional(),
      rules: z.array(z.string()),
      messages: z.array(z.string()),
    }),
  ),
  duplicateRecords: z.array(z.object({ index: z.number(), eventId: z.string() })),
});

export const ingestRoutes: FastifyPluginAsyncZod<{ ingestor?: Ingestor; maxBodyBytes: number }> = async (
  app,
  { ingestor, maxBodyBytes },
) => {
  // Each line is a record: its bytes go through the gate (and to Kafka) as they came.
  app.addContentTypeParser(
    'application/x-ndjson',
    { parseAs: 'buffer', bodyLimit: maxBodyBytes },
    (_r, body, done) => done(null, body),
  );

  app.post(
    '/v1/events',
    {
      bodyLimit: maxBodyBytes,
      schema: {
        summary: 'Ingest events: one JSON object, a JSON array, or NDJSON (application/x-ndjson)',
        description:
          'Every record runs through the quality gate. Accepted events go to the events topic keyed by ' +
          'userId, rejected ones to quarantine with their reasons; 202 once Kafka acknowledged both. ' +
          'A repeated eventId within one request is produced once (counted in `duplicates`); across ' +
          'requests the consumers remove duplicates. 413 past the size limit, 400 for a body that is not ' +
          'JSON (nothing is produced), 503 with Retry-After when Kafka does not take the records: then ' +
          'nothing in the request counts as accepted, and sending it again is safe.',
        tags: ['ingest'],
        response: { 202: IngestAnswer, 400: ErrorBody, 413: ErrorBody, 415: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      if (!ingestor)
        throw new ApiError(503, 'ingest_unavailable', 'this instance has no Kafka configured for ingest');
      const records = Buffer.isBuffer(request.body) ? splitLines(request.body) : jsonRecords(request.body);
      if (records.length === 0) throw new ApiError(400, 'invalid_request', 'the body holds no records');
      try {
        return reply.code(202).send(await ingestor.ingest(request.id, records));
      } catch (error) {
        if (error instanceof ApiError && error.status === 503)
          reply.header('Retry-After', String(RETRY_AFTER_SECONDS));
        throw error;
      }
    },
  );
};
