import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  buildDimensions,
  MAX_JSON_DEPTH,
  MAX_STORABLE_TIME_MS,
  storableProblem,
  type TidewaterEvent,
} from '../contracts/index.ts';
import {
  BAD_KINDS,
  type BadKind,
  type GeneratedRecord,
  type GenerateOptions,
  GroundTruth,
  generate,
} from '../generator/index.ts';
import { compiledContract, contractCheck } from '../quality/contract.ts';
import { EventTimeParser } from '../quality/event-time.ts';
import {
  createGate,
  createQualityMetrics,
  DEFAULT_ALLOWED_LATENESS_MINUTES,
  DedupWindow,
  FileReportStore,
  type GateOptions,
  type GateResult,
  type RawMessage,
  VOLUME_RULE,
  WindowReporter,
} from '../quality/index.ts';
import { isZodUuid, ZOD_UUID_PATTERN } from '../quality/uuid.ts';

const START = Date.UTC(2025, 0, 1);
const RATE = 1000;
const MINUTE = 60_000;
const dimensions = buildDimensions();

/** Any stable function of the key keeps a user's duplicates in one partition, as Kafka's does. */
const partitionOf = (key: string) => key.charCodeAt(key.length - 1) % 4;

/** Records as Kafka would hand them over, arriving on time: position i at START + i / RATE. */
function toMessages(records: Iterable<GeneratedRecord>): RawMessage[] {
  return [...records].map((record, i) => ({
    topic: 'events',
    partition: partitionOf(record.key),
    offset: String(i),
    key: Buffer.from(record.key),
    value: record.value,
    timestamp: START + Math.floor((i * 1000) / RATE),
  }));
}

function message(event: TidewaterEvent, timestamp: number, partition = 0): RawMessage {
  return {
    topic: 'events',
    partition,
    offset: '0',
    key: Buffer.from(event.userId),
    value: Buffer.from(JSON.stringify(event)),
    timestamp,
  };
}

const goodEvents = (count: number, seed = 7) =>
  [...generate({ count, seed })].map((record) => record.event as TidewaterEvent);

const gate = (options: GateOptions = {}) =>
  createGate({ dimensions, now: () => START + 365 * 86_400_000, ...options });

function expectBalanced(result: GateResult, batchSize: number): void {
  expect(result.accepted.length + result.rejected.length + result.duplicates).toBe(batchSize);
  expect(result.report.in).toBe(batchSize);
  expect(result.report.accepted + result.report.rejected + result.report.duplicates).toBe(batchSize);
}

/** The rule that must catch each kind of corrupt record the generator injects. */
const EXPECTED_RULE: Record<BadKind, string> = {
  invalid_json: 'decode',
  wrong_type: 'contract',
  missing_field: 'contract',
  // The contract's MinorUnits (int >= 0) fires first and short-circuits money.non_negative.
  negative_amount: 'contract',
  unknown_event_type: 'contract',
  // Contract-valid id shape, absent from the catalog.
  unknown_product: 'ref.product_exists',
  oversized_payload: 'contract',
};

