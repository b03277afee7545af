// The lake builds its rows in DuckDB SQL (lake/event-rows.ts) while the speed layer runs toRawRows
// in JS: both must give exactly the same rows for every event the gate accepts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDimensions, indexDimensions, spellsExactly, TidewaterEvent } from '../contracts/index.ts';
import { toRawRows } from '../contracts/raw-rows.ts';
import { type Duck, openDuck } from '../duckdb/index.ts';
import { generate } from '../generator/index.ts';
import { EVENTS_SCHEMA, type LakeRow, stageAccepted } from '../lake/index.ts';
import { stageRows } from '../lake/parquet/stage.ts';
import type { AcceptedRecord } from '../quality/index.ts';

const dims = indexDimensions(buildDimensions());

const accepted = (
  event: TidewaterEvent,
  offset: number,
  value: string | Buffer = JSON.stringify(event),
): AcceptedRecord => ({
  source: {
    topic: 'events',
    partition: offset % 3,
    offset: String(offset),
    key: null,
    value: Buffer.from(value),
    timestamp: 0,
  },
  event,
  eventTimeMs: Date.parse(event.eventTime),
  late: false,
  warnings: [],
});

/** What toRawRows gives, with the source and the original bytes as the events table keeps them. */
const jsRows = (records: readonly AcceptedRecord[]): LakeRow[] =>
  records.flatMap(({ source, event }) =>
    toRawRows(event, dims).map((row, i) => ({
      ...row,
      source_partition: source.partition,
      source_offset: Number(source.offset),
      event: i === 0 ? (source.value?.toString('utf8') ?? null) : null,
    })),
  );

/** Generated traffic of every event type, plus edge cases the generator does not produce. */
function records(): AcceptedRecord[] {
  const events: TidewaterEvent[] = [];
  for (const r of generate({ count: 20_000, seed: 7, rate: 50, start: Date.UTC(2025, 0, 1, 23, 50) })) {
    if (r.event) events.push(r.event);
  }
  const first = <T extends TidewaterEvent['eventType']>(type: T) =>
    structuredClone(events.find((e) => e.eventType === type) as Extract<TidewaterEvent, { eventType: T }>);
  const order = first('order.created');
  order.eventTime = '2025-01-02T01:30:00.123456+02:00'; // offset and sub-millisecond digits
  order.payload.lines.push({ productId: 'P999999', quantity: 2, unitPriceMinor: 150 }); // unknown product
  const inventory = first('inventory.update');
  inventory.payload.locationId = 'S9999'; // unknown location: region ''
  inventory.payload.onHand = 0;
  const view = first('page.view');
  delete view.payload.productId;
  const payment = first('payment.attempted');
  delete payment.payload.orderId;
  payment.payload.declineCode = null;
  const feedback = first('feedback.submitted');
  delete feedback.payload.productId;
  const early = first('product.click');
  early.eventTime = '1969-12-31T23:59:59.9995+00:30'; // before 1970: milliseconds floored, not rounded to 0
  const edge = [order, inventory, view, payment, feedback, early].map((e) => TidewaterEvent.parse(e));
  const all = [...events, ...edge].map((e, i) => accepted(e, i));
  // Original bytes with a repeated key and a key the contract strips: rows follow the validated
  // event (as JSON.parse, the last value wins), the event column keeps the bytes as they came.
  const click = first('product.click');
  const quirky = `{"eventType":"page.view",${JSON.stringify(click).slice(1, -1)},"extra":{"region":"X"}}`;
  all.push(accepted(click, all.length, quirky));
  // A repeated key alone, nested, with nothing stripped.
  const repeated = first('order.created');
  const payload = JSON.stringify(repeated.payload);
  const reordered = JSON.stringify(repeated).replace(payload, `{"region":"Nowhere",${payload.slice(1)}`);
  all.push(accepted(repeated, all.length, reordered));
  // Bytes DuckDB reads as they are: whitespace and escapes that JSON.stringify would not write.
  const spaced = first('cart.add');
  const escaped = JSON.stringify(spaced, null, 2).replace(`"${spaced.userId}"`, (id) =>
    id.replace(id[1] as string, `\\u${(id.codePointAt(1) as number).toString(16).padStart(4, '0')}`),
  );
  all.push(accepted(spaced, all.length, escaped));
  // Text the gate accepts that C strings and UTF-16 code would trip on: NUL, an astral character
  // (a surrogate pair in JS), a quote and a backslash, escaped and raw.
  const odd = first('feedback.submitted');
  odd.userId = 'nul\u0000 astral\u{1f600} quote" backslash\\';
  all.push(accepted(odd, all.length, JSON.stringify(odd).replace('😀', '\\ud83d\\ude00')));
  return all;
}

let duck: Duck;
beforeAll(async () => {
  duck = await openDuck(1);
});
afterAll(() => duck.close());

