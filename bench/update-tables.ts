/**
 * `npm run bench:tables`: rewrites the generated results tables in README.md
 * and bench/README.md from the runs bench/results/latest.json names.
 * `--check` changes nothing and exits 1 when a table is out of date.
 *
 *   node dist/bench/update-tables.js [--check]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { packageRoot } from '../src/version.js';
import { generatedDocuments } from './tables.js';

function main(): number {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
  const root = packageRoot();
  const stale = generatedDocuments(root).filter((d) => d.current !== d.generated);
  if (values.check) {
    for (const d of stale) process.stderr.write(`${d.path}: the results table differs from bench/results/latest.json (run npm run bench:tables)\n`);
    return stale.length === 0 ? 0 : 1;
  }
  for (const d of stale) writeFileSync(join(root, d.path), d.generated);
  process.stdout.write(stale.length === 0 ? 'tables already up to date\n' : `updated ${stale.map((d) => d.path).join(', ')}\n`);
  return 0;
}

process.exitCode = main();
