// A handful of hand-made retail events whose per-minute rollups are worked out by hand in the
// tests, plus the tiny dimension tables they reference.
import { type Dimensions, TidewaterEvent } from '../../contracts/index.ts';

export const FIXTURE_DIMENSIONS: Dimensions = {
  products: [
    { productId: 'P000001', name: 'Pro Speaker 101', category: 'electronics', priceMinor: 1000 },
    { productId: 'P000002', name: 'Classic Puzzle 202', category: 'toys', priceMinor: 550 },
    { productId: 'P000003', name: 'Eco Doll 303', category: 'toys', priceMinor: 333 },
  ],
  stores: [{ storeId: 'S0001', name: 'Houston Market S0001', region: 'texas' }],
  fulfilmentCentres: [{ fulfilmentCentreId: 'FC01', name: 'Reno Fulfilment Centre', region: 'mountain' }],
};

type Payload = Record<string, unknown>;

/**
 * The fixture's events on `day` (YYYY-MM-DD), minutes 10:00 and 10:01 UTC, in a deliberately
 * unsorted order (inventory updates arrive out of time order).
 */
export function fixtureEvents(day: string): TidewaterEvent[] {
  let n = 0;
  const event = (eventType: string, time: string, userId: string, payload: Payload) =>
    TidewaterEvent.parse({
      eventId: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
      eventType,
      eventTime: `${day}T${time}Z`,
      userId,
      sessionId: `s-${userId}`,
      payload,
      metadata: { source: 'test', schemaVersion: 1 },
    });
  const order = (orderId: string, region: string, channel: string, lines: [string, number, number][]) => ({
    orderId,
    storeId: 'S0001',
    region,
    channel,
    currency: 'USD',
    lines: lines.map(([productId, quantity, unitPriceMinor]) => ({ productId, quantity, unitPriceMinor })),
    totalMinor: lines.reduce((sum, [, quantity, price]) => sum + quantity * price, 0),
  });
  const o1 = order('o1', 'texas', 'web', [
    ['P000001', 2, 1000],
    ['P000002', 1, 550],
  ]);
  const payment = (card: string, ipHash: string, amountMinor: number, success: boolean) => ({
    cardFingerprint: card,
    ipHash,
    amountMinor,
    currency: 'USD',
    success,
    declineCode: success ? null : 'do_not_honor',
  });
  const inventory = (locationId: string, productId: string, onHand: number) => ({
    locationId,
    locationType: locationId.startsWith('FC') ? 'fc' : 'store',
    productId,
    onHand,
    delta: -1,
  });
  return [
    event('order.created', '10:00:05.000', 'u1', o1),
    event('order.created', '10:00:40.000', 'u2', order('o2', 'texas', 'app', [['P000001', 1, 1000]])),
    event('order.created', '10:01:10.000', 'u1', order('o3', 'california', 'web', [['P000003', 3, 333]])),
    event('order.completed', '10:01:20.000', 'u1', o1),
    event('page.view', '10:00:10.000', 'u3', {
      url: '/p/P000001',
      pageType: 'product',
      productId: 'P000001',
    }),
    event('page.view', '10:00:11.000', 'u3', { url: '/', pageType: 'home' }),
    event('product.click', '10:00:12.000', 'u3', { productId: 'P000001', position: 3 }),
    event('product.click', '10:00:50.000', 'u4', { productId: 'P000002' }),
    event('page.view', '10:01:00.000', 'u1', {
      url: '/p/P000002',
      pageType: 'product',
      productId: 'P000002',
    }),
    event('cart.add', '10:00:20.000', 'u3', { productId: 'P000001', quantity: 2, unitPriceMinor: 1000 }),
    event('cart.add', '10:00:55.000', 'u4', { productId: 'P000002', quantity: 1, unitPriceMinor: 550 }),
    event('cart.remove', '10:00:30.000', 'u3', { productId: 'P000001', quantity: 1, unitPriceMinor: 1000 }),
    event('inventory.update', '10:00:30.000', 'sys-S0001', inventory('S0001', 'P000001', 0)),
    event('inventory.update', '10:00:01.000', 'sys-S0001', inventory('S0001', 'P000001', 5)),
    event('inventory.update', '10:00:45.000', 'sys-FC01', inventory('FC01', 'P000002', 7)),
    event('inventory.update', '10:01:05.000', 'sys-S0001', inventory('S0001', 'P000001', 12)),
    event('payment.attempted', '10:00:15.000', 'u5', payment('card-1', 'ip-a', 100, false)),
    event('payment.attempted', '10:00:16.000', 'u5', payment('card-1', 'ip-b', 200, false)),
    event('payment.attempted', '10:00:17.000', 'u5', payment('card-1', 'ip-a', 300, true)),
    event('payment.attempted', '10:01:30.000', 'u2', payment('card-2', 'ip-c', 50, false)),
    event('feedback.submitted', '10:01:40.000', 'u1', { rating: 5, text: 'Great', productId: 'P000001' }),
  ];
}
