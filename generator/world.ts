// What every synthetic actor draws from: one random stream plus the reference data and the
// shared way of wrapping a payload in the envelope.
import {
  CURRENT_VERSIONS,
  type Dimensions,
  type EventOf,
  type EventType,
  hex32,
  mix32,
  type Product,
  type Rng,
  type Store,
  type TidewaterEvent,
} from '../contracts/index.ts';

export const USER_COUNT = 250_000;
export const CURRENCY = 'USD';

export class World {
  readonly products: readonly Product[];
  readonly stores: readonly Store[];
  readonly productIds: ReadonlySet<string>;

  constructor(
    readonly rng: Rng,
    readonly dimensions: Dimensions,
    /** Flash-sale multiplier on the funnel edges that lead to orders; 1 is a normal day. */
    readonly burstFactor: number,
  ) {
    this.products = dimensions.products;
    this.stores = dimensions.stores;
    this.productIds = new Set(dimensions.products.map((product) => product.productId));
  }

  /** Popular products are drawn more often (squared uniform: the first tenth gets ~30%). */
  productIndex(): number {
    const u = this.rng.float();
    return Math.floor(u * u * this.products.length);
  }

  product(): Product {
    return this.products[this.productIndex()] as Product;
  }

  event<T extends EventType>(
    eventType: T,
    eventTime: string,
    userId: string,
    sessionId: string,
    source: string,
    payload: EventOf<T>['payload'],
  ): EventOf<T> {
    return {
      eventId: this.rng.uuid(),
      eventType,
      eventTime,
      userId,
      sessionId,
      payload,
      metadata: { source, schemaVersion: CURRENT_VERSIONS[eventType] },
    } as EventOf<T>;
  }
}

/** A registered shopper; everything about them is a pure function of their index. */
export interface User {
  userId: string;
  homeStore: Store;
  cardFingerprint: string;
}

export function userAt(world: World, index: number): User {
  return {
    userId: `U${String(index).padStart(7, '0')}`,
    homeStore: world.stores[mix32(index) % world.stores.length] as Store,
    cardFingerprint: hex32(mix32(index * 2 + 1)) + hex32(mix32(index * 2 + 2)),
  };
}

/**
 * JSON of an event in contract field order. Node 20's JSON.stringify is the generator's biggest
 * cost, so the envelope is templated: its strings are uuids, ISO times and generated ids, which
 * never need escaping. The payload goes through JSON.stringify, which also drops undefined fields.
 */
export function serialize(event: TidewaterEvent): string {
  return `{"eventId":"${event.eventId}","eventType":"${event.eventType}","eventTime":"${event.eventTime}","userId":"${event.userId}","sessionId":"${event.sessionId}","payload":${JSON.stringify(event.payload)},"metadata":{"source":"${event.metadata.source}","schemaVersion":${event.metadata.schemaVersion}}}`;
}