describe('lake event rows', () => {
  it('are exactly the rows toRawRows gives, for every event type and edge case', async () => {
    const input = records();
    const expected = jsRows(input);
    const { connection } = duck;
    await connection.run(
      `CREATE TEMP TABLE js AS ${(await stageRows(connection, EVENTS_SCHEMA, expected)).rows}`,
    );
    const staged = await stageAccepted(input, dims)(connection);
    if (!staged) throw new Error('nothing staged');
    await connection.run(`CREATE TEMP TABLE lake AS ${staged.rows}`);
    await connection.run(`CREATE TEMP TABLE lake_keys AS ${staged.partitionKeys}`);

    const count = async (sql: string) =>
      Number((await connection.runAndReadAll(sql)).getRowObjectsJS()[0]?.n);
    expect(await count('SELECT count(*) AS n FROM lake')).toBe(expected.length);
    expect(await count('SELECT count(*) AS n FROM (SELECT * FROM js EXCEPT ALL SELECT * FROM lake)')).toBe(0);
    expect(await count('SELECT count(*) AS n FROM (SELECT * FROM lake EXCEPT ALL SELECT * FROM js)')).toBe(0);
    // The partition keys, read without the JSON, give the rows' hours.
    const hours = (from: string) => `SELECT DISTINCT strftime(event_time, '%Y-%m-%d %H') FROM ${from}`;
    expect(await count(`SELECT count(*) AS n FROM (${hours('lake')})`)).toBe(2);
    expect(await count(`SELECT count(*) AS n FROM ((${hours('lake')}) EXCEPT (${hours('lake_keys')}))`)).toBe(
      0,
    );
    expect(await count(`SELECT count(*) AS n FROM ((${hours('lake_keys')}) EXCEPT (${hours('lake')}))`)).toBe(
      0,
    );
    // Every type and edge case took part.
    expect(await count('SELECT count(DISTINCT event_type) AS n FROM lake')).toBe(10);
    expect(await count(`SELECT count(*) AS n FROM lake WHERE product_id = 'P999999' AND category = ''`)).toBe(
      1,
    );
    expect(await count(`SELECT count(*) AS n FROM lake WHERE location_id = 'S9999' AND region = ''`)).toBe(1);
    expect(await count(`SELECT count(*) AS n FROM lake WHERE event LIKE '%"extra"%'`)).toBe(1);
    expect(await count(`SELECT count(*) AS n FROM lake WHERE event LIKE '%"Nowhere"%'`)).toBe(1);
    expect(await count(`SELECT count(*) AS n FROM lake WHERE region = 'Nowhere'`)).toBe(0);
    expect(
      await count(
        `SELECT count(*) AS n FROM lake WHERE user_id = 'nul' || chr(0) || ' astral😀 quote" backslash\\'`,
      ),
    ).toBe(1);
  });

  it('stages nothing for no records', async () => {
    expect(await stageAccepted([], dims)(duck.connection)).toBeUndefined();
  });
});

describe('bytes that spell exactly their parsed event', () => {
  const spells = (text: string, parsed: unknown = JSON.parse(text)) =>
    spellsExactly(Buffer.from(text), parsed);

  it('are those whose every key and string the event holds, however written', () => {
    expect(spells('{"a":"x","b":[{"c":1},{"c":"y"}],"d":null,"e":true}')).toBe(true);
    expect(spells('{ "a" : "\\u0078" ,\n "b" : [ ] }')).toBe(true);
    expect(spells('{"a":"x"}', { a: 'x', b: undefined })).toBe(true);
  });

  it('are not those with a repeated or stripped key, nor (to be safe) an escaped quote', () => {
    expect(spells('{"a":"x","a":"y"}')).toBe(false);
    expect(spells('{"a":1,"a":2}')).toBe(false);
    expect(spells('{"p":{"a":"x"},"p":{"a":"x"}}')).toBe(false);
    expect(spells('{"a":"x","b":1}', { a: 'x' })).toBe(false);
    expect(spells('{"a":"say \\"x\\""}')).toBe(false);
  });

  it('count quotes within the bytes only, at any alignment in the memory they share', () => {
    const text = '{"eventId":"e","payload":{"lines":[{"productId":"P000001","quantity":2}]},"n":null}';
    const quotes = (t: string) => t.split('"').length - 1;
    for (let offset = 0; offset < 8; offset++) {
      for (let cut = 0; cut < 12; cut++) {
        const shared = Buffer.alloc(offset + text.length + 8, '"');
        shared.write(text, offset);
        const bytes = shared.subarray(offset, offset + text.length - cut);
        const held = quotes(bytes.toString());
        expect(spellsExactly(bytes, JSON.parse(text))).toBe(held === quotes(text));
        expect(spellsExactly(bytes, Array(held >> 1).fill('x'))).toBe(held % 2 === 0);
      }
    }
  });
});
