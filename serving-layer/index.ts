export { API_VERSION, buildServer } from './app.ts';
export type { ServingOptions } from './context.ts';
export { buildDashboard, DASHBOARD_DIST_DIR } from './dashboard-assets.ts';
export { ApiError } from './errors.ts';
export type { IngestAnswer, IngestOptions } from './ingest.ts';
export { type ApiKey, isRole, KeyStore, ROLES, type Role } from './keys.ts';
export { type Boundary, type Layer, planSegments, type Segment } from './merge-plan.ts';
export { type Serving, startServing } from './serve.ts';
export type { SqlLimits } from './sql/index.ts';
