/**
 * `npm run dashboards`: writes every dashboard of grafana/dashboards/index.ts
 * as JSON into grafana/dashboards/, where Grafana's file provisioning (see
 * grafana/provisioning/dashboards/kvm_exporter.yml) picks them up.
 *
 * Runs compiled (dist/grafana/generate.js), so the output folder is found
 * from the package root rather than from this file's location.
 */

import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDashboards, renderDashboard } from './dashboards/index.js';

/** The nearest folder above `start` that holds package.json. */
export function packageRoot(start: string): string {
  let folder = start;
  while (!existsSync(join(folder, 'package.json'))) {
    const parent = dirname(folder);
    if (parent === folder) {
      throw new Error(`grafana/generate.ts: no package.json in ${start} or any folder above it`);
    }
    folder = parent;
  }
  return folder;
}

function main(): void {
  const root = packageRoot(dirname(fileURLToPath(import.meta.url)));
  const outputFolder = join(root, 'grafana', 'dashboards');
  for (const { file, dashboard } of buildDashboards()) {
    const path = join(outputFolder, file);
    writeFileSync(path, renderDashboard(dashboard));
    console.log(`wrote ${relative(root, path)} (${dashboard.panels?.length ?? 0} panels)`);
  }
}

main();
