// Errors as a ClickHouse server sends them over HTTP: the status its clients expect for the code,
// `X-ClickHouse-Exception-Code`, and a body `Code: N. DB::Exception: <message>. (NAME) (version V)`
// that every ClickHouse driver parses. A message never carries a trace or SQL of ours.
import { ApiError } from '../errors.ts';

export class ClickHouseError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
  ) {
    super(message);
  }
}

/** HTTP statuses of the codes answered here, as ClickHouse's HTTP handler maps them (else 500). */
const STATUS: Record<number, number> = {
  516: 401, // AUTHENTICATION_FAILED
  164: 403, // READONLY
  497: 403, // ACCESS_DENIED
  358: 403, // INTO_OUTFILE_NOT_ALLOWED
  62: 400, // SYNTAX_ERROR
  36: 400, // BAD_ARGUMENTS
  115: 400, // UNKNOWN_SETTING
  73: 400, // UNKNOWN_FORMAT
  456: 400, // UNKNOWN_QUERY_PARAMETER
  60: 404, // UNKNOWN_TABLE
  81: 404, // UNKNOWN_DATABASE
  46: 404, // UNKNOWN_FUNCTION
  47: 404, // UNKNOWN_IDENTIFIER
  48: 501, // NOT_IMPLEMENTED
  201: 429, // QUOTA_EXCEEDED
  202: 503, // TOO_MANY_SIMULTANEOUS_QUERIES
};

/** API errors of ours that have no engine code, and the ClickHouse code closest to them. */
const API_CODES: Record<string, [number, string]> = {
  sql_busy: [202, 'TOO_MANY_SIMULTANEOUS_QUERIES'],
  sql_unavailable: [210, 'NETWORK_ERROR'],
  sql_unknown_format: [73, 'UNKNOWN_FORMAT'],
  sql_refused: [164, 'READONLY'],
  sql_timeout: [159, 'TIMEOUT_EXCEEDED'],
  sql_too_expensive: [241, 'MEMORY_LIMIT_EXCEEDED'],
  rate_limited: [201, 'QUOTA_EXCEEDED'],
  payload_too_large: [22, 'QUERY_IS_TOO_LARGE'],
};

/** Any failure of a request as a ClickHouseError; a failure no client caused as undefined. */
export function asClickHouseError(error: unknown): ClickHouseError | undefined {
  if (error instanceof ClickHouseError) return error;
  if (error instanceof ApiError) {
    const details = error.details as { clickhouseCode?: number; clickhouseName?: string } | undefined;
    if (details?.clickhouseCode !== undefined)
      return new ClickHouseError(
        details.clickhouseCode,
        details.clickhouseName ?? 'UNKNOWN_EXCEPTION',
        error.message,
      );
    const [code, name] = API_CODES[error.code] ?? [36, 'BAD_ARGUMENTS'];
    if (error.status < 500 || error.code in API_CODES) return new ClickHouseError(code, name, error.message);
  }
  const status = (error as { statusCode?: number }).statusCode;
  if (status !== undefined && status >= 400 && status < 500)
    return new ClickHouseError(36, 'BAD_ARGUMENTS', (error as Error).message);
  return undefined;
}

export const statusOf = (error: ClickHouseError) => STATUS[error.code] ?? 500;

export function errorText(error: ClickHouseError, version: string): string {
  const message = error.message.replace(/\.\s*$/, '');
  return `Code: ${error.code}. DB::Exception: ${message}. (${error.codeName}) (version ${version})\n`;
}

/** Content types a ClickHouse server answers its formats with. */
export function contentTypeOf(format: string): string {
  if (/^(TSV|TabSeparated)/.test(format)) return 'text/tab-separated-values; charset=UTF-8';
  if (/^CSV/.test(format))
    return `text/csv; charset=UTF-8; header=${/WithNames/.test(format) ? 'present' : 'absent'}`;
  if (/EachRow|JSONLines|NDJSON/.test(format)) return 'application/x-ndjson; charset=UTF-8';
  if (/^JSON/.test(format)) return 'application/json; charset=UTF-8';
  if (format === 'XML') return 'application/xml; charset=UTF-8';
  if (/^(Pretty|Vertical|Markdown|Values|TSKV|Null)/.test(format)) return 'text/plain; charset=UTF-8';
  return 'application/octet-stream';
}
