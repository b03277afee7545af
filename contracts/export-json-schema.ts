// Writes <dir>/<eventType>.v<version>.json for every contract version.
// Usage: node --import tsx contracts/export-json-schema.ts <dir>
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonSchemas } from './versions.ts';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: export-json-schema.ts <output-dir>');
  process.exit(2);
}
await mkdir(dir, { recursive: true });
const schemas = jsonSchemas();
for (const { eventType, version, schema } of schemas) {
  await writeFile(join(dir, `${eventType}.v${version}.json`), `${JSON.stringify(schema, null, 2)}\n`);
}
console.log(`wrote ${schemas.length} schemas to ${dir}`);
