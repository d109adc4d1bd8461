#!/usr/bin/env node
// The `lvmtorch` executable: the command line (program.ts) with one line of error on failure.
import { run } from './program.js';

run(process.argv.slice(2)).catch((e: Error & { code?: string; exitCode?: number }) => {
  // commander has printed help or its usage error itself.
  if (e.code?.startsWith('commander.')) process.exit(e.exitCode ?? 1);
  // One line, whatever the error: scripts read the first line of stderr.
  console.error(`lvmtorch: ${String(e.message).replace(/\s*\n\s*/g, '; ')}`);
  process.exit(1);
});
