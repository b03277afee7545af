import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  avroSchemas,
  buildDimensions,
  CURRENT_VERSIONS,
  compatibilityViolations,
  decodeEvent,
  describeIssues,
  EVENT_TYPES,
  type EventAvroSchema,
  eventSchemaAt,
  fromAvro,
  type JsonSchemaNode,
  jsonSchemas,
  loadDimensions,
  MAX_EVENT_BYTES,
  PageViewEvent,
  REGIONS,
  TidewaterEvent,
  writeDimensions,
} from '../contracts/index.ts';
import { formatPath } from '../contracts/issues.ts';
import { CORRUPTIONS } from '../generator/bad-records.ts';
import { BAD_KINDS, generate } from '../generator/index.ts';

const records = [...generate({ seed: 11, count: 30_000 })];

describe('event contracts', () => {
  it('accept every good event type the generator emits', () => {
    const seen = new Set<string>();
    for (const record of records) {
      const result = decodeEvent(record.value);
      expect(result.ok ? [] : result.errors).toEqual([]);
      if (result.ok) seen.add(result.event.eventType);
    }
    expect([...seen].sort()).toEqual([...EVENT_TYPES].sort());
  });

  it('reject every bad kind with a reason that names the broken field', () => {
    const catalog = new Set(buildDimensions().products.map((product) => product.productId));
    const bad = [...generate({ seed: 5, count: 2000, badFraction: 1 })];
    expect(new Set(bad.map((record) => record.kind))).toEqual(new Set(BAD_KINDS));
    for (const record of bad) {
      const result = decodeEvent(record.value);
      if (record.kind === 'unknown_product') {
        // Contract-valid on purpose: only the referential rule in the quality layer catches it.
        expect(result.ok).toBe(true);
        const event = result.ok ? result.event : undefined;
        const productIds = JSON.stringify(event?.payload).match(/P\d{6}/g) ?? [];
        expect(productIds.some((productId) => !catalog.has(productId))).toBe(true);
        continue;
      }
      expect(result.ok).toBe(false);
      const errors = result.ok ? [] : result.errors;
      if (record.kind === 'invalid_json') {
        expect(errors[0]).toMatch(/^\(root\): invalid JSON/);
        continue;
      }
      const paths = CORRUPTIONS[record.kind as keyof typeof CORRUPTIONS].map((c) => formatPath(c.path));
      expect(errors.some((error) => paths.some((path) => error.startsWith(`${path}: `)))).toBe(true);
    }
  });

  it('describes issues with the full field path', () => {
    const order = records.find((record) => record.event?.eventType === 'order.created');
    const event = JSON.parse(String(order?.value));
    event.payload.lines[0].quantity = '2';
    const result = TidewaterEvent.safeParse(event);
    expect(result.success).toBe(false);
    if (!result.success) {
      expect(describeIssues(result.error)).toEqual([
        'payload.lines[0].quantity: Invalid input: expected number, received string',
      ]);
    }
  });

  it('refuses records over MAX_EVENT_BYTES before parsing them', () => {
    const result = decodeEvent(`{"pad":"${'x'.repeat(MAX_EVENT_BYTES)}"}`);
    expect(result).toEqual({ ok: false, errors: [expect.stringMatching(/exceeds MAX_EVENT_BYTES/)] });
  });
});

