// The good-event stream: interleaved shopper sessions, stock movements and card-testing attacks.
import { type Product, type TidewaterEvent, Weighted } from '../contracts/index.ts';
import { buildFunnel, type Funnel, Session } from './session.ts';
import { CURRENCY, USER_COUNT, userAt, type World } from './world.ts';

/** Sessions open at once; a finished one is replaced, so their events interleave. */
const ACTIVE_SESSIONS = 512;

type Source = 'session' | 'inventory' | 'cardTesting';
const MIX = new Weighted<Source>([
  ['session', 93],
  ['inventory', 7],
  // About one attack per 20k events.
  ['cardTesting', 0.005],
]);

// A card-testing bot tries many small amounts on one stolen card, rotating IPs, mostly declined.
const CARD_TEST_ATTEMPTS = [20, 60] as const;
const CARD_TEST_AMOUNT_MINOR = [50, 300] as const;
const CARD_TEST_SUCCESS = 0.05;
/** While an attack runs, this share of positions goes to it: 60 attempts span <= ~120 events. */
const CARD_TEST_INTENSITY = 0.5;
const FULFILMENT_CENTRE_SHARE = 0.3;
const RESTOCK_SHARE = 0.25;

interface Location {
  id: string;
  type: 'store' | 'fc';
  /** userId and sessionId of the stock system at this location (also its Kafka key). */
  actor: string;
}

interface CardTest {
  userId: string;
  sessionId: string;
  cardFingerprint: string;
  remaining: number;
}

export class Traffic {
  private readonly funnel: Funnel;
  private readonly sessions: (Session | undefined)[] = new Array(ACTIVE_SESSIONS);
  private readonly locations: readonly Location[];
  /** onHand + 1 per (location, product); 0 means not yet seen. Flat so memory stays fixed. */
  private readonly stock: Int32Array;
  private cardTest: CardTest | undefined;

  constructor(private readonly world: World) {
    this.funnel = buildFunnel(world.burstFactor);
    const { stores, fulfilmentCentres, products } = world.dimensions;
    this.locations = [
      ...stores.map(
        (store): Location => ({ id: store.storeId, type: 'store', actor: `svc:${store.storeId}` }),
      ),
      ...fulfilmentCentres.map(
        (fc): Location => ({ id: fc.fulfilmentCentreId, type: 'fc', actor: `svc:${fc.fulfilmentCentreId}` }),
      ),
    ];
    this.stock = new Int32Array(this.locations.length * products.length);
  }

  next(eventTime: string): TidewaterEvent {
    const rng = this.world.rng;
    if (this.cardTest && rng.chance(CARD_TEST_INTENSITY))
      return this.cardTestAttempt(this.cardTest, eventTime);
    switch (MIX.pick(rng)) {
      case 'session':
        return this.sessionStep(eventTime);
      case 'inventory':
        return this.inventoryUpdate(eventTime);
      case 'cardTesting':
        this.cardTest ??= this.startCardTest();
        return this.cardTestAttempt(this.cardTest, eventTime);
    }
  }

  /** A fresh session of a random user; also used for corrupt-record templates. */
  newSession(): Session {
    return new Session(this.world, this.funnel, userAt(this.world, this.world.rng.int(USER_COUNT)));
  }

  private sessionStep(eventTime: string): TidewaterEvent {
    const slot = this.world.rng.int(ACTIVE_SESSIONS);
    let session = this.sessions[slot];
    if (!session || session.phase === 'end') {
      session = this.newSession();
      this.sessions[slot] = session;
    }
    return session.next(eventTime);
  }

  private inventoryUpdate(eventTime: string): TidewaterEvent {
    const { rng, stores, products } = this.world;
    const centres = this.locations.length - stores.length;
    const locationIndex =
      centres > 0 && rng.chance(FULFILMENT_CENTRE_SHARE)
        ? stores.length + rng.int(centres)
        : rng.int(stores.length);
    const location = this.locations[locationIndex] as Location;
    const productIndex = this.world.productIndex();
    const cell = locationIndex * products.length + productIndex;
    const known = this.stock[cell] as number;
    const before = known > 0 ? known - 1 : rng.int(location.type === 'fc' ? 500 : 40);
    // Sales never take stock below zero, so stock-outs show up as onHand 0.
    const delta = rng.chance(RESTOCK_SHARE) ? rng.between(10, 100) : -Math.min(before, rng.between(1, 6));
    const onHand = before + delta;
    this.stock[cell] = onHand + 1;
    return this.world.event('inventory.update', eventTime, location.actor, location.actor, 'inventory', {
      locationId: location.id,
      locationType: location.type,
      productId: (products[productIndex] as Product).productId,
      onHand,
      delta,
    });
  }

  private startCardTest(): CardTest {
    const rng = this.world.rng;
    return {
      // Bots check out as guests: users outside the registered range.
      userId: `G${rng.hex(4)}`,
      sessionId: rng.uuid(),
      cardFingerprint: rng.hex(8),
      remaining: rng.between(...CARD_TEST_ATTEMPTS),
    };
  }

  private cardTestAttempt(attack: CardTest, eventTime: string): TidewaterEvent {
    const rng = this.world.rng;
    attack.remaining--;
    if (attack.remaining <= 0) this.cardTest = undefined;
    const success = rng.chance(CARD_TEST_SUCCESS);
    return this.world.event('payment.attempted', eventTime, attack.userId, attack.sessionId, 'web', {
      cardFingerprint: attack.cardFingerprint,
      ipHash: rng.hex(8),
      amountMinor: rng.between(...CARD_TEST_AMOUNT_MINOR),
      currency: CURRENCY,
      success,
      declineCode: success ? null : 'card_declined',
    });
  }
}