describe('bad records', () => {
  for (const engine of ['compiled', 'zod'] as const) {
    it.each(BAD_KINDS)(`%s ends rejected by its rule (${engine})`, (kind) => {
      const batch = toMessages(generate({ count: 300, badFraction: 1, badKinds: [kind] }));
      const result = gate({ engine }).run(batch);
      expectBalanced(result, batch.length);
      expect(result.accepted).toHaveLength(0);
      for (const record of result.rejected) {
        expect(record.failures.map((failure) => failure.ruleId)).toContain(EXPECTED_RULE[kind]);
        // Every reason leads with the field it is about.
        for (const failure of record.failures) expect(failure.message).toMatch(/^[\w.[\]()]+: /);
        expect(record.rejectedAt).toBe(START + 365 * 86_400_000);
      }
    });
  }

  it('names the field of a contract failure and of a referential failure', () => {
    const [event] = goodEvents(1);
    const broken = structuredClone(event) as TidewaterEvent & { payload: Record<string, unknown> };
    broken.payload.url = 42;
    const result = gate().run([message(broken, START)]);
    expect(result.rejected[0]?.failures[0]?.message).toMatch(/^payload\.\w+: /);

    const order = goodEvents(5000).find((candidate) => candidate.eventType === 'order.created');
    if (order?.eventType !== 'order.created') throw new Error('no order generated');
    const lines = order.payload.lines.map((line) => ({ ...line, productId: 'P999998' }));
    const unknown = { ...order, payload: { ...order.payload, lines } };
    const [failure] = gate().run([message(unknown, START)]).rejected[0]?.failures ?? [];
    expect(failure?.ruleId).toBe('ref.product_exists');
    expect(failure?.message).toMatch(
      /^payload\.lines\[0\]\.productId: "P999998" is not in the product dimension/,
    );
  });

  it('records every failed rule of a record, not only the first', () => {
    const order = goodEvents(5000).find((candidate) => candidate.eventType === 'order.created');
    if (order?.eventType !== 'order.created') throw new Error('no order generated');
    const bad = {
      ...order,
      payload: {
        ...order.payload,
        storeId: 'S9999',
        currency: 'XXX',
        totalMinor: order.payload.totalMinor + 1,
      },
    };
    const ids = gate()
      .run([message(bad, START)])
      .rejected[0]?.failures.map((failure) => failure.ruleId);
    expect(ids).toEqual(['ref.store_exists', 'currency.supported', 'order.total_matches_lines']);
  });

  it('rejects a tombstone and an over-size value before parsing', () => {
    const [event] = goodEvents(1);
    const empty = { ...message(event as TidewaterEvent, START), value: null };
    const huge = { ...message(event as TidewaterEvent, START), value: Buffer.alloc(20_000, 32) };
    const result = gate().run([empty, huge]);
    expect(result.rejected.map((record) => record.failures[0]?.ruleId)).toEqual(['decode', 'decode']);
  });
});

