/**
 * `npm run generate`: writes `functions/core/deployed-config-schema.generated.ts` from the zod schema
 * (infra/packaging/schemas.ts) and formats it with Biome, as the repository's other files are.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { GENERATED_SCHEMA_FILE, generatedSchemaModule } from './schemas.js';

writeFileSync(GENERATED_SCHEMA_FILE, generatedSchemaModule());
const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
execFileSync(process.execPath, [biome, 'format', '--write', GENERATED_SCHEMA_FILE], { stdio: 'inherit' });
console.log(`wrote ${GENERATED_SCHEMA_FILE}`);
