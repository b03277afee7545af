// Reference data (products, stores, fulfilment centres), deterministic from a seed, written as
// NDJSON so ClickHouse (JSONEachRow) and DuckDB (read_json) load it as is.
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { FulfilmentCentreId, ProductId, StoreId } from './events.ts';
import { Rng, Weighted } from './random.ts';

export const PRODUCT_COUNT = 5000;
export const STORE_COUNT = 1200;
export const FULFILMENT_CENTRE_COUNT = 8;
/** The seed used when callers do not choose one, so every layer agrees on the catalog. */
export const DEFAULT_DIMENSIONS_SEED = 1;

// weight: share of stores; cities: names for stores in the region.
const REGION_TABLE = [
  { region: 'northeast', weight: 9, cities: ['Boston', 'Hartford', 'Providence', 'Portland ME'] },
  { region: 'mid-atlantic', weight: 12, cities: ['New York', 'Philadelphia', 'Newark', 'Baltimore'] },
  { region: 'southeast', weight: 10, cities: ['Atlanta', 'Charlotte', 'Nashville', 'Raleigh'] },
  { region: 'florida', weight: 7, cities: ['Miami', 'Orlando', 'Tampa', 'Jacksonville'] },
  { region: 'great-lakes', weight: 10, cities: ['Chicago', 'Detroit', 'Cleveland', 'Milwaukee'] },
  { region: 'midwest', weight: 6, cities: ['Minneapolis', 'St. Louis', 'Kansas City', 'Omaha'] },
  { region: 'plains', weight: 3, cities: ['Wichita', 'Sioux Falls', 'Fargo', 'Tulsa'] },
  { region: 'texas', weight: 10, cities: ['Houston', 'Dallas', 'Austin', 'San Antonio'] },
  { region: 'mountain', weight: 5, cities: ['Denver', 'Salt Lake City', 'Boise', 'Albuquerque'] },
  { region: 'southwest', weight: 6, cities: ['Phoenix', 'Las Vegas', 'Tucson', 'El Paso'] },
  { region: 'california', weight: 14, cities: ['Los Angeles', 'San Francisco', 'San Diego', 'Sacramento'] },
  { region: 'pacific-northwest', weight: 5, cities: ['Seattle', 'Portland OR', 'Spokane', 'Tacoma'] },
] as const;

export const REGIONS: readonly string[] = REGION_TABLE.map((entry) => entry.region);

// Prices in minor units; a product's price is drawn log-uniformly in [min, max] and ends in 99.
const CATEGORY_TABLE = [
  {
    category: 'electronics',
    min: 1_999,
    max: 199_999,
    nouns: ['Headphones', 'Speaker', 'Television', 'Camera'],
  },
  { category: 'computers', min: 2_999, max: 299_999, nouns: ['Laptop', 'Monitor', 'Keyboard', 'Router'] },
  { category: 'mobile', min: 999, max: 149_999, nouns: ['Phone', 'Tablet', 'Charger', 'Phone Case'] },
  {
    category: 'appliances',
    min: 2_999,
    max: 249_999,
    nouns: ['Blender', 'Vacuum', 'Microwave', 'Air Fryer'],
  },
  { category: 'furniture', min: 4_999, max: 199_999, nouns: ['Sofa', 'Desk', 'Bookshelf', 'Armchair'] },
  { category: 'kitchen', min: 499, max: 29_999, nouns: ['Skillet', 'Knife Set', 'Mixing Bowl', 'Kettle'] },
  { category: 'home-decor', min: 999, max: 39_999, nouns: ['Lamp', 'Rug', 'Mirror', 'Throw Pillow'] },
  { category: 'garden', min: 499, max: 59_999, nouns: ['Hose', 'Planter', 'Lawn Mower', 'Pruner'] },
  { category: 'tools', min: 799, max: 49_999, nouns: ['Drill', 'Wrench Set', 'Saw', 'Tool Box'] },
  { category: 'toys', min: 499, max: 14_999, nouns: ['Puzzle', 'Board Game', 'Building Set', 'Doll'] },
  { category: 'baby', min: 399, max: 39_999, nouns: ['Stroller', 'Diapers', 'Bottle Set', 'Car Seat'] },
  { category: 'beauty', min: 299, max: 9_999, nouns: ['Moisturiser', 'Lipstick', 'Shampoo', 'Perfume'] },
  {
    category: 'health',
    min: 299,
    max: 19_999,
    nouns: ['Vitamins', 'Thermometer', 'First Aid Kit', 'Toothbrush'],
  },
  { category: 'grocery', min: 99, max: 2_999, nouns: ['Coffee', 'Pasta', 'Olive Oil', 'Cereal'] },
  { category: 'beverages', min: 99, max: 4_999, nouns: ['Sparkling Water', 'Juice', 'Tea', 'Cola'] },
  { category: 'pet-supplies', min: 299, max: 14_999, nouns: ['Dog Food', 'Cat Litter', 'Pet Bed', 'Leash'] },
  { category: 'sports', min: 999, max: 99_999, nouns: ['Yoga Mat', 'Dumbbells', 'Bicycle', 'Tennis Racket'] },
  { category: 'outdoors', min: 999, max: 59_999, nouns: ['Tent', 'Backpack', 'Sleeping Bag', 'Cooler'] },
  { category: 'apparel', min: 799, max: 29_999, nouns: ['T-Shirt', 'Jacket', 'Jeans', 'Sweater'] },
  { category: 'footwear', min: 1_499, max: 24_999, nouns: ['Sneakers', 'Boots', 'Sandals', 'Loafers'] },
] as const;

