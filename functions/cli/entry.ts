/**
 * The `token-refresher` process: runs {@link run} on the command line and sets the exit code. Its two
 * launchers: `bin.mjs` (this repository: registers tsx, then imports this file) and the compiled bin
 * of `@token-refresher/cdk` (this file bundled by esbuild, `infra/packaging/cdk.ts`).
 */

// The AWS SDK's own switch for its start-up notice that future versions will need Node.js 22: the
// project supports Node.js >= 20.19 (package.json engines), and the notice would clutter every run.
// Set before main.js loads the SDK (the import below is dynamic so that it runs after this line).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { run } = await import('./main.js');
process.exitCode = await run(process.argv.slice(2));