describe('schema versions', () => {
  const v1PageView = {
    eventId: '8f14e45f-ceea-467f-a8f1-4a3d2b1c0e9d',
    eventType: 'page.view',
    eventTime: '2025-01-01T12:00:00.000+01:00',
    userId: 'U0000001',
    sessionId: 's-1',
    payload: { url: '/', pageType: 'home' },
    metadata: { source: 'web', schemaVersion: 1 },
  };

  it('reads a v1 page.view under v2 and under the live union', () => {
    expect(CURRENT_VERSIONS['page.view']).toBe(2);
    expect(eventSchemaAt('page.view', 1).parse(v1PageView)).toEqual(v1PageView);
    expect(eventSchemaAt('page.view', 2).parse(v1PageView)).toEqual(v1PageView);
    expect(TidewaterEvent.parse(v1PageView)).toEqual(v1PageView);
  });

  it('lets a v1 reader take a v2 event, ignoring the added field', () => {
    const v2 = { ...v1PageView, payload: { ...v1PageView.payload, experimentId: 'exp-1' } };
    expect(eventSchemaAt('page.view', 1).parse(v2).payload).toEqual(v1PageView.payload);
    expect(PageViewEvent.parse(v2).payload.experimentId).toBe('exp-1');
  });

  it('only ever adds optional fields from one version to the next', () => {
    const schemas = jsonSchemas();
    expect(schemas.length).toBeGreaterThan(EVENT_TYPES.length);
    for (const type of EVENT_TYPES) {
      const versions = schemas.filter((entry) => entry.eventType === type);
      expect(versions.map((entry) => entry.version)).toEqual(
        Array.from({ length: CURRENT_VERSIONS[type] }, (_, i) => i + 1),
      );
      for (let i = 1; i < versions.length; i++) {
        const [previous, next] = [versions[i - 1]?.schema, versions[i]?.schema] as JsonSchemaNode[];
        expect(compatibilityViolations(previous ?? {}, next ?? {})).toEqual([]);
      }
    }
  });

  it('has an Avro schema per type and version that carries every generated event to the same event', () => {
    const latest = new Map(
      avroSchemas()
        .filter((s) => s.version === CURRENT_VERSIONS[s.eventType])
        .map((s) => [s.eventType, avro.Type.forSchema(s.schema as avro.Schema)]),
    );
    expect([...latest.keys()].sort()).toEqual([...EVENT_TYPES].sort());
    let checked = 0;
    for (const { event, value } of records) {
      if (event === undefined) continue;
      const type = latest.get(event.eventType) as avro.Type;
      // Absent optional fields are written as null.
      const written = type.toBuffer(type.clone(event));
      const read = fromAvro(type.fromBuffer(written));
      // As the JSON the producer sends; a nullable field sent as null comes back absent, which the
      // contract reads alike.
      expect(TidewaterEvent.parse(read)).toEqual(fromAvro(TidewaterEvent.parse(JSON.parse(String(value)))));
      checked++;
    }
    expect(checked).toBeGreaterThan(25_000);
  });

  it('Avro schemas of consecutive versions resolve (BACKWARD): a new reader reads the old writer', () => {
    const byType = new Map<string, EventAvroSchema[]>();
    for (const s of avroSchemas()) byType.set(s.eventType, [...(byType.get(s.eventType) ?? []), s]);
    const pageView = byType.get('page.view') ?? [];
    expect(pageView.map((s) => s.version)).toEqual([1, 2]);
    for (const versions of byType.values()) {
      for (let i = 1; i < versions.length; i++) {
        const writer = avro.Type.forSchema(versions[i - 1]?.schema as avro.Schema);
        const reader = avro.Type.forSchema(versions[i]?.schema as avro.Schema);
        expect(() => reader.createResolver(writer)).not.toThrow();
      }
    }
    const [v1, v2] = pageView.map((s) => avro.Type.forSchema(s.schema as avro.Schema)) as [
      avro.Type,
      avro.Type,
    ];
    const event = records.find((r) => r.event?.eventType === 'page.view')?.event as PageViewEvent;
    const { experimentId: _, ...v1Payload } = event.payload;
    const old = v1.toBuffer({ ...event, payload: { productId: null, referrer: null, ...v1Payload } });
    const read = fromAvro(v2.fromBuffer(old, v2.createResolver(v1))) as PageViewEvent;
    expect(read.payload).toEqual(v1Payload);
    expect(PageViewEvent.parse(read)).toEqual(read);
    // The check can fail: a reader whose new field has no default cannot read the old writer.
    const strict = JSON.parse(JSON.stringify(pageView[1]?.schema));
    const field = strict.fields.find((f: { name: string }) => f.name === 'payload').type.fields.at(-1);
    field.type = 'string';
    delete field.default;
    expect(() => avro.Type.forSchema(strict).createResolver(v1)).toThrow();
  });

  it('flags removed, renamed, retyped and newly required fields', () => {
    const v1: JsonSchemaNode = {
      type: 'object',
      properties: { payload: { type: 'object', properties: { url: { type: 'string' } }, required: ['url'] } },
      required: ['payload'],
    };
    const breaking = (payload: JsonSchemaNode) => ({ ...v1, properties: { payload } });
    expect(
      compatibilityViolations(
        v1,
        breaking({ type: 'object', properties: { href: { type: 'string' } }, required: ['href'] }),
      ),
    ).toEqual([
      '(root).payload.href: newly required',
      '(root).payload.url: no longer required',
      '(root).payload.url: removed',
    ]);
    expect(
      compatibilityViolations(
        v1,
        breaking({ type: 'object', properties: { url: { type: 'number' } }, required: ['url'] }),
      ),
    ).toEqual(['(root).payload.url: changed']);
    expect(
      compatibilityViolations(
        v1,
        breaking({
          type: 'object',
          properties: { url: { type: 'string' }, tag: { type: 'string' } },
          required: ['url'],
        }),
      ),
    ).toEqual([]);
  });
});

describe('dimensions', () => {
  const dimensions = buildDimensions(42);

  it('has at least 1000 stores over exactly 12 regions', () => {
    expect(dimensions.stores.length).toBeGreaterThanOrEqual(1000);
    expect(REGIONS).toHaveLength(12);
    expect(new Set(dimensions.stores.map((store) => store.region))).toEqual(new Set(REGIONS));
    expect(new Set(dimensions.products.map((product) => product.productId)).size).toBe(
      dimensions.products.length,
    );
    expect(dimensions.products.every((product) => Number.isInteger(product.priceMinor))).toBe(true);
    expect(dimensions.fulfilmentCentres.length).toBeGreaterThan(0);
  });

  it('is a pure function of the seed', () => {
    expect(buildDimensions(42)).toEqual(dimensions);
    expect(buildDimensions(43)).not.toEqual(dimensions);
  });

  it('round-trips through NDJSON files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tidewater-dims-'));
    try {
      await writeDimensions(dir, 42);
      expect(await loadDimensions(dir)).toEqual(dimensions);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
