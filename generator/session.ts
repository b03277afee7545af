// One shopper's visit as a Markov chain over funnel phases. Each phase emits exactly one event.
import {
  type Channel,
  type EventOf,
  type EventType,
  type OrderLine,
  type Product,
  type TidewaterEvent,
  Weighted,
} from '../contracts/index.ts';
import { CURRENCY, type User, type World } from './world.ts';

export type Phase =
  | 'browse'
  | 'click'
  | 'product'
  | 'add'
  | 'remove'
  | 'checkout'
  | 'pay'
  | 'complete'
  | 'cancel'
  | 'feedback'
  | 'end';

type Edges = readonly (readonly [Phase, number])[];

// Transition weights out of each phase; `pay` is decided by the payment outcome instead.
const FUNNEL: Record<Exclude<Phase, 'pay' | 'end'>, Edges> = {
  browse: [
    ['browse', 25],
    ['click', 55],
    ['end', 20],
  ],
  click: [['product', 1]],
  product: [
    ['add', 40],
    ['browse', 40],
    ['end', 20],
  ],
  add: [
    ['browse', 35],
    ['checkout', 40],
    ['remove', 10],
    ['end', 15],
  ],
  remove: [
    ['browse', 50],
    ['checkout', 20],
    ['end', 30],
  ],
  checkout: [['pay', 1]],
  complete: [
    ['feedback', 12],
    ['end', 88],
  ],
  cancel: [['end', 1]],
  feedback: [['end', 1]],
};

// A flash sale multiplies the weight of the edges that lead to a purchase.
const SALE_PHASES: ReadonlySet<Phase> = new Set(['add', 'checkout']);

export type Funnel = Record<keyof typeof FUNNEL, Weighted<Phase>>;

export function buildFunnel(burstFactor: number): Funnel {
  const funnel = {} as Funnel;
  for (const [phase, edges] of Object.entries(FUNNEL) as [keyof Funnel, Edges][]) {
    funnel[phase] = new Weighted(
      edges.map(([to, weight]) => [to, SALE_PHASES.has(to) ? weight * burstFactor : weight] as const),
    );
  }
  return funnel;
}

const CHANNELS = new Weighted<Channel>([
  ['web', 50],
  ['app', 33],
  ['marketplace', 10],
  ['store', 7],
]);
const BROWSE_PAGES = [
  ['home', '/'],
  ['category', '/c/'],
  ['search', '/search'],
  ['cart', '/cart'],
] as const;
const REFERRERS = ['https://www.google.com/', 'https://www.facebook.com/', 'https://www.instagram.com/'];
const QUANTITIES = new Weighted([
  [1, 70],
  [2, 20],
  [3, 10],
]);
const DECLINE_CODES = [
  'insufficient_funds',
  'do_not_honor',
  'expired_card',
  'incorrect_cvc',
  'card_declined',
];
const CANCEL_REASONS = ['customer_request', 'out_of_stock', 'address_invalid'];
const FEEDBACK = new Weighted([
  [[1, 'Arrived broken, very disappointed'], 5],
  [[2, 'Not as described'], 7],
  [[3, 'Does the job'], 15],
  [[4, 'Good value for money'], 33],
  [[5, 'Excellent, would buy again'], 40],
] as const);
const AFTER_PAID = new Weighted<Phase>([
  ['complete', 92],
  ['cancel', 8],
]);
const EXPERIMENT_SHARE = 0.2;
const PAYMENT_SUCCESS = 0.95;
const PAYMENT_RETRY = 0.6;
const MAX_PAYMENT_ATTEMPTS = 3;

type OrderPayload = EventOf<'order.created'>['payload'];

export class Session {
  phase: Phase;
  private readonly sessionId: string;
  private readonly channel: Channel;
  private readonly ipHash: string;
  private readonly experimentId: string | undefined;
  private readonly cart: OrderLine[] = [];
  private viewed: Product | undefined;
  private order: OrderPayload | undefined;
  private paymentAttempts = 0;
  private paid = false;
  private landed = false;

  constructor(
    private readonly world: World,
    private readonly funnel: Funnel,
    private readonly user: User,
  ) {
    const rng = world.rng;
    this.sessionId = rng.uuid();
    this.channel = CHANNELS.pick(rng);
    this.ipHash = rng.hex(8);
    this.experimentId = rng.chance(EXPERIMENT_SHARE) ? `exp-${rng.int(8)}` : undefined;
    // In a store there is no browsing: the basket is scanned and paid at the till.
    if (this.channel === 'store') {
      for (let n = rng.between(1, 4); n > 0; n--) this.addToCart(world.product(), QUANTITIES.pick(rng));
      this.phase = 'checkout';
    } else {
      this.phase = 'browse';
    }
  }

  /** The event of the current phase, then a move to the next phase. */
  next(eventTime: string): TidewaterEvent {
    const event = this.emit(this.phase, eventTime);
    this.phase = this.following(this.phase);
    return event;
  }

