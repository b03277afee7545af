// Writes every version of every contract: <dir>/<eventType>.v<version>.json (JSON Schema), or with
// `--format avro` <dir>/<eventType>.v<version>.avsc (Avro, for a schema registry).
// Usage: node --import tsx contracts/export-schemas.ts <dir> [--format json|avro]
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { avroSchemas } from './avro.ts';
import { jsonSchemas } from './versions.ts';

const [dir, flag, format = 'json'] = process.argv.slice(2);
if (!dir || (flag !== undefined && flag !== '--format') || (format !== 'json' && format !== 'avro')) {
  console.error('usage: export-schemas.ts <output-dir> [--format json|avro]');
  process.exit(2);
}
await mkdir(dir, { recursive: true });
const schemas = format === 'avro' ? avroSchemas() : jsonSchemas();
for (const { eventType, version, schema } of schemas) {
  const file = join(dir, `${eventType}.v${version}.${format === 'avro' ? 'avsc' : 'json'}`);
  await writeFile(file, `${JSON.stringify(schema, null, 2)}\n`);
}
console.log(`wrote ${schemas.length} ${format === 'avro' ? 'Avro' : 'JSON'} schemas to ${dir}`);
