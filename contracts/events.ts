// Event contracts: one envelope, one payload schema per retail event type, and the discriminated
// union the quality gate validates against. Payload schemas are versioned in versions.ts.
import { z } from 'zod';

/** Upper bound on one encoded event; larger records are rejected before JSON parsing. */
export const MAX_EVENT_BYTES = 16 * 1024;
export const MAX_FEEDBACK_TEXT_LENGTH = 2000;

export const CHANNELS = ['web', 'app', 'store', 'marketplace'] as const;
export const LOCATION_TYPES = ['store', 'fc'] as const;

// Ids are shape-checked here; whether they exist in the dimensions is a referential quality rule.
export const ProductId = z.string().regex(/^P\d{6}$/);
export const StoreId = z.string().regex(/^S\d{4}$/);
export const FulfilmentCentreId = z.string().regex(/^FC\d{2}$/);
export const Currency = z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code');
const Id = z.string().min(1).max(64);
const MinorUnits = z.int().min(0);

export const OrderLine = z.object({
  productId: ProductId,
  quantity: z.int().positive(),
  unitPriceMinor: MinorUnits,
});

export const OrderPayload = z.object({
  orderId: Id,
  storeId: StoreId,
  region: z.string().min(1).max(64),
  channel: z.enum(CHANNELS),
  currency: Currency,
  lines: z.array(OrderLine).min(1),
  totalMinor: MinorUnits,
});

export const OrderCancelledPayload = OrderPayload.extend({ reason: z.string().max(200).optional() });

export const PageViewPayloadV1 = z.object({
  url: z.string().min(1).max(2048),
  pageType: z.enum(['home', 'category', 'search', 'product', 'cart', 'checkout']),
  productId: ProductId.optional(),
  referrer: z.string().max(2048).optional(),
});

/** v2: A/B test attribution. Optional, so every v1 page view is still a valid v2 page view. */
export const PageViewPayloadV2 = PageViewPayloadV1.extend({ experimentId: Id.optional() });

export const ProductClickPayload = z.object({
  productId: ProductId,
  position: z.int().positive().optional(),
});

export const CartPayload = z.object({
  productId: ProductId,
  quantity: z.int().positive(),
  unitPriceMinor: MinorUnits,
});

export const InventoryUpdatePayload = z.object({
  locationId: z.union([StoreId, FulfilmentCentreId]),
  locationType: z.enum(LOCATION_TYPES),
  productId: ProductId,
  onHand: z.int().min(0),
  delta: z.int(),
});

export const PaymentAttemptedPayload = z.object({
  orderId: Id.optional(),
  cardFingerprint: Id,
  ipHash: Id,
  amountMinor: MinorUnits,
  currency: Currency,
  success: z.boolean(),
  declineCode: z.string().max(64).nullable().optional(),
});

export const FeedbackSubmittedPayload = z.object({
  rating: z.int().min(1).max(5),
  text: z.string().max(MAX_FEEDBACK_TEXT_LENGTH),
  productId: ProductId.optional(),
});

export const Metadata = z.object({
  source: z.string().min(1).max(128),
  // Any version is readable: later versions only add optional fields (docs/contracts.md).
  schemaVersion: z.int().positive(),
});

/** The envelope of one event type carrying one payload version. */
export function eventSchema<T extends string, P extends z.ZodObject>(eventType: T, payload: P) {
  return z.object({
    eventId: z.uuid(),
    eventType: z.literal(eventType),
    eventTime: z.iso.datetime({ offset: true }),
    userId: Id,
    sessionId: Id,
    payload,
    metadata: Metadata,
  });
}

export const OrderCreatedEvent = eventSchema('order.created', OrderPayload);
export const OrderCompletedEvent = eventSchema('order.completed', OrderPayload);
export const OrderCancelledEvent = eventSchema('order.cancelled', OrderCancelledPayload);
export const PageViewEvent = eventSchema('page.view', PageViewPayloadV2);
export const ProductClickEvent = eventSchema('product.click', ProductClickPayload);
export const CartAddEvent = eventSchema('cart.add', CartPayload);
export const CartRemoveEvent = eventSchema('cart.remove', CartPayload);
export const InventoryUpdateEvent = eventSchema('inventory.update', InventoryUpdatePayload);
export const PaymentAttemptedEvent = eventSchema('payment.attempted', PaymentAttemptedPayload);
export const FeedbackSubmittedEvent = eventSchema('feedback.submitted', FeedbackSubmittedPayload);

export type OrderCreatedEvent = z.infer<typeof OrderCreatedEvent>;
export type OrderCompletedEvent = z.infer<typeof OrderCompletedEvent>;
export type OrderCancelledEvent = z.infer<typeof OrderCancelledEvent>;
export type PageViewEvent = z.infer<typeof PageViewEvent>;
export type ProductClickEvent = z.infer<typeof ProductClickEvent>;
export type CartAddEvent = z.infer<typeof CartAddEvent>;
export type CartRemoveEvent = z.infer<typeof CartRemoveEvent>;
export type InventoryUpdateEvent = z.infer<typeof InventoryUpdateEvent>;
export type PaymentAttemptedEvent = z.infer<typeof PaymentAttemptedEvent>;
export type FeedbackSubmittedEvent = z.infer<typeof FeedbackSubmittedEvent>;
export type OrderLine = z.infer<typeof OrderLine>;
export type Channel = (typeof CHANNELS)[number];

// The one list of live event schemas; the union, the by-type map and EVENT_TYPES derive from it.
const LATEST_SCHEMAS = [
  OrderCreatedEvent,
  OrderCompletedEvent,
  OrderCancelledEvent,
  PageViewEvent,
  ProductClickEvent,
  CartAddEvent,
  CartRemoveEvent,
  InventoryUpdateEvent,
  PaymentAttemptedEvent,
  FeedbackSubmittedEvent,
] as const;

type LatestSchema = (typeof LATEST_SCHEMAS)[number];
export type EventType = LatestSchema['shape']['eventType']['value'];

/** Latest schema of every event type, keyed by eventType. */
export const EVENT_SCHEMAS = Object.fromEntries(
  LATEST_SCHEMAS.map((schema) => [schema.shape.eventType.value, schema]),
) as { readonly [S in LatestSchema as S['shape']['eventType']['value']]: S };

export const EVENT_TYPES: readonly EventType[] = LATEST_SCHEMAS.map((schema) => schema.shape.eventType.value);

export const TidewaterEvent = z.discriminatedUnion('eventType', LATEST_SCHEMAS);
export type TidewaterEvent = z.infer<typeof TidewaterEvent>;
/** The event of one type, e.g. `EventOf<'cart.add'>`. */
export type EventOf<T extends EventType> = Extract<TidewaterEvent, { eventType: T }>;