export const CATEGORIES: readonly string[] = CATEGORY_TABLE.map((entry) => entry.category);

const ADJECTIVES = [
  'Classic',
  'Essential',
  'Premium',
  'Compact',
  'Deluxe',
  'Eco',
  'Pro',
  'Everyday',
  'Ultra',
  'Smart',
];
const STORE_FORMATS = ['Superstore', 'Market', 'Express', 'Outlet'];

export const Product = z.object({
  productId: ProductId,
  name: z.string().min(1),
  category: z.enum(CATEGORIES as [string, ...string[]]),
  priceMinor: z.int().positive(),
});
export const Store = z.object({ storeId: StoreId, name: z.string().min(1), region: z.string().min(1) });
export const FulfilmentCentre = z.object({
  fulfilmentCentreId: FulfilmentCentreId,
  name: z.string().min(1),
  region: z.string().min(1),
});
export type Product = z.infer<typeof Product>;
export type Store = z.infer<typeof Store>;
export type FulfilmentCentre = z.infer<typeof FulfilmentCentre>;

export interface Dimensions {
  products: Product[];
  stores: Store[];
  fulfilmentCentres: FulfilmentCentre[];
}

/** File name of each dimension table inside the directory given to write/loadDimensions. */
export const DIMENSION_FILES = {
  products: 'products.ndjson',
  stores: 'stores.ndjson',
  fulfilmentCentres: 'fulfilment_centres.ndjson',
} as const satisfies Record<keyof Dimensions, string>;

const pad = (n: number, width: number) => String(n).padStart(width, '0');

function priceMinor(rng: Rng, min: number, max: number): number {
  const raw = Math.exp(Math.log(min) + rng.float() * (Math.log(max) - Math.log(min)));
  return Math.max(99, Math.floor(raw / 100) * 100 + 99);
}

export function buildDimensions(seed: number = DEFAULT_DIMENSIONS_SEED): Dimensions {
  const rng = new Rng(seed);
  const products = Array.from({ length: PRODUCT_COUNT }, (_, i): Product => {
    const { category, min, max, nouns } = rng.pick(CATEGORY_TABLE);
    return {
      productId: `P${pad(i + 1, 6)}`,
      name: `${rng.pick(ADJECTIVES)} ${rng.pick(nouns)} ${rng.between(100, 999)}`,
      category,
      priceMinor: priceMinor(rng, min, max),
    };
  });
  const regionByWeight = new Weighted(REGION_TABLE.map((entry) => [entry, entry.weight] as const));
  // The first stores go round-robin so that every region has at least one.
  const stores = Array.from({ length: STORE_COUNT }, (_, i): Store => {
    const { region, cities } = REGION_TABLE[i] ?? regionByWeight.pick(rng);
    const storeId = `S${pad(i + 1, 4)}`;
    return { storeId, name: `${rng.pick(cities)} ${rng.pick(STORE_FORMATS)} ${storeId}`, region };
  });
  const fulfilmentCentres = Array.from({ length: FULFILMENT_CENTRE_COUNT }, (_, i): FulfilmentCentre => {
    const { region, cities } = regionByWeight.pick(rng);
    return {
      fulfilmentCentreId: `FC${pad(i + 1, 2)}`,
      name: `${rng.pick(cities)} Fulfilment Centre`,
      region,
    };
  });
  return { products, stores, fulfilmentCentres };
}

