/**
 * The naming conventions `promtool check metrics` enforces, applied to the
 * families a config entry would produce, so that `check` refuses a name
 * Prometheus' linter would flag on /metrics, with the reason and the
 * convention. The rules are those of client_golang's
 * prometheus/testutil/promlint (validations/*.go), which promtool runs:
 * counter and histogram/summary suffixes, the type in the name, camelCase,
 * non-base and abbreviated units, and the `le` and `quantile` labels.
 * Untyped families are exempt from the type rules, as promlint exempts them.
 */
import type { EntryFamily } from './types.js';

/** Why a family's name or one of its label names breaks a convention. */
export interface LintProblem {
  /** What the problem is about: the metric name or a label name. */
  readonly subject: 'name' | 'label';
  readonly problem: string;
}

/** promlint's units (validations/units.go): each unit and its base unit. */
const UNITS: Readonly<Record<string, string>> = {
  amperes: 'amperes', bytes: 'bytes', celsius: 'celsius', grams: 'grams', joules: 'joules', kelvin: 'kelvin',
  meters: 'meters', metres: 'metres', seconds: 'seconds', volts: 'volts',
  minutes: 'seconds', hours: 'seconds', days: 'seconds', weeks: 'seconds',
  kelvins: 'kelvin', fahrenheit: 'celsius', rankine: 'celsius',
  inches: 'meters', yards: 'meters', miles: 'meters', bits: 'bytes', calories: 'joules', pounds: 'grams', ounces: 'grams',
};
const UNIT_PREFIXES = [
  'pico', 'nano', 'micro', 'milli', 'centi', 'deci', 'deca', 'hecto', 'kilo', 'kibi', 'mega', 'mibi', 'giga', 'gibi', 'tera', 'tebi', 'peta', 'pebi',
];
const UNIT_ABBREVIATIONS = ['s', 'ms', 'us', 'ns', 'sec', 'b', 'kb', 'mb', 'gb', 'tb', 'pb', 'm', 'h', 'd'];
/** The metric types promlint looks for in names (dto.MetricType_name, lowercased, untyped aside). */
const TYPE_WORDS = ['counter', 'gauge', 'summary', 'histogram', 'gauge_histogram'];
const CAMEL_CASE = /[a-z][A-Z]/;

const CONVENTION = 'https://prometheus.io/docs/practices/naming/';

/** Every convention `family` breaks; empty when promtool would accept it. */
export function lintFamily(family: EntryFamily): LintProblem[] {
  const name = (problem: string): LintProblem => ({ subject: 'name', problem: `metric ${family.name} ${problem} (${CONVENTION})` });
  return [
    ...suffixProblems(family).map(name),
    ...typeWordProblems(family.name).map(name),
    ...(CAMEL_CASE.test(family.name) ? [name("is written in camelCase; Prometheus names are snake_case (promtool: metric names should be written in 'snake_case' not 'camelCase')")] : []),
    ...unitProblems(family.name).map(name),
    ...labelProblems(family),
  ];
}

function suffixProblems({ name, type }: EntryFamily): string[] {
  if (type === 'untyped') return [];
  const problems: string[] = [];
  if (type !== 'counter' && name.endsWith('_total')) {
    problems.push(`is a ${type} ending in _total, which Prometheus keeps for counters (promtool: non-counter metrics should not have "_total" suffix); drop _total, or declare type: counter if the value only goes up`);
  }
  for (const suffix of ['_bucket', '_count', '_sum']) {
    if (!name.endsWith(suffix)) continue;
    const [reserved, promlint] = suffix === '_bucket'
      ? ['histogram buckets', 'non-histogram metrics']
      : ['the samples of histograms and summaries', 'non-histogram and non-summary metrics'];
    problems.push(`ends in ${suffix}, which Prometheus keeps for ${reserved} (promtool: ${promlint} should not have "${suffix}" suffix); rename it`);
  }
  return problems;
}

function typeWordProblems(name: string): string[] {
  const lower = name.toLowerCase();
  return TYPE_WORDS.filter((word) => lower.includes(`_${word}_`) || lower.endsWith(`_${word}`)).map(
    (word) => `names the metric type ${word}; a name says what is measured and the TYPE line the type (promtool: metric name should not include type '${word}')`,
  );
}

/**
 * Every word of the name that is a non-base unit (promlint reports one of
 * them, which one depending on its version, so all are refused), and every
 * abbreviated unit.
 */
function unitProblems(name: string): string[] {
  const problems: string[] = [];
  for (const word of name.split('_')) {
    const base = baseUnit(word);
    if (base !== undefined && base !== word) {
      problems.push(`uses the unit ${word}; Prometheus names use base units, so export ${base} (with scale:) and name it so (promtool: use base unit "${base}" instead of "${word}")`);
    }
  }
  const lower = name.toLowerCase();
  for (const abbreviation of UNIT_ABBREVIATIONS) {
    if (lower.includes(`_${abbreviation}_`) || lower.endsWith(`_${abbreviation}`)) {
      problems.push(`has the word ${abbreviation}, which reads as an abbreviated unit; spell units out, in base units such as seconds and bytes (promtool: metric names should not contain abbreviated units)`);
    }
  }
  return problems;
}

function baseUnit(word: string): string | undefined {
  for (const prefix of ['', ...UNIT_PREFIXES]) {
    if (word.startsWith(prefix) && UNITS[word.slice(prefix.length)] !== undefined) return UNITS[word.slice(prefix.length)];
  }
  return undefined;
}

function labelProblems({ labelNames, type }: EntryFamily): LintProblem[] {
  const problems: LintProblem[] = [];
  for (const label of labelNames) {
    const problem = (text: string): LintProblem => ({ subject: 'label', problem: `label ${label} ${text} (${CONVENTION})` });
    if (CAMEL_CASE.test(label)) problems.push(problem("is written in camelCase; label names are snake_case (promtool: label names should be written in 'snake_case' not 'camelCase')"));
    if (type === 'untyped') continue;
    if (label === 'le') problems.push(problem('is the label of histogram buckets (promtool: non-histogram metrics should not have "le" label); choose another name'));
    if (label === 'quantile') problems.push(problem('is the label of summary quantiles (promtool: non-summary metrics should not have "quantile" label); choose another name'));
  }
  return problems;
}
