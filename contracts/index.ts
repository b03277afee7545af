export { AVRO_NAMESPACE, type AvroSchema, avroSchemas, type EventAvroSchema, fromAvro } from './avro.ts';
export * from './catalog.ts';
export { compatibilityViolations, type JsonSchemaNode } from './compatibility.ts';
export { type DecodeResult, decodeEvent, parseRecord, RecordProblem } from './decode.ts';
export {
  buildDimensions,
  CATEGORIES,
  DEFAULT_DIMENSIONS_SEED,
  DIMENSION_FILES,
  type Dimensions,
  FULFILMENT_CENTRE_COUNT,
  FulfilmentCentre,
  type LiveDimensions,
  loadDimensions,
  loadPlatformDimensions,
  openPlatformDimensions,
  PRODUCT_COUNT,
  Product,
  REGIONS,
  STORE_COUNT,
  Store,
  writeDimensions,
} from './dimensions.ts';
export * from './events.ts';
export { describeIssues, formatPath } from './issues.ts';
export { type JsonTextProblem, jsonTextProblem, MAX_JSON_DEPTH } from './json-text.ts';
export { hex32, mix32, Rng, Weighted } from './random.ts';
export { MAX_STORABLE_TIME_MS, MIN_STORABLE_TIME_MS, storableProblem } from './storable.ts';
export { spellsExactly } from './verbatim.ts';
export {
  CURRENT_VERSIONS,
  type EventJsonSchema,
  eventSchemaAt,
  jsonSchemas,
  payloadVersions,
} from './versions.ts';