const toNdjson = (rows: readonly object[]) => rows.map((row) => `${JSON.stringify(row)}\n`).join('');

/** Writes the three NDJSON tables into `dir` (created if missing) and returns what it wrote. */
export async function writeDimensions(
  dir: string,
  seed: number = DEFAULT_DIMENSIONS_SEED,
): Promise<Dimensions> {
  const dimensions = buildDimensions(seed);
  await mkdir(dir, { recursive: true });
  await Promise.all(
    (Object.keys(DIMENSION_FILES) as (keyof Dimensions)[]).map((table) =>
      writeFile(join(dir, DIMENSION_FILES[table]), toNdjson(dimensions[table])),
    ),
  );
  return dimensions;
}

async function readTable<T>(file: string, schema: z.ZodType<T>): Promise<T[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => schema.parse(JSON.parse(line)));
}

/** Reads and validates tables written by writeDimensions. */
export async function loadDimensions(dir: string): Promise<Dimensions> {
  const [products, stores, fulfilmentCentres] = await Promise.all([
    readTable(join(dir, DIMENSION_FILES.products), Product),
    readTable(join(dir, DIMENSION_FILES.stores), Store),
    readTable(join(dir, DIMENSION_FILES.fulfilmentCentres), FulfilmentCentre),
  ]);
  return { products, stores, fulfilmentCentres };
}

/**
 * The platform's shared dimensions in `<dataDir>/dimensions`, written from the default seed on first
 * use. Every process reads the same files, so the generator, the gate's referential rules and the
 * enrichment of both layers agree. The directory appears whole (written aside, then renamed), so a
 * crash mid-write never leaves half a catalog.
 */
export async function loadPlatformDimensions(dataDir: string): Promise<Dimensions> {
  const dir = join(dataDir, 'dimensions');
  try {
    return await loadDimensions(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const staging = `${dir}.${process.pid}.tmp`;
  await rm(staging, { recursive: true, force: true });
  const dimensions = await writeDimensions(staging);
  try {
    await rename(staging, dir);
  } catch (err) {
    // Another process published the directory first; theirs is identical (same seed).
    await rm(staging, { recursive: true, force: true });
    if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
  return dimensions;
}

/** What identifies a version of the dimension files: their sizes and modification times. */
async function dimensionsStamp(dir: string): Promise<string> {
  const stats = await Promise.all(Object.values(DIMENSION_FILES).map((file) => stat(join(dir, file))));
  return stats.map((s) => `${s.size}:${s.mtimeMs}`).join(',');
}

/**
 * The platform's dimensions as one process holds them: loaded once, refreshed from the files, and
 * handed to every subscriber. One serves every gate of a process (the speed layer's and the lake
 * writer's), so that after a change both layers judge an event by the same dimensions.
 */
export interface LiveDimensions {
  /** The newest dimensions that loaded and validated. */
  readonly current: Dimensions;
  /** Calls `listener` with each refreshed set from now on; returns what ends that. */
  subscribe(listener: (dimensions: Dimensions) => Promise<void>): () => void;
  stop(): void;
}

/**
 * Loads the platform's dimensions (loadPlatformDimensions) and, when `refreshMs` > 0, looks at the
 * files every `refreshMs`: when they changed they are loaded and handed to every subscriber. Files
 * that cannot be read or fail validation (a copy in progress, a bad edit) go to `failed`, and the
 * last good dimensions stay in use; so does a subscriber's failure.
 */
export async function openPlatformDimensions(
  dataDir: string,
  refreshMs: number,
  failed: (error: Error) => void,
): Promise<LiveDimensions> {
  const dir = join(dataDir, 'dimensions');
  let current = await loadPlatformDimensions(dataDir);
  let seen = await dimensionsStamp(dir).catch(() => undefined);
  const listeners = new Set<(dimensions: Dimensions) => Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const look = async () => {
    const stamp = await dimensionsStamp(dir);
    if (stamp === seen) return;
    const next = await loadDimensions(dir);
    current = next;
    seen = stamp;
    const results = await Promise.allSettled([...listeners].map((listener) => listener(next)));
    for (const result of results) if (result.status === 'rejected') failed(result.reason as Error);
  };
  const schedule = () => {
    timer = setTimeout(() => {
      look()
        .catch((error: Error) => failed(error))
        .finally(() => {
          if (!stopped) schedule();
        });
    }, refreshMs);
    timer.unref();
  };
  if (refreshMs > 0) schedule();
  return {
    get current() {
      return current;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
