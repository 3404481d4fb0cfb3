/**
 * The page at `/`: what this exporter is and whether it is working.
 *
 * Mirrors exporter-toolkit's landing page (`web/landing_page.go`: name,
 * version, a link to the metrics, Prometheus orange header) and adds what an
 * operator opening it wants to know: kernel reachable or not (and why), the
 * config file and its problems, and each collector's last outcome. Every
 * piece of text, including kernel and config error messages, is
 * HTML-escaped: they can quote file contents and symbol names.
 */
import type { CollectorStatus, ExporterStatus } from '../exporter/scrape-source.js';
import type { BuildInfo } from '../exposition/self-metrics.js';

export interface LandingPageInput {
  readonly info: BuildInfo;
  readonly telemetryPath: string;
  readonly status: ExporterStatus;
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!);
}

export function renderLandingPage(input: LandingPageInput): string {
  const { info, status } = input;
  const path = escapeHtml(input.telemetryPath);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kvm_exporter</title>
<style>
body { font-family: sans-serif; margin: 0; }
header { background: #e6522c; color: #fff; padding: 0.6em 1em; }
main { padding: 0 1em 1em; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
.bad { color: #b00; }
</style>
</head>
<body>
<header><h1>kvm_exporter</h1></header>
<main>
<p>Prometheus exporter for FreeBSD kernel counters read through libkvm.
Version ${escapeHtml(info.version)} (revision ${escapeHtml(info.revision)}).</p>
<ul>
<li><a href="${path}">Metrics</a> (${path})</li>
<li><a href="/-/healthy">/-/healthy</a>, <a href="/-/ready">/-/ready</a></li>
</ul>
${kernelSection(status)}
${configSection(status)}
${collectorsSection(status.collectors)}
</main>
</body>
</html>
`;
}

function kernelSection(status: ExporterStatus): string {
  if (status.kernelUp) return '<h2>Kernel</h2>\n<p>Kernel handle open and readable.</p>';
  const why = status.kernelError === undefined ? '' : `: ${escapeHtml(status.kernelError)}`;
  return `<h2>Kernel</h2>\n<p class="bad">Kernel unavailable${why}</p>`;
}

function configSection(status: ExporterStatus): string {
  const file = `<p>Config file: <code>${escapeHtml(status.configFile)}</code></p>`;
  if (status.leftOut.length === 0) return `<h2>Configuration</h2>\n${file}\n<p>No problems found.</p>`;
  const items = status.leftOut.map((problem) => `<li>${escapeHtml(problem)}</li>`).join('\n');
  return `<h2>Configuration</h2>\n${file}\n<p class="bad">Problems:</p>\n<ul>\n${items}\n</ul>`;
}

function collectorsSection(collectors: readonly CollectorStatus[]): string {
  const rows = collectors.map(collectorRow).join('\n');
  return `<h2>Collectors</h2>
<table>
<tr><th>collector</th><th>enabled</th><th>last scrape</th><th>last error</th></tr>
${rows}
</table>`;
}

function collectorRow(collector: CollectorStatus): string {
  const outcome = collector.lastSuccess === undefined ? 'not run yet' : collector.lastSuccess ? 'success' : 'failed';
  const outcomeClass = collector.lastSuccess === false ? ' class="bad"' : '';
  return `<tr><td>${escapeHtml(collector.name)}</td><td>${collector.enabled ? 'yes' : 'no'}</td><td${outcomeClass}>${outcome}</td><td>${escapeHtml(collector.lastError ?? '')}</td></tr>`;
}
