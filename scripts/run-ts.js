// Runs a TypeScript entry point from source (no build step): ts-node transpile-only + tsconfig paths.
require('ts-node').register({ transpileOnly: true, project: `${__dirname}/../tsconfig.json` });
require('tsconfig-paths').register({
  baseUrl: `${__dirname}/..`,
  paths: require('../tsconfig.json').compilerOptions.paths,
});
const entry = process.argv[2];
if (!entry) {
  console.error('usage: node scripts/run-ts.js <file.ts> [args…]');
  process.exit(2);
}
process.argv.splice(1, 1);
require(require('path').resolve(entry));
