#!/usr/bin/env node
// Thin launcher: all logic lives in the compiled dist/ (built by `npm ci` via `prepare`).
import { run } from '../dist/main.js';

run(process.argv).then((code) => {
  process.exitCode = code;
});
