// Every error leaves the API as `{ "error": { "code", "message", "details"? } }` with a stable code
// and an HTTP status; stack traces and engine internals only reach the log.
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: unknown) =>
  new ApiError(400, 'invalid_request', message, details);
export const notFound = (message: string) => new ApiError(404, 'not_found', message);

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().describe('Stable, machine-readable: invalid_request, not_found, sql_refused, ...'),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .describe('Every error response');

export const errorBody = (code: string, message: string, details?: unknown) => ({
  error: { code, message, ...(details === undefined ? {} : { details }) },
});

/** Fastify's own client errors, by their code. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
};

type Issue = { instancePath?: string; message?: string; params?: { issue?: { path?: PropertyKey[] } } };

function describeValidation(error: FastifyError): {
  message: string;
  issues: { path: string; message: string }[];
} {
  const where = error.validationContext ?? 'request';
  const issues = ((error.validation ?? []) as Issue[]).map((issue) => {
    const path =
      issue.params?.issue?.path?.map(String).join('.') ??
      issue.instancePath?.replace(/^\//, '').replace(/\//g, '.') ??
      '';
    return { path: [where, path].filter(Boolean).join('.'), message: issue.message ?? 'invalid' };
  });
  return { message: issues.map((i) => `${i.path}: ${i.message}`).join('; ') || error.message, issues };
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ApiError) {
      return reply.code(error.status).send(errorBody(error.code, error.message, error.details));
    }
    if (hasZodFastifySchemaValidationErrors(error) || error.validation) {
      const { message, issues } = describeValidation(error);
      return reply.code(400).send(errorBody('invalid_request', message, { issues }));
    }
    if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return reply
        .code(400)
        .send(errorBody('malformed_json', `the body is not valid JSON: ${error.message}`));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = FASTIFY_CODES[error.code] ?? 'invalid_request';
      return reply.code(status).send(errorBody(code, error.message));
    }
    request.log.error({ err: error }, 'request failed');
    return reply
      .code(500)
      .send(errorBody('internal', `internal error; the server log has the details (request ${request.id})`));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}
