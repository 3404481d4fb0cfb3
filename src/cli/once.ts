/**
 * `kvm_exporter once`: one scrape in Prometheus text format on standard
 * output, for cron and node_exporter's textfile collector, or for reading a
 * crash dump. Exits 1 if the kernel or any collector failed.
 */
import type { CollectorName, Config } from '../config/types.js';
import { Exporter } from '../exporter/exporter.js';
import { SCRAPE_METRICS } from '../exposition/builtin-metrics.js';
import { renderFamilies } from '../exposition/render.js';
import { createLogger } from '../log.js';

export async function runOnce(config: Config, enabled: ReadonlySet<CollectorName>): Promise<number> {
  const logger = createLogger({ level: 'warn', format: 'logfmt' });
  const exporter = new Exporter({ config, enabled, logger });
  try {
    const families = await exporter.scrape({});
    process.stdout.write(renderFamilies(families, 'text-0.0.4'));
    const failed = families
      .filter((f) => f.name === SCRAPE_METRICS.success.name || f.name === SCRAPE_METRICS.up.name)
      .some((f) => f.series.some((s) => s.value === 0));
    return failed ? 1 : 0;
  } finally {
    await exporter.close();
  }
}