describe('what no sink could store as sent', () => {
  const [page] = goodEvents(1) as [TidewaterEvent];
  const order = goodEvents(5000).find((candidate) => candidate.eventType === 'order.created');
  if (order?.eventType !== 'order.created') throw new Error('no order generated');
  const json = JSON.stringify(page);
  /** Verdicts on texts made from a good page view, in order: the rule, or 'accepted'. */
  const verdicts = (texts: readonly (string | Buffer)[]) => {
    const batch = texts.map((text, i) => ({
      ...message(page, START),
      offset: String(i),
      value: Buffer.isBuffer(text) ? text : Buffer.from(text),
    }));
    const result = gate().run(batch);
    expectBalanced(result, batch.length);
    const rules = new Map(result.rejected.map((r) => [r.source.offset, r.failures.map((f) => f.ruleId)]));
    return batch.map((m) => rules.get(m.offset)?.join() ?? 'accepted');
  };
  /** The page view with `raw` as the JSON text of its userId. */
  const withUser = (raw: string) =>
    json.replace(`"userId":${JSON.stringify(page.userId)}`, `"userId":${raw}`);
  const withExtra = (extra: string) => `${json.slice(0, -1)},"extra":${extra}}`;

  it('refuses lone surrogates, escaped or stripped, and keeps pairs and NUL', () => {
    expect(
      verdicts([
        withUser('"a\\ud800b"'),
        withUser('"\\udc00"'),
        withExtra('"\\ud83d"'),
        withExtra('{"k\\udfff":1}'),
        withUser('"a\\ud83d\\ude00b"'),
        withUser('"a\\u0000b"'),
      ]),
    ).toEqual(['storable', 'storable', 'storable', 'storable', 'accepted', 'accepted']);
    const [lone] = gate().run([
      { ...message(page, START), value: Buffer.from(withExtra('"\\ud800"')) },
    ]).rejected;
    expect(lone?.failures[0]?.message).toMatch(/^\(root\): a lone UTF-16 surrogate \\ud800 at character \d+/);
  });

  it('refuses bytes that are not UTF-8, naming the first bad byte, and a byte order mark', () => {
    const bad = Buffer.from(json);
    const at = bad.indexOf('"userId":"') + 10;
    bad[at] = 0xff;
    const overlong = Buffer.concat([
      Buffer.from(json.slice(0, 20)),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from(json.slice(20)),
    ]);
    const surrogate = Buffer.concat([
      Buffer.from(json.slice(0, 20)),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from(json.slice(20)),
    ]);
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]);
    const result = gate().run(
      [bad, overlong, surrogate, bom].map((value, i) => ({
        ...message(page, START),
        offset: String(i),
        value,
      })),
    );
    expect(result.rejected.map((r) => r.failures[0]?.message)).toEqual([
      `(root): not valid UTF-8 (byte ${at})`,
      '(root): not valid UTF-8 (byte 20)',
      '(root): not valid UTF-8 (byte 20)',
      expect.stringMatching(/^\(root\): invalid JSON/),
    ]);
  });

  it('refuses nesting deeper than MAX_JSON_DEPTH and prototype keys anywhere, and nothing else', () => {
    const nest = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
    const manyLines = {
      ...order,
      payload: { ...order.payload, lines: Array(40).fill(order.payload.lines[0]) },
    };
    manyLines.payload.totalMinor =
      40 * manyLines.payload.lines[0].quantity * manyLines.payload.lines[0].unitPriceMinor;
    expect(
      verdicts([
        withExtra(nest(MAX_JSON_DEPTH)), // root object + 32 = 33 levels
        withExtra(nest(MAX_JSON_DEPTH - 1)),
        withExtra(nest(5000)),
        withExtra('{"__proto__":{"polluted":true}}'),
        `{"constructor":{"prototype":{}},${json.slice(1)}`,
        withExtra('{"a":[{"\\u005f_proto__":1}]}'),
        withExtra('"__proto__ and constructor as values"'),
        withExtra('{"a constructor":"b", "__proto__x":1}'),
        JSON.stringify(manyLines),
      ]),
    ).toEqual([
      'decode',
      'accepted',
      'decode',
      'decode',
      'decode',
      'decode',
      'accepted',
      'accepted',
      'accepted',
    ]);
  });

  it('refuses numbers the raw rows cannot hold exactly and event times the rollups cannot bucket', () => {
    const line = order.payload.lines[0] as (typeof order.payload.lines)[number];
    const big = (quantity: number, unitPriceMinor: number, count = 1) => {
      const lines = Array.from({ length: count }, () => ({ ...line, quantity, unitPriceMinor }));
      return JSON.stringify({ ...order, payload: { ...order.payload, lines, totalMinor: 0 } });
    };
    const cart = goodEvents(5000).find((candidate) => candidate.eventType === 'cart.add') as TidewaterEvent;
    const at = (eventTime: string) => JSON.stringify({ ...page, eventTime });
    const rules = verdicts([
      big(3, 2 ** 52), // 3 × 2^52 > 2^53 - 1
      big(2 ** 52, 1, 3), // each line fine, units 3 × 2^52
      JSON.stringify({ ...cart, payload: { ...cart.payload, quantity: 2 ** 20, unitPriceMinor: 2 ** 30 } }),
      at('1969-12-31T23:59:59.999Z'),
      at('0001-01-01T00:00:00Z'),
      at('1970-01-01T00:00:00Z'),
    ]);
    expect(rules.slice(0, 3)).toEqual(['storable', 'storable', 'accepted']);
    expect(rules.slice(3)).toEqual(['storable', 'storable', 'accepted']);
    const [revenue] = gate().run([{ ...message(page, START), value: Buffer.from(big(3, 2 ** 52)) }]).rejected;
    expect(revenue?.failures[0]?.message).toMatch(
      /^payload\.lines\[0\]: quantity × unitPriceMinor = \d+ exceeds 9007199254740991/,
    );
    expect(storableProblem(page, MAX_STORABLE_TIME_MS)).toBeUndefined();
    expect(storableProblem(page, MAX_STORABLE_TIME_MS + 1)).toMatch(/^eventTime: .* outside 1970/);
  });

  it('names a rejected record only with fields short enough to be ids', () => {
    const bad = JSON.stringify({
      ...page,
      eventId: 'x'.repeat(300),
      eventType: 7,
      eventTime: 'y'.repeat(300),
    });
    const [record] = gate().run([{ ...message(page, START), value: Buffer.from(bad) }]).rejected;
    expect(record?.failures[0]?.ruleId).toBe('contract');
    expect(record).toMatchObject({ eventId: undefined, eventType: undefined, eventTime: undefined });
    const named = JSON.stringify({ ...page, eventType: 'nope' });
    expect(gate().run([{ ...message(page, START), value: Buffer.from(named) }]).rejected[0]).toMatchObject({
      eventId: page.eventId,
      eventType: 'nope',
    });
  });
});

