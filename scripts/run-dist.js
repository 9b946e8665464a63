// Runs a compiled app from dist/ (the container entry point): resolves @parley/* to the compiled libs.
'use strict';
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist');
// dist/ mirrors the source tree, so tsconfig's own path map applies with dist/ as the base.
require('tsconfig-paths').register({
  baseUrl: dist,
  paths: require('../tsconfig.json').compilerOptions.paths,
});
const app = process.argv[2];
if (!/^(actors|projector|gateway)$/.test(app || '')) {
  console.error('usage: node scripts/run-dist.js actors|projector|gateway');
  process.exit(2);
}
require(path.join(dist, 'apps', app, 'src', 'main.js'));
