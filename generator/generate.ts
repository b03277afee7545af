// The record stream: good traffic, with duplicates, late events and corrupt records mixed in at
// the requested fractions. Everything derives from the seed; the wall clock is never read.
import { z } from 'zod';
import { buildDimensions, type Dimensions, Rng, type TidewaterEvent } from '../contracts/index.ts';
import { BAD_KINDS, type BadKind, BadRecords } from './bad-records.ts';
import { EventClock } from './clock.ts';
import { Traffic } from './traffic.ts';
import { serialize, World } from './world.ts';

/** Order-funnel multiplier of `burst: true`. */
export const FLASH_SALE_FACTOR = 5;
/** A duplicate is re-sent within this many positions after its original. */
export const MAX_DUPLICATE_DELAY = 2000;

const fraction = z.number().min(0).max(1);
// Names follow the `tidewater generate` flags (--late-fraction -> lateFraction).
export const GenerateOptions = z.object({
  seed: z.int().default(1),
  /** Records to emit (good, duplicate and bad alike); omit for an endless stream. */
  count: z.int().min(0).optional(),
  /** Event time of position 0. */
  start: z.union([z.date(), z.number(), z.iso.datetime({ offset: true })]).default(Date.UTC(2025, 0, 1)),
  /** Events per second of event time; pacing real-time output is the caller's job. */
  rate: z.number().positive().default(1000),
  /** Flash sale: true for FLASH_SALE_FACTOR, or the factor itself. */
  burst: z.union([z.boolean(), z.number().min(1)]).default(false),
  lateFraction: fraction.default(0),
  maxLatenessMinutes: z.number().positive().default(10),
  duplicateFraction: fraction.default(0),
  badFraction: fraction.default(0),
  /** Which bad kinds to draw from, uniformly. */
  badKinds: z
    .array(z.enum(BAD_KINDS))
    .min(1)
    .default([...BAD_KINDS]),
  /** Catalog and stores to draw from; defaults to buildDimensions() with the default seed. */
  dimensions: z.custom<Dimensions>().optional(),
});
export type GenerateOptions = z.input<typeof GenerateOptions>;

export type RecordKind = 'good' | 'duplicate' | BadKind;

export interface GeneratedRecord {
  /** The userId, so a user's events and their duplicates share a Kafka partition. */
  key: string;
  /** Exact bytes to send: JSON of the event, or the corrupt bytes. */
  value: Buffer;
  kind: RecordKind;
  /** The event, for good records and their duplicates. */
  event?: TidewaterEvent;
}

/** Independent streams, so that e.g. raising badFraction does not reshuffle the good traffic. */
const STREAM_SALT = { traffic: 0, faults: 0x51ed270b, bad: 0x2c1b3c6d } as const;

export function* generate(options: GenerateOptions = {}): Generator<GeneratedRecord> {
  const o = GenerateOptions.parse(options);
  const dimensions = o.dimensions ?? buildDimensions();
  const burstFactor = o.burst === true ? FLASH_SALE_FACTOR : o.burst === false ? 1 : o.burst;
  const traffic = new Traffic(new World(new Rng(o.seed ^ STREAM_SALT.traffic), dimensions, burstFactor));
  const badRecords = new BadRecords(new World(new Rng(o.seed ^ STREAM_SALT.bad), dimensions, 1));
  const faults = new Rng(o.seed ^ STREAM_SALT.faults);
  const clock = new EventClock(new Date(o.start).getTime(), o.rate);
  const maxLatenessMs = Math.round(o.maxLatenessMinutes * 60_000);
  const pending: { due: number; record: GeneratedRecord }[] = [];

  for (let i = 0; o.count === undefined || i < o.count; i++) {
    const head = pending[0];
    if (head && head.due <= i) {
      pending.shift();
      yield head.record;
      continue;
    }
    // Every draw happens on every position, so each decision stream stays aligned by position.
    const bad = faults.chance(o.badFraction);
    const late = faults.chance(o.lateFraction);
    const duplicate = faults.chance(o.duplicateFraction);
    const badKind = faults.pick(o.badKinds);
    const lateness = 1 + faults.int(maxLatenessMs);
    const duplicateDelay = 1 + faults.int(MAX_DUPLICATE_DELAY);

    const eventTime = clock.format(late ? clock.at(i) - lateness : clock.at(i));
    if (bad) {
      yield { ...badRecords.make(badKind, eventTime), kind: badKind };
      continue;
    }
    const event = traffic.next(eventTime);
    const value = Buffer.from(serialize(event));
    if (duplicate)
      pending.push({
        due: i + duplicateDelay,
        record: { key: event.userId, value, kind: 'duplicate', event },
      });
    yield { key: event.userId, value, kind: 'good', event };
  }
}