describe('good traffic', () => {
  it('passes every good event without warnings', () => {
    const batch = toMessages(generate({ count: 20_000, seed: 3 }));
    const result = gate().run(batch);
    expect(result.rejected.map((record) => record.failures)).toEqual([]);
    expect(result.accepted).toHaveLength(batch.length);
    expect(result.accepted.filter((record) => record.warnings.length > 0)).toEqual([]);
  });

  it('splits a mixed stream exactly as the generator ground truth says', () => {
    const options: GenerateOptions = {
      count: 60_000,
      seed: 11,
      lateFraction: 0.03,
      maxLatenessMinutes: 30,
      duplicateFraction: 0.02,
      badFraction: 0.02,
    };
    const truth = new GroundTruth();
    for (const record of generate(options)) truth.add(record);
    const { totals } = truth.toJSON();
    const messages = toMessages(generate(options));
    const allowedMs = DEFAULT_ALLOWED_LATENESS_MINUTES * MINUTE;
    const expectedLate = [...generate(options)].filter((record, i) => {
      const arrival = messages[i]?.timestamp ?? Number.NaN;
      return record.kind === 'good' && arrival - Date.parse(record.event?.eventTime ?? '') > allowedMs;
    }).length;

    const g = gate();
    const sum = { accepted: 0, rejected: 0, duplicates: 0, late: 0 };
    for (let from = 0; from < messages.length; from += 1_000) {
      const batch = messages.slice(from, from + 1_000);
      const result = g.run(batch);
      expectBalanced(result, batch.length);
      sum.accepted += result.accepted.length;
      sum.rejected += result.rejected.length;
      sum.duplicates += result.duplicates;
      sum.late += result.report.late;
    }
    expect(sum).toEqual({
      accepted: totals.good,
      rejected: totals.bad,
      duplicates: totals.duplicates,
      late: expectedLate,
    });
    expect(expectedLate).toBeGreaterThan(0);
  });
});

describe('freshness', () => {
  const [event] = goodEvents(1) as [TidewaterEvent];
  const arrival = START + 60 * MINUTE;
  const at = (offsetMs: number) => ({ ...event, eventTime: new Date(arrival + offsetMs).toISOString() });

  it('flags late events but keeps them, and quarantines events from the future', () => {
    const result = gate({ now: () => arrival, allowedLatenessMinutes: 15, clockSkewSeconds: 120 }).run(
      [-16 * MINUTE, -14 * MINUTE, 90_000, 5 * MINUTE].map((offset, i) => ({
        ...message({ ...at(offset), eventId: crypto.randomUUID() }, arrival),
        offset: String(i),
      })),
    );
    expect(result.accepted.map((record) => [record.source.offset, record.late])).toEqual([
      ['0', true],
      ['1', false],
      ['2', false],
    ]);
    expect(result.rejected.map((record) => [record.source.offset, record.failures[0]?.ruleId])).toEqual([
      ['3', 'event.time_not_in_future'],
    ]);
    expect(result.report.late).toBe(1);
  });

  it('caps arrival at its clock, so a producer clock ahead cannot vouch for its own events', () => {
    const ahead = arrival + 10 * MINUTE;
    const record = message({ ...event, eventTime: new Date(ahead).toISOString() }, ahead);
    expect(gate({ now: () => arrival }).run([record]).rejected[0]?.failures[0]?.ruleId).toBe(
      'event.time_not_in_future',
    );
    expect(gate({ now: () => ahead }).run([record]).accepted).toHaveLength(1);
  });
});

describe('event time', () => {
  it('parses as Date.parse does, canonical or not', () => {
    const parser = new EventTimeParser();
    const base = Date.UTC(2025, 5, 30, 23, 59, 58);
    for (let ms = 0; ms < 5_000; ms += 7) {
      const canonical = new Date(base + ms).toISOString();
      expect(parser.parse(canonical)).toBe(base + ms);
    }
    for (const text of [
      '2025-01-01T00:00:00Z',
      '2025-01-01T02:00:00.5+02:00',
      '2025-01-01T00:00:00.123456Z',
    ]) {
      expect(parser.parse(text)).toBe(Date.parse(text));
    }
  });
});

