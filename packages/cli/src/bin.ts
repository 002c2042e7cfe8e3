#!/usr/bin/env node
/** tablemesh — the CLI (SPEC §8). Everything is in program.ts; this only runs it and exits with its code. */
import { run } from './program.js';

process.exitCode = await run(process.argv.slice(2));
