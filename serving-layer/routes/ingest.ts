// POST /v1/events: producers without a Kafka client send events over HTTP.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError, ErrorBody } from '../errors.ts';
import { type Ingestor, jsonRecords, RETRY_AFTER_SECONDS, splitLines } from '../ingest.ts';

/** `application/json`, with or without parameters (`; charset=utf-8`). */
const isJson = (type: string | undefined) => type?.split(';')[0]?.trim().toLowerCase() === 'application/json';

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
  // Both formats arrive as bytes and take one path: each record (an NDJSON line, a JSON array's
  // item) goes through the gate, and on to Kafka, as the bytes it came as. Fastify's own JSON parser
  // would re-serialize records (JSON.stringify recurses: a deep body crashed it) and refuse prototype
  // keys for a whole request where NDJSON let them through; its text/plain parser would take a body
  // the README promises 415 for. Both are replaced in this plugin only.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['application/x-ndjson', 'application/json'],
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
          'requests the consumers remove duplicates. A record that is not UTF-8 or not JSON, nests deeper ' +
          'than 32 levels, holds a `__proto__` or `constructor` key or a value no sink can store is ' +
          'rejected with its reason, like any other. 413 past the size limit, 400 for a JSON body that is ' +
          'not JSON (nothing is produced), 415 for another content type, 503 with Retry-After when Kafka ' +
          'does not take the records: then nothing in the request counts as accepted, and sending it ' +
          'again is safe.',
        tags: ['ingest'],
        response: { 202: IngestAnswer, 400: ErrorBody, 413: ErrorBody, 415: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      if (!ingestor)
        throw new ApiError(503, 'ingest_unavailable', 'this instance has no Kafka configured for ingest');
      const body = request.body as Buffer;
      const records = isJson(request.headers['content-type']) ? jsonRecords(body) : splitLines(body);
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
