// Corrupt records, one per bad kind, made by breaking a realistic event at a known path so the
// quality gate's rejection reason can be checked against it.
import { MAX_FEEDBACK_TEXT_LENGTH, type Rng } from '../contracts/index.ts';
import { buildFunnel, type Phase, Session } from './session.ts';
import { serialize, USER_COUNT, userAt, type World } from './world.ts';

export const BAD_KINDS = [
  'invalid_json',
  'wrong_type',
  'missing_field',
  'negative_amount',
  'unknown_event_type',
  'unknown_product',
  'oversized_payload',
] as const;
export type BadKind = (typeof BAD_KINDS)[number];

const REMOVE = Symbol('remove');

export interface Corruption {
  /** Funnel phase whose event is the starting point. */
  template: Phase;
  path: readonly (string | number)[];
  to: (current: unknown, rng: Rng, world: World) => unknown;
}

const remove = () => REMOVE;
const negate = (value: unknown) => -Math.max(1, Number(value));
const UNKNOWN_EVENT_TYPES = ['order.refunded', 'page.scroll', 'cart.checkout', 'wishlist.add'];
const FIRST_UNKNOWN_PRODUCT = 900_000;

/** Contract-valid shape, absent from the catalog: only a referential rule can catch it. */
function unknownProductId(_: unknown, rng: Rng, world: World): string {
  for (;;) {
    const productId = `P${rng.between(FIRST_UNKNOWN_PRODUCT, 999_999)}`;
    if (!world.productIds.has(productId)) return productId;
  }
}

/** Every corruption of every kind; invalid_json truncates the bytes of an intact template instead. */
export const CORRUPTIONS: Record<Exclude<BadKind, 'invalid_json'>, readonly Corruption[]> = {
  wrong_type: [
    { template: 'checkout', path: ['payload', 'lines', 0, 'quantity'], to: String },
    { template: 'pay', path: ['payload', 'success'], to: () => 'yes' },
    { template: 'add', path: ['payload', 'unitPriceMinor'], to: String },
    { template: 'product', path: ['eventTime'], to: () => 1_735_689_600_000 },
  ],
  missing_field: [
    { template: 'checkout', path: ['payload', 'orderId'], to: remove },
    { template: 'pay', path: ['payload', 'cardFingerprint'], to: remove },
    { template: 'product', path: ['eventId'], to: remove },
    { template: 'add', path: ['metadata', 'schemaVersion'], to: remove },
  ],
  negative_amount: [
    { template: 'checkout', path: ['payload', 'totalMinor'], to: negate },
    { template: 'checkout', path: ['payload', 'lines', 0, 'unitPriceMinor'], to: negate },
    { template: 'pay', path: ['payload', 'amountMinor'], to: negate },
    { template: 'add', path: ['payload', 'unitPriceMinor'], to: negate },
  ],
  unknown_event_type: [
    { template: 'click', path: ['eventType'], to: (_, rng) => rng.pick(UNKNOWN_EVENT_TYPES) },
  ],
  unknown_product: [
    { template: 'add', path: ['payload', 'productId'], to: unknownProductId },
    { template: 'click', path: ['payload', 'productId'], to: unknownProductId },
    // Price and total are untouched, so the order stays internally consistent.
    { template: 'checkout', path: ['payload', 'lines', 0, 'productId'], to: unknownProductId },
  ],
  oversized_payload: [
    {
      template: 'feedback',
      path: ['payload', 'text'],
      to: (_, rng) => 'Long review. '.repeat(Math.ceil(MAX_FEEDBACK_TEXT_LENGTH / 13) + rng.int(40)),
    },
  ],
};

const INTACT_TEMPLATES: readonly Phase[] = ['checkout', 'pay', 'add', 'product', 'click'];

function corrupt(target: unknown, corruption: Corruption, rng: Rng, world: World): void {
  const { path } = corruption;
  let parent = target as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  const value = corruption.to(parent[last], rng, world);
  if (value === REMOVE) delete parent[last];
  else parent[last] = value;
}

export class BadRecords {
  private readonly funnel = buildFunnel(1);

  /** `world` should have its own random stream, so corrupt records never perturb good traffic. */
  constructor(private readonly world: World) {}

  make(kind: BadKind, eventTime: string): { key: string; value: Buffer } {
    const { rng } = this.world;
    const session = new Session(this.world, this.funnel, userAt(this.world, rng.int(USER_COUNT)));
    if (kind === 'invalid_json') {
      const event = session.emit(rng.pick(INTACT_TEMPLATES), eventTime);
      const json = serialize(event);
      return { key: event.userId, value: Buffer.from(json.slice(0, rng.between(1, json.length - 1))) };
    }
    const corruption = rng.pick(CORRUPTIONS[kind]);
    const event = session.emit(corruption.template, eventTime);
    corrupt(event, corruption, rng, this.world);
    return { key: event.userId, value: Buffer.from(JSON.stringify(event)) };
  }
}
