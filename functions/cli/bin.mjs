#!/usr/bin/env node
// The `token-refresher` bin of this repository: registers tsx (a devDependency: the CLI runs from a
// checkout, TypeScript as it is) and runs functions/cli/entry.ts. The published @token-refresher/cdk
// ships a compiled bin instead (infra/packaging/cdk.ts), which needs no tsx.
import { register } from 'tsx/esm/api';

register();
await import('./entry.ts');
