// The built-in expectation suites, one per event type, assembled from shared rule builders so that
// one check (a product reference, a money amount) keeps one id whichever type carries it.
import { type EventType, REGIONS, type TidewaterEvent } from '../contracts/index.ts';
import type { Rule } from './rules.ts';

export type Suites = Readonly<Record<EventType, readonly Rule[]>>;

const SUPPORTED_CURRENCIES = ['USD', 'EUR', 'GBP', 'CAD'] as const;
/** Above this a line is far likelier a typo or a bot than a shopper. */
const MAX_PLAUSIBLE_QUANTITY = 1000;

const notInFuture: Rule = {
  id: 'event.time_not_in_future',
  kind: 'freshness',
  severity: 'quarantine',
  message: 'is later than arrival plus the clock-skew allowance',
};

const productExists = (field: string): Rule => ({
  id: 'ref.product_exists',
  kind: 'exists_in',
  dimension: 'products',
  field,
  severity: 'quarantine',
  message: 'is not in the product dimension',
});

const nonNegativeMoney = (field: string): Rule => ({
  id: 'money.non_negative',
  kind: 'range',
  field,
  min: 0,
  severity: 'quarantine',
  message: 'is a negative money amount',
});

const plausibleQuantity = (field: string): Rule => ({
  id: 'quantity.plausible',
  kind: 'range',
  field,
  min: 1,
  max: MAX_PLAUSIBLE_QUANTITY,
  severity: 'warn',
  message: `is outside 1..${MAX_PLAUSIBLE_QUANTITY}`,
});

const currencySupported = (field: string): Rule => ({
  id: 'currency.supported',
  kind: 'in_set',
  field,
  values: SUPPORTED_CURRENCIES,
  severity: 'quarantine',
  message: `is not one of ${SUPPORTED_CURRENCIES.join(', ')}`,
});

/** Exact integer arithmetic: amounts are minor units, so any difference is a real mismatch. */
function totalMatchesLines({ payload }: TidewaterEvent): string | undefined {
  if (!('lines' in payload)) return undefined;
  let sum = 0;
  for (const line of payload.lines) sum += line.quantity * line.unitPriceMinor;
  return sum === payload.totalMinor
    ? undefined
    : `payload.totalMinor: ${payload.totalMinor} differs from the sum of quantity * unitPriceMinor over lines (${sum})`;
}

const order: readonly Rule[] = [
  notInFuture,
  productExists('payload.lines[*].productId'),
  {
    id: 'ref.store_exists',
    kind: 'exists_in',
    dimension: 'stores',
    field: 'payload.storeId',
    severity: 'quarantine',
    message: 'is not in the store dimension',
  },
  {
    id: 'order.region_known',
    kind: 'in_set',
    field: 'payload.region',
    values: REGIONS,
    severity: 'quarantine',
    message: 'is not a known region',
  },
  currencySupported('payload.currency'),
  nonNegativeMoney('payload.totalMinor'),
  nonNegativeMoney('payload.lines[*].unitPriceMinor'),
  plausibleQuantity('payload.lines[*].quantity'),
  {
    id: 'order.total_matches_lines',
    kind: 'custom',
    check: totalMatchesLines,
    severity: 'quarantine',
    message: 'totalMinor equals the sum of quantity * unitPriceMinor over lines',
  },
];

const cart: readonly Rule[] = [
  notInFuture,
  productExists('payload.productId'),
  nonNegativeMoney('payload.unitPriceMinor'),
  plausibleQuantity('payload.quantity'),
];

const locationMatchesType = (locationType: string, pattern: RegExp): Rule => ({
  id: 'inventory.location_matches_type',
  kind: 'pattern',
  field: 'payload.locationId',
  pattern,
  when: { field: 'payload.locationType', equals: locationType },
  severity: 'quarantine',
  message: `is not a ${locationType} id`,
});

export const DEFAULT_SUITES: Suites = {
  'order.created': order,
  'order.completed': order,
  'order.cancelled': order,
  'cart.add': cart,
  'cart.remove': cart,
  'page.view': [
    notInFuture,
    productExists('payload.productId'),
    {
      id: 'page.product_view_names_product',
      kind: 'not_null',
      field: 'payload.productId',
      when: { field: 'payload.pageType', equals: 'product' },
      severity: 'warn',
      message: 'is missing on a product page view',
    },
    {
      id: 'page.url_is_path',
      kind: 'pattern',
      field: 'payload.url',
      pattern: /^\//,
      severity: 'warn',
      message: 'is not a site-relative path',
    },
  ],
  'product.click': [notInFuture, productExists('payload.productId')],
  'inventory.update': [
    notInFuture,
    productExists('payload.productId'),
    {
      id: 'ref.location_exists',
      kind: 'exists_in',
      dimension: 'locations',
      field: 'payload.locationId',
      severity: 'quarantine',
      message: 'is neither a store nor a fulfilment centre',
    },
    locationMatchesType('store', /^S/),
    locationMatchesType('fc', /^FC/),
  ],
  'payment.attempted': [
    notInFuture,
    nonNegativeMoney('payload.amountMinor'),
    currencySupported('payload.currency'),
    {
      id: 'payment.decline_code_on_failure',
      kind: 'not_null',
      field: 'payload.declineCode',
      when: { field: 'payload.success', equals: false },
      severity: 'warn',
      message: 'is missing on a declined payment',
    },
  ],
  'feedback.submitted': [notInFuture, productExists('payload.productId')],
};
