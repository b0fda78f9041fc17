#!/usr/bin/env node
// Thin launcher: all logic lives in the compiled dist/ (built by `npm ci` via `prepare`).
// A last line of defence: whatever escapes is reported as one line, never a stack trace.
const fatal = (err) => {
  process.stderr.write(`foldersync: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);

const { run } = await import('../dist/main.js');
const code = await run(process.argv);
process.exit(code);
