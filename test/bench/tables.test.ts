/**
 * The published benchmark figures: the results tables in README.md and
 * bench/README.md must be exactly what `npm run bench:tables` generates from
 * the runs bench/results/latest.json names, so they cannot drift from the
 * committed results.
 */
import { describe, expect, it } from 'vitest';

import { beginMarker, endMarker, generatedDocuments, latestNamedRuns, replaceBlock } from '../../bench/tables.js';
import { join } from 'node:path';
import { ROOT } from '../support/sim.js';

describe('generated benchmark tables', () => {
  const documents = generatedDocuments(ROOT);

  it.each(documents.map((d) => [d.path, d] as const))('%s holds the tables generated from bench/results/latest.json', (_path, document) => {
    expect(document.current).toBe(document.generated);
  });

  it('show every goal of the latest runs', () => {
    const runs = latestNamedRuns(join(ROOT, 'bench', 'results'));
    const [readme, benchReadme] = documents;
    for (const goal of (runs.full ?? runs.quick)?.run.goals ?? []) {
      expect(readme!.current, goal.id).toContain(`| ${goal.description} |`);
      expect(benchReadme!.current, goal.id).toContain(`| \`${goal.id}\` |`);
    }
  });

  it('replace only what lies between the markers, and refuse a document without them', () => {
    const text = `before\n${beginMarker('readme')}\nold table\n${endMarker('readme')}\nafter\n`;
    expect(replaceBlock(text, 'readme', 'new table', 'X.md')).toBe(`before\n${beginMarker('readme')}\nnew table\n${endMarker('readme')}\nafter\n`);
    expect(() => replaceBlock('no markers', 'readme', 'new', 'X.md')).toThrow(/X\.md: the markers of the generated readme table are missing/);
  });
});
