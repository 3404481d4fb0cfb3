/**
 * `kvm_exporter once`: one scrape in Prometheus text format on standard
 * output, for cron and node_exporter's textfile collector, or for reading a
 * crash dump. Exits 1 if the kernel or any collector failed.
 */
import type { CollectorName, Config } from '../config/types.js';
import { Exporter } from '../exporter/exporter.js';
import { renderBytes } from '../exposition/render.js';
import { createLogger } from '../log.js';
import { exitCode } from './exit.js';

export async function runOnce(config: Config, enabled: ReadonlySet<CollectorName>): Promise<number> {
  const logger = createLogger({ level: 'warn', format: 'logfmt' });
  const exporter = new Exporter({ config, enabled, logger });
  let failed = true;
  try {
    const { families, collection } = await exporter.collect({});
    process.stdout.write(renderBytes(families, 'text-0.0.4'));
    failed = !collection.kernel.up || collection.outcomes.some((o) => !o.success);
  } finally {
    await exporter.close();
  }
  return exitCode(failed ? 1 : 0, exporter);
}
