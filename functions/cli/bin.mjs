#!/usr/bin/env node
// The `token-refresher` bin: registers tsx (a devDependency: the CLI runs from a checkout of this
// repository, TypeScript as it is) and runs the CLI in functions/cli/main.ts.
import { register } from 'tsx/esm/api';

// The AWS SDK's own switch for its start-up notice that future versions will need Node.js 22: the
// project supports Node.js >= 20.19 (package.json engines), and the notice would clutter every run.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();
const { run } = await import('./main.ts');
process.exitCode = await run(process.argv.slice(2));
