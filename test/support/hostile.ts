// Hostile variants of good generated events, from a seed: each either must be refused (with the rule
// that must refuse it) or must be read as exactly the event it came from (so the ground truth of the
// good traffic stays the ground truth). The fuzz tests push them through HTTP and Kafka alike.
import { MAX_EVENT_BYTES, MAX_JSON_DEPTH, Rng, type TidewaterEvent } from '../../contracts/index.ts';
import type { GeneratedRecord } from '../../generator/index.ts';

export interface HostileRecord {
  /** The good record it was made from (its key, and its event for the ground truth). */
  origin: GeneratedRecord;
  kind: string;
  /** Null: a tombstone (Kafka only). */
  value: Buffer | null;
  /** The rule that must refuse it, or undefined when it must be accepted as the origin's event. */
  rule: 'decode' | 'contract' | 'storable' | undefined;
}

type Mutation = (text: string, event: TidewaterEvent, rng: Rng) => string | Buffer | null;

/** `text` with `raw` (JSON) as the value of a key the contract does not know, at the end. */
const extra = (text: string, raw: string, key = 'x-extra') =>
  `${text.slice(0, -1)},${JSON.stringify(key)}:${raw}}`;
/** `text` with the JSON value of `field` (a top-level string field) replaced by `raw`. */
const replaceField = (text: string, event: TidewaterEvent, field: 'userId' | 'eventTime', raw: string) =>
  text.replace(`"${field}":${JSON.stringify(event[field])}`, `"${field}":${raw}`);
const nest = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;
const withBytes = (text: string, at: number, bytes: number[]) =>
  Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at))]);

/** Mutations that must be refused, by the rule that must refuse them. */
const REFUSED: Record<string, { rule: 'decode' | 'contract' | 'storable'; make: Mutation }> = {
  lone_high_surrogate: { rule: 'storable', make: (t, e) => replaceField(t, e, 'userId', '"u\\ud800"') },
  lone_low_surrogate_in_unknown_key: { rule: 'storable', make: (t) => extra(t, '{"k":"\\udfff"}') },
  surrogate_in_key: { rule: 'storable', make: (t) => extra(t, '1', 'k\ud83d') },
  not_utf8: {
    rule: 'decode',
    make: (t, _e, rng) => {
      const at = t.indexOf('"userId":"') + 10;
      return withBytes(t, at, [rng.pick([0xff, 0xc0, 0xed]), rng.pick([0x80, 0xaf, 0xa0])]);
    },
  },
  overlong_nul: { rule: 'decode', make: (t) => withBytes(t, t.indexOf('"userId":"') + 10, [0xc0, 0x80]) },
  too_deep: { rule: 'decode', make: (t, _e, rng) => extra(t, nest(MAX_JSON_DEPTH + rng.int(200))) },
  proto_key: { rule: 'decode', make: (t) => extra(t, '{"__proto__":{"isAdmin":true}}') },
  escaped_proto_key: { rule: 'decode', make: (t) => extra(t, '{"\\u005f_proto__":1}') },
  constructor_key: { rule: 'decode', make: (t) => extra(t, '{"constructor":{"prototype":{"x":1}}}') },
  truncated: { rule: 'decode', make: (t, _e, rng) => t.slice(0, 1 + rng.int(t.length - 2)) },
  byte_order_mark: {
    rule: 'decode',
    make: (t) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(t)]),
  },
  oversized: {
    rule: 'decode',
    make: (t, _e, rng) => extra(t, JSON.stringify('x'.repeat(MAX_EVENT_BYTES + rng.int(4096)))),
  },
  wrong_type: { rule: 'contract', make: (t, e) => replaceField(t, e, 'userId', '42') },
  huge_number: { rule: 'contract', make: (t, e) => replaceField(t, e, 'userId', '1e400') },
  unsafe_integer_field: {
    rule: 'contract',
    make: (t) => t.replace(/"schemaVersion":\d+/, '"schemaVersion":9007199254740993'),
  },
  last_duplicate_key_wins_and_is_wrong: { rule: 'contract', make: (t) => extra(t, '"x"', 'eventId') },
  before_1970: {
    rule: 'storable',
    make: (t, e) => replaceField(t, e, 'eventTime', '"1969-07-20T20:17:40Z"'),
  },
  not_an_object: { rule: 'contract', make: (t) => `[${t}]` },
  tombstone: { rule: 'decode', make: () => null },
};

/** Mutations that must be read as the event they came from. */
const SAME_EVENT: Record<string, Mutation> = {
  first_duplicate_key_loses: (t) => `{"userId":"bogus",${t.slice(1)}`,
  nul_in_unknown_field: (t) => extra(t, '"a\\u0000b"'),
  surrogate_pair: (t) => extra(t, '"\\ud83d\\ude00 😀"'),
  deep_but_allowed: (t) => extra(t, nest(MAX_JSON_DEPTH - 2)),
  escaped_letters: (t) =>
    t.replace(
      /"sessionId":"(.)/,
      (_m, c: string) => `"sessionId":"\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    ),
  pretty_printed: (t) => JSON.stringify(JSON.parse(t), null, 2),
  constructor_as_value: (t) => extra(t, '"constructor and __proto__ as text"'),
};

/** `count` hostile variants of `good` records, mutation kinds drawn from the seed. */
export function hostileRecords(good: readonly GeneratedRecord[], seed: number): HostileRecord[] {
  const rng = new Rng(seed);
  const refused = Object.entries(REFUSED);
  const same = Object.entries(SAME_EVENT);
  return good.map((origin) => {
    const text = origin.value.toString();
    const event = origin.event as TidewaterEvent;
    if (rng.chance(0.7)) {
      const [kind, { rule, make }] = rng.pick(refused);
      const value = make(text, event, rng);
      return { origin, kind, rule, value: value === null ? null : Buffer.from(value) };
    }
    const [kind, make] = rng.pick(same);
    return { origin, kind, rule: undefined, value: Buffer.from(make(text, event, rng) as string) };
  });
}

/** Every kind of hostile record, for checking that a run drew each. */
export const HOSTILE_KINDS = [...Object.keys(REFUSED), ...Object.keys(SAME_EVENT)];