  /** The event a phase produces (also how corrupt-record templates are made). */
  emit(phase: Phase, eventTime: string): TidewaterEvent {
    const rng = this.world.rng;
    switch (phase) {
      case 'browse': {
        const [pageType, path] = rng.pick(BROWSE_PAGES);
        const url = pageType === 'category' ? path + this.world.product().category : path;
        return this.pageView(eventTime, pageType, url, undefined);
      }
      case 'click':
        this.viewed = this.world.product();
        return this.event('product.click', eventTime, {
          productId: this.viewed.productId,
          position: rng.between(1, 24),
        });
      case 'product': {
        const { productId } = this.viewedProduct();
        return this.pageView(eventTime, 'product', `/p/${productId}`, productId);
      }
      case 'add': {
        const product = this.viewedProduct();
        const quantity = QUANTITIES.pick(rng);
        this.addToCart(product, quantity);
        return this.event('cart.add', eventTime, {
          productId: product.productId,
          quantity,
          unitPriceMinor: product.priceMinor,
        });
      }
      case 'remove': {
        const [line] = this.cart.length > 0 ? this.cart.splice(rng.int(this.cart.length), 1) : [];
        return this.event('cart.remove', eventTime, line ?? lineOf(this.viewedProduct(), 1));
      }
      case 'checkout':
        return this.event('order.created', eventTime, this.placeOrder());
      case 'pay': {
        const order = this.order ?? this.placeOrder();
        this.paid = rng.chance(PAYMENT_SUCCESS);
        this.paymentAttempts++;
        return this.event('payment.attempted', eventTime, {
          orderId: order.orderId,
          cardFingerprint: this.user.cardFingerprint,
          ipHash: this.ipHash,
          amountMinor: order.totalMinor,
          currency: order.currency,
          success: this.paid,
          declineCode: this.paid ? null : rng.pick(DECLINE_CODES),
        });
      }
      case 'complete':
        return this.event('order.completed', eventTime, this.order ?? this.placeOrder());
      case 'cancel':
        return this.event('order.cancelled', eventTime, {
          ...(this.order ?? this.placeOrder()),
          reason: rng.pick(CANCEL_REASONS),
        });
      case 'feedback': {
        const [rating, text] = FEEDBACK.pick(rng);
        return this.event('feedback.submitted', eventTime, {
          rating,
          text,
          productId: this.order?.lines[0]?.productId ?? this.viewed?.productId,
        });
      }
      case 'end':
        throw new Error('an ended session emits nothing');
    }
  }

  private following(phase: Phase): Phase {
    const rng = this.world.rng;
    if (phase === 'end') return 'end';
    if (phase === 'pay') {
      if (this.paid) return AFTER_PAID.pick(rng);
      return this.paymentAttempts < MAX_PAYMENT_ATTEMPTS && rng.chance(PAYMENT_RETRY) ? 'pay' : 'cancel';
    }
    const to = this.funnel[phase].pick(rng);
    // Removing from or paying for an empty cart is impossible: keep browsing instead.
    return (to === 'remove' || to === 'checkout') && this.cart.length === 0 ? 'browse' : to;
  }

  private pageView(
    eventTime: string,
    pageType: EventOf<'page.view'>['payload']['pageType'],
    url: string,
    productId: string | undefined,
  ): TidewaterEvent {
    const rng = this.world.rng;
    // Only the landing page has an external referrer.
    const referrer = this.landed ? undefined : rng.pick(REFERRERS);
    this.landed = true;
    return this.event('page.view', eventTime, {
      url,
      pageType,
      productId,
      referrer,
      experimentId: this.experimentId,
    });
  }

  private viewedProduct(): Product {
    this.viewed ??= this.world.product();
    return this.viewed;
  }

  private addToCart(product: Product, quantity: number): void {
    const line = this.cart.find((candidate) => candidate.productId === product.productId);
    if (line) line.quantity += quantity;
    else this.cart.push(lineOf(product, quantity));
  }

  private placeOrder(): OrderPayload {
    if (this.cart.length === 0) this.addToCart(this.viewedProduct(), 1);
    const lines = this.cart.map((line) => ({ ...line }));
    let totalMinor = 0;
    for (const line of lines) totalMinor += line.quantity * line.unitPriceMinor;
    const store = this.user.homeStore;
    this.order = {
      orderId: this.world.rng.uuid(),
      storeId: store.storeId,
      region: store.region,
      channel: this.channel,
      currency: CURRENCY,
      lines,
      totalMinor,
    };
    return this.order;
  }

  private event<T extends EventType>(eventType: T, eventTime: string, payload: EventOf<T>['payload']) {
    return this.world.event(eventType, eventTime, this.user.userId, this.sessionId, this.channel, payload);
  }
}

function lineOf(product: Product, quantity: number): OrderLine {
  return { productId: product.productId, quantity, unitPriceMinor: product.priceMinor };
}