describe('dedup', () => {
  const events = goodEvents(10, 5);
  const first = events[0] as TidewaterEvent;

  it('drops a repeat within and across batches; the first occurrence wins', () => {
    const g = gate();
    const one = g.run([message(first, START), message({ ...first, userId: 'U-copy' }, START + 1)]);
    expect(one.accepted.map((record) => record.event.userId)).toEqual([first.userId]);
    expect(one.duplicateRecords.map((record) => record.eventId)).toEqual([first.eventId]);
    const two = g.run([message(first, START + 2), message(events[1] as TidewaterEvent, START + 3)]);
    expect(two.duplicates).toBe(1);
    expect(two.accepted).toHaveLength(1);
    expect(two.report.byEventType[first.eventType]?.duplicates).toBe(1);
  });

  it('is keyed by source partition and can be pre-seeded with remember()', () => {
    const g = gate();
    g.remember([first.eventId], { topic: 'events', partition: 2 });
    expect(g.run([message(first, START, 2)]).duplicates).toBe(1);
    expect(g.run([message(first, START, 3)]).duplicates).toBe(0);
  });

  it('does not remember rejected records, so a fixed replay is not a duplicate', () => {
    const g = gate();
    const broken = { ...first, payload: { ...first.payload, productId: 'P999999' } } as TidewaterEvent;
    expect(g.run([message(broken, START)]).rejected).toHaveLength(1);
    expect(g.run([message(first, START)]).accepted).toHaveLength(1);
  });

  it('forgets the oldest ids beyond the window size', () => {
    const g = gate({ dedupWindow: 2 });
    g.run(events.slice(0, 3).map((event) => message(event, START)));
    // The window holds events 1 and 2 now; event 0 was evicted.
    const again = g.run([1, 2, 0].map((i) => message(events[i] as TidewaterEvent, START)));
    expect(again.accepted.map((record) => record.event.eventId)).toEqual([first.eventId]);
    expect(again.duplicates).toBe(2);
  });

  it('window agrees with a reference FIFO set under eviction, case-insensitively', () => {
    const window = new DedupWindow(50);
    const pool = Array.from({ length: 200 }, () => crypto.randomUUID());
    const order: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const id = pool[(i * 7919) % pool.length] as string;
      const expectedNew = !order.includes(id);
      expect(window.add(i % 2 === 0 ? id : id.toUpperCase())).toBe(expectedNew);
      if (expectedNew) {
        order.push(id);
        if (order.length > 50) order.shift();
      }
      expect(window.size).toBe(order.length);
    }
    expect(() => window.add('not-a-uuid')).toThrow(TypeError);
  });
});

describe('contract engines', () => {
  const ajvAccepts = compiledContract();
  const zod = contractCheck('zod');
  const agree = (json: unknown) => {
    const zodResult = zod(structuredClone(json));
    const accepted = !('issues' in (zodResult as object));
    expect(ajvAccepts(structuredClone(json)), JSON.stringify(json).slice(0, 300)).toBe(accepted);
  };

  it('agree on a generated sample of good and bad records', () => {
    let checked = 0;
    for (const record of generate({ count: 6_000, seed: 21, badFraction: 0.5 })) {
      let json: unknown;
      try {
        json = JSON.parse(record.value.toString('utf8'));
      } catch {
        continue;
      }
      agree(json);
      checked++;
    }
    expect(checked).toBeGreaterThan(5_000);
  });

  it('agree where JSON Schema and zod could differ', () => {
    const [event] = goodEvents(1) as [TidewaterEvent];
    const variants: unknown[] = [
      // Astral characters: 40 and 64 code points (80 and 128 UTF-16 units) pass a 64 limit, 65 do not.
      { ...event, userId: '\u{1F600}'.repeat(40) },
      { ...event, userId: '\u{1F600}'.repeat(64) },
      { ...event, userId: '\u{1F600}'.repeat(65) },
      { ...event, eventId: event.eventId.toUpperCase() },
      { ...event, eventId: 'not-a-uuid' },
      { ...event, eventTime: '2025-01-01T00:00:00+02:00' },
      { ...event, eventTime: '2025-01-01T00:00Z' },
      { ...event, eventTime: '2025-02-30T00:00:00Z' },
      { ...event, metadata: { ...event.metadata, schemaVersion: 1.5 } },
      { ...event, metadata: { ...event.metadata, schemaVersion: 2 ** 53 } },
      { ...event, metadata: { ...event.metadata, schemaVersion: 0 } },
      JSON.parse(JSON.stringify(event).replace('"schemaVersion":1', '"schemaVersion":1e400')),
      { ...event, extra: 'unknown keys are allowed' },
      { ...event, sessionId: '\ud800' },
      { ...event, eventType: 'no.such.type' },
      null,
      [event],
      'a string',
    ];
    for (const variant of variants) agree(variant);
  });

  it('check UUIDs exactly as the regex zod exports for them', () => {
    expect((z.toJSONSchema(z.uuid()) as { pattern?: string }).pattern).toBe(ZOD_UUID_PATTERN);
    const regex = new RegExp(ZOD_UUID_PATTERN);
    const sample = crypto.randomUUID();
    const ids = [
      sample,
      '00000000-0000-0000-0000-000000000000',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
      'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
    ];
    const variants = ids.flatMap((id) => [id, id.toUpperCase(), `${id}0`, id.slice(1), ` ${id.slice(1)}`]);
    // Every position of a UUID replaced by each character that could matter to either check.
    const alphabet = '0123456789abcdefABCDEFgG-_ \n\u0000\u00e9\u{1F600}';
    for (let at = 0; at < 36; at++) {
      for (const char of alphabet) variants.push(sample.slice(0, at) + char + sample.slice(at + 1));
    }
    let matched = 0;
    for (const id of variants) {
      expect(isZodUuid(id), id).toBe(regex.test(id));
      if (regex.test(id)) matched++;
    }
    expect(matched).toBeGreaterThan(100);
    expect(matched).toBeLessThan(variants.length - 100);
  });

  it('yield the same event, unknown keys stripped', () => {
    const [event] = goodEvents(1) as [TidewaterEvent];
    const withExtras = { ...event, extra: 1, payload: { ...event.payload, extra: 2 } };
    expect(contractCheck('compiled')(structuredClone(withExtras))).toEqual(zod(structuredClone(withExtras)));
    expect(contractCheck('compiled')(structuredClone(withExtras))).toEqual(event);
  });
});

