import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildDimensions, type EventOf } from '../contracts/index.ts';
import { type GeneratedRecord, GroundTruth, generate, writeNdjson } from '../generator/index.ts';

const noisy = { lateFraction: 0.05, duplicateFraction: 0.03, badFraction: 0.02 } as const;
const take = (count: number, options: Parameters<typeof generate>[0] = {}) => [
  ...generate({ ...options, count }),
];
const bytes = (records: GeneratedRecord[]) => records.map((record) => record.value.toString('latin1'));

describe('generator', () => {
  it('emits identical bytes for the same seed and different bytes for another seed', () => {
    const first = bytes(take(5000, { seed: 3, ...noisy }));
    expect(bytes(take(5000, { seed: 3, ...noisy }))).toEqual(first);
    const other = bytes(take(5000, { seed: 4, ...noisy }));
    expect(other.filter((value, i) => value === first[i]).length).toBe(0);
  });

  it('streams without a count', () => {
    const iterator = generate({ seed: 1 });
    for (let i = 0; i < 10; i++) expect(iterator.next().done).toBe(false);
  });

  it('keys every record by user and assigns event time from position and rate', () => {
    const start = Date.UTC(2025, 5, 1);
    const records = take(2000, { seed: 2, start, rate: 100 });
    records.forEach((record, i) => {
      expect(record.kind).toBe('good');
      expect(record.key).toBe(record.event?.userId);
      expect(record.event?.eventTime).toBe(new Date(start + i * 10).toISOString());
    });
  });

  it('makes late events older than their position, within the allowed lateness', () => {
    const start = Date.UTC(2025, 0, 1);
    const records = take(5000, { seed: 2, start, rate: 1, lateFraction: 0.1, maxLatenessMinutes: 3 });
    const lateness = records.map((record, i) => start + i * 1000 - Date.parse(record.event?.eventTime ?? ''));
    const late = lateness.filter((ms) => ms > 0);
    expect(late.length).toBeGreaterThan(350);
    expect(late.length).toBeLessThan(650);
    expect(Math.max(...late)).toBeLessThanOrEqual(3 * 60_000);
    expect(Math.min(...lateness)).toBe(0);
  });

  it('re-sends duplicates later as the exact same bytes', () => {
    const records = take(20_000, { seed: 9, duplicateFraction: 0.05 });
    const firstSeen = new Map<string, number>();
    let duplicates = 0;
    records.forEach((record, i) => {
      const eventId = record.event?.eventId ?? '';
      if (record.kind === 'good') {
        expect(firstSeen.has(eventId)).toBe(false);
        firstSeen.set(eventId, i);
        return;
      }
      duplicates++;
      const original = records[firstSeen.get(eventId) ?? -1];
      expect(original?.value.equals(record.value)).toBe(true);
      expect(original?.key).toBe(record.key);
    });
    expect(duplicates).toBeGreaterThan(800);
  });

  it('prices orders from the catalog, with totals equal to the sum of lines', () => {
    const orders = take(30_000, { seed: 6 })
      .map((record) => record.event)
      .filter((event): event is EventOf<'order.created'> => event?.eventType === 'order.created');
    expect(orders.length).toBeGreaterThan(500);
    const prices = new Map(
      buildDimensions().products.map((product) => [product.productId, product.priceMinor]),
    );
    for (const { payload } of orders) {
      for (const line of payload.lines) expect(line.unitPriceMinor).toBe(prices.get(line.productId));
      expect(payload.totalMinor).toBe(
        payload.lines.reduce((sum, l) => sum + l.quantity * l.unitPriceMinor, 0),
      );
    }
  });

  it('multiplies order volume in flash-sale mode', () => {
    const orders = (burst: boolean) =>
      take(30_000, { seed: 6, burst }).filter((record) => record.event?.eventType === 'order.created').length;
    expect(orders(true)).toBeGreaterThan(2 * orders(false));
  });

  it('includes card-testing bursts: many failed payments on one card within a minute', () => {
    const failures = new Map<string, number[]>();
    for (const record of take(100_000, { seed: 8, rate: 1000 })) {
      const event = record.event;
      if (event?.eventType !== 'payment.attempted' || event.payload.success) continue;
      const times = failures.get(event.payload.cardFingerprint) ?? [];
      times.push(Date.parse(event.eventTime));
      failures.set(event.payload.cardFingerprint, times);
    }
    const bursts = [...failures.values()].filter(
      (times) => times.length >= 15 && Math.max(...times) - Math.min(...times) <= 60_000,
    );
    expect(bursts.length).toBeGreaterThan(0);
  });
});

describe('ground truth', () => {
  const records = take(40_000, { seed: 12, ...noisy });
  const truth = new GroundTruth();
  for (const record of records) truth.add(record);
  const report = truth.toJSON();

  it('accounts for every emitted record exactly once', () => {
    const { emitted, good, duplicates, bad } = report.totals;
    expect(emitted).toBe(records.length);
    expect(good + duplicates + bad).toBe(emitted);
    expect(duplicates).toBe(records.filter((record) => record.kind === 'duplicate').length);
    expect(Object.values(report.badKinds).reduce((a, b) => a + b, 0)).toBe(bad);
    expect(Object.values(report.eventTypes).reduce((a, b) => a + b, 0)).toBe(good);
    expect(bad).toBeGreaterThan(0);
  });

  it('sums first-occurrence orders per UTC minute and region', () => {
    const orders = records
      .filter((record) => record.kind === 'good' && record.event?.eventType === 'order.created')
      .map((record) => record.event as EventOf<'order.created'>);
    const cells = report.orders;
    expect(cells.reduce((sum, cell) => sum + cell.orders, 0)).toBe(orders.length);
    expect(cells.reduce((sum, cell) => sum + cell.revenueMinor, 0)).toBe(
      orders.reduce((sum, order) => sum + order.payload.totalMinor, 0),
    );
    const units = orders
      .flatMap((order) => order.payload.lines)
      .reduce((sum, line) => sum + line.quantity, 0);
    expect(cells.reduce((sum, cell) => sum + cell.units, 0)).toBe(units);
    expect(cells.every((cell) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/.test(cell.minute))).toBe(true);
    expect(JSON.parse(JSON.stringify(truth))).toEqual(report);
  });
});

describe('writeNdjson', () => {
  it('writes one record value per line', async () => {
    const records = take(3000, { seed: 1, ...noisy });
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    expect(await writeNdjson([records], stream)).toBe(records.length);
    const lines = Buffer.concat(chunks).toString('latin1').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toEqual(bytes(records));
  });
});
