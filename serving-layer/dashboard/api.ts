// GET requests to the serving layer with the session's key. A 401 asks for a key and retries.

import type { Answer } from './answer.ts';
import { askForKey, KEY_HINT, storedKey } from './api-key.ts';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(path: string): Promise<T> {
  for (;;) {
    const key = storedKey();
    const response = await fetch(path, {
      headers: key ? { authorization: `Bearer ${key}` } : {},
      cache: 'no-store',
    });
    if (response.status === 401) {
      await askForKey(
        key ? `The server refused this key. ${KEY_HINT}` : `This server needs an API key. ${KEY_HINT}`,
      );
      continue;
    }
    if (!response.ok) {
      const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
      throw new HttpError(
        response.status,
        body?.error?.message ?? `${response.status} ${response.statusText}`,
      );
    }
    return (await response.json()) as T;
  }
}

export interface MetricRequest {
  metric: string;
  from: number;
  groupBy?: readonly string[];
  filter?: string;
  grain?: 'minute' | 'all';
  measures?: readonly string[];
  orderBy?: readonly string[];
  limit?: number;
}

export function metricParams(request: MetricRequest): URLSearchParams {
  const params = new URLSearchParams({ from: new Date(request.from).toISOString() });
  if (request.grain) params.set('grain', request.grain);
  if (request.groupBy?.length) params.set('groupBy', request.groupBy.join(','));
  if (request.filter) params.set('filter', request.filter);
  if (request.measures?.length) params.set('measures', request.measures.join(','));
  if (request.orderBy?.length) params.set('orderBy', request.orderBy.join(','));
  if (request.limit) params.set('limit', String(request.limit));
  return params;
}

export const getMetric = (request: MetricRequest): Promise<Answer> =>
  getJson<Answer>(`/v1/metrics/${encodeURIComponent(request.metric)}?${metricParams(request)}`);