describe('window reports', () => {
  const events = goodEvents(3_000, 9);
  let used = 0;
  /** A gate result with `count` records arriving in minute `minute`. */
  function minuteOf(g: ReturnType<typeof gate>, minute: number, count: number): GateResult {
    const batch = events
      .slice(used, used + count)
      .map((event) => message(event, START + minute * MINUTE + 1));
    used += count;
    return g.run(batch);
  }

  it('warns when a minute falls below half the trailing mean, never before enough history', () => {
    const g = gate();
    const reporter = new WindowReporter({ now: () => START + 365 * 86_400_000 });
    const counts = [10, 100, 100, 100, 100, 100, 100, 40, 60, 0, 100, 100];
    const reports = counts.flatMap((count, minute) => reporter.add(minuteOf(g, minute, count)));
    reports.push(...reporter.flush());
    expect(reports.map((report) => report.in)).toEqual(counts);
    const warned = reports.map((report) => report.expectations.map((result) => result.ruleId));
    // Minute 0 is tiny but has no history; 7 (40 < 0.5 * ~87) and 9 (empty) warn; 8 (60) does not.
    expect(warned).toEqual([[], [], [], [], [], [], [], [VOLUME_RULE], [], [VOLUME_RULE], [], []]);
    expect(reports[7]?.expectations[0]?.severity).toBe('warn');
    expect(reports[3]?.minute).toBe(new Date(START + 3 * MINUTE).toISOString());
  });
});

describe('stores and metrics', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tidewater-reports-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores batch and window reports per day and lists them by time range', async () => {
    const store = new FileReportStore(dir);
    const day = 86_400_000;
    const batches = [0, day + 5, 2 * day + 7].map((offset) => {
      const g = gate({ now: () => START + offset });
      return g.run(toMessages(generate({ count: 20 }))).report;
    });
    const reporter = new WindowReporter({ now: () => START + 365 * day });
    const windows = reporter.add(gate().run(toMessages(generate({ count: 20 }))));
    windows.push(...reporter.flush());
    await store.append([...batches, ...windows]);
    expect(await store.list()).toHaveLength(batches.length + windows.length);
    const middle = await store.list({ from: START + day, to: START + 2 * day });
    expect(middle).toEqual([batches[1]]);
    expect(await store.list({ kind: 'window' })).toEqual(windows);
    expect(await new FileReportStore(join(dir, 'missing')).list()).toEqual([]);
  });

  it('exports outcome, rule, duplicate, late and bad-share metrics', async () => {
    const registry = new Registry();
    const metrics = createQualityMetrics(registry);
    const g = gate({ metrics });
    const batch = toMessages(generate({ count: 2_000, badFraction: 0.1, duplicateFraction: 0.05 }));
    const result = g.run(batch);
    const reporter = new WindowReporter({ metrics, now: () => START + 365 * 86_400_000 });
    reporter.add(result);
    reporter.flush();
    const text = await registry.metrics();
    expect(text).toMatch(/tidewater_quality_records_total\{outcome="accepted",event_type="page.view"\} \d+/);
    expect(text).toMatch(/tidewater_quality_rule_failures_total\{rule_id="contract"\} \d+/);
    expect(text).toContain(`tidewater_quality_duplicates_total ${result.duplicates}`);
    expect(text).toMatch(/tidewater_quality_bad_share 0\.\d+/);
  });
});
