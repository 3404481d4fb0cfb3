/**
 * A small, strict reader of Prometheus text exposition for tests: scrapes
 * are read back into samples ({name, labels, value, type}) so a test can
 * compare what the exporter served with what the simulated kernel holds.
 *
 * Mirrors the two formats as Prometheus' own parsers accept them
 * (prometheus/docs `exposition_formats.md`, the OpenMetrics 1.0 ABNF):
 * `# HELP` and `# TYPE` lines, samples `name{label="value",...} value`,
 * label values escaping backslash, double quote and newline, HELP escaping
 * backslash and newline (and the double quote in OpenMetrics), values as Go
 * floats with NaN and +/-Inf. OpenMetrics adds: counter families named
 * without `_total` whose samples carry it, `unknown` for untyped, and a
 * final `# EOF`.
 *
 * It is strict on purpose: anything Prometheus would refuse, and anything
 * that makes a scrape ambiguous (a second TYPE or HELP for a family, a TYPE
 * after the family's samples, a family split in two, a repeated series, a
 * repeated label), throws an error naming the line, so a renderer bug cannot
 * pass as a value mismatch somewhere else.
 */

export type ExpositionFlavour = 'text' | 'openmetrics';
export type SampleType = 'counter' | 'gauge' | 'untyped' | 'histogram' | 'summary';

export interface Sample {
  /** The sample's own name (`kvm_vm_swtch_total`, `x_bucket`). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** The TYPE of the family the sample belongs to (`untyped` without one). */
  readonly type: SampleType;
  /** The family the sample belongs to (without `_total` for OpenMetrics counters). */
  readonly family: string;
}

export interface Family {
  readonly name: string;
  readonly type: SampleType;
  readonly help: string | undefined;
  readonly samples: Sample[];
}

export interface ParsedScrape {
  readonly samples: readonly Sample[];
  readonly families: ReadonlyMap<string, Family>;
}

export class ExpositionSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly text: string,
    problem: string,
  ) {
    super(`line ${line}: ${problem}: ${JSON.stringify(text)}`);
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TEXT_TYPES: readonly SampleType[] = ['counter', 'gauge', 'untyped', 'histogram', 'summary'];
const OPENMETRICS_TYPES: Readonly<Record<string, SampleType>> = {
  counter: 'counter',
  gauge: 'gauge',
  unknown: 'untyped',
  histogram: 'histogram',
  summary: 'summary',
};
const SUFFIXES: Readonly<Record<SampleType, readonly string[]>> = {
  counter: [],
  gauge: [],
  untyped: [],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

/** Parses a whole exposition; throws ExpositionSyntaxError on anything malformed. */
export function parseExposition(body: string, flavour: ExpositionFlavour = 'text'): ParsedScrape {
  const reader = new ExpositionReader(flavour);
  const lines = body.split('\n');
  if (lines[lines.length - 1] !== '') throw new ExpositionSyntaxError(lines.length, lines[lines.length - 1]!, 'the exposition must end with a newline');
  lines.pop();
  lines.forEach((text, i) => reader.line(text, i + 1));
  reader.finish(lines.length);
  return { samples: reader.samples, families: reader.families };
}

class ExpositionReader {
  readonly samples: Sample[] = [];
  readonly families = new Map<string, MutableFamily>();
  private readonly seriesSeen = new Set<string>();
  private current: string | undefined;
  private readonly closed = new Set<string>();
  private eof = false;

  constructor(private readonly flavour: ExpositionFlavour) {}

  line(text: string, n: number): void {
    if (this.eof) throw new ExpositionSyntaxError(n, text, 'nothing may follow # EOF');
    if (text === '# EOF' && this.flavour === 'openmetrics') {
      this.eof = true;
    } else if (text.startsWith('#')) {
      this.comment(text, n);
    } else if (text.trim() === '') {
      if (this.flavour === 'openmetrics') throw new ExpositionSyntaxError(n, text, 'OpenMetrics has no blank lines');
    } else {
      this.sample(text, n);
    }
  }

  finish(lines: number): void {
    if (this.flavour === 'openmetrics' && !this.eof) throw new ExpositionSyntaxError(lines, '', 'OpenMetrics must end with # EOF');
  }

  private comment(text: string, n: number): void {
    const match = /^# (HELP|TYPE|UNIT) (\S+)(?: (.*))?$/.exec(text);
    if (!match) {
      if (this.flavour === 'openmetrics') throw new ExpositionSyntaxError(n, text, 'OpenMetrics allows only HELP, TYPE, UNIT and EOF comments');
      return;
    }
    const [, keyword, name, rest = ''] = match as unknown as [string, string, string, string | undefined];
    if (!METRIC_NAME.test(name) || METRIC_NAME.exec(name)![0] !== name) throw new ExpositionSyntaxError(n, text, `invalid metric name ${name}`);
    if (keyword === 'UNIT') return;
    const family = this.enterFamily(name, n, text);
    if (family.samples.length > 0) throw new ExpositionSyntaxError(n, text, `# ${keyword} of ${name} after its samples`);
    if (keyword === 'HELP') {
      if (family.help !== undefined) throw new ExpositionSyntaxError(n, text, `second # HELP for ${name}`);
      family.help = unescapeHelp(rest, this.flavour, n, text);
    } else {
      if (family.typed) throw new ExpositionSyntaxError(n, text, `second # TYPE for ${name}`);
      family.type = this.typeOf(rest, n, text);
      family.typed = true;
    }
  }

  private typeOf(word: string, n: number, text: string): SampleType {
    const type = this.flavour === 'openmetrics' ? OPENMETRICS_TYPES[word] : TEXT_TYPES.find((t) => t === word);
    if (type === undefined) throw new ExpositionSyntaxError(n, text, `unknown type ${JSON.stringify(word)}`);
    return type;
  }

  /** Starts (or continues) a family; a family may not come back after another one began. */
  private enterFamily(name: string, n: number, text: string): MutableFamily {
    if (this.current !== name) {
      if (this.closed.has(name)) throw new ExpositionSyntaxError(n, text, `family ${name} appears twice, split by another family`);
      if (this.current !== undefined) this.closed.add(this.current);
      this.current = name;
    }
    let family = this.families.get(name);
    if (family === undefined) {
      family = { name, type: 'untyped', help: undefined, samples: [], typed: false };
      this.families.set(name, family);
    }
    return family;
  }

  private sample(text: string, n: number): void {
    const cursor = new Cursor(text, n);
    const name = cursor.take(METRIC_NAME, 'a metric name');
    const labels = cursor.peek('{') ? readLabels(cursor) : {};
    cursor.expect(' ');
    const value = parseValue(cursor.take(/^\S+/, 'a value'), n, text);
    if (!cursor.done()) {
      cursor.expect(' ');
      cursor.take(/^-?[0-9]+(\.[0-9]+)?$/, 'a timestamp');
    }
    const familyName = this.familyOf(name);
    const family = this.enterFamily(familyName, n, text);
    this.checkSampleName(family, name, n, text);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
    if (this.seriesSeen.has(key)) throw new ExpositionSyntaxError(n, text, `repeated series ${name}`);
    this.seriesSeen.add(key);
    const sample: Sample = { name, labels, value, type: family.type, family: familyName };
    family.samples.push(sample);
    this.samples.push(sample);
  }

  /** The family a sample name belongs to: its own, or the one its suffix points at. */
  private familyOf(name: string): string {
    if (this.current !== undefined && this.belongsTo(name, this.families.get(this.current)!)) return this.current;
    return name;
  }

  private belongsTo(name: string, family: MutableFamily): boolean {
    if (name === family.name) return !(this.flavour === 'openmetrics' && family.type === 'counter');
    const suffixes = this.flavour === 'openmetrics' && family.type === 'counter' ? ['_total', '_created'] : SUFFIXES[family.type];
    return suffixes.some((suffix) => name === family.name + suffix);
  }

  private checkSampleName(family: MutableFamily, name: string, n: number, text: string): void {
    if (this.flavour === 'openmetrics' && family.type === 'counter' && name === family.name) {
      throw new ExpositionSyntaxError(n, text, `OpenMetrics counter ${name} needs the _total suffix on its samples`);
    }
    if (this.flavour === 'text' && family.type === 'counter' && !name.endsWith('_total')) {
      // Prometheus accepts it, but this exporter's counters always end in _total.
      throw new ExpositionSyntaxError(n, text, `counter ${name} does not end in _total`);
    }
  }
}

interface MutableFamily {
  name: string;
  type: SampleType;
  help: string | undefined;
  samples: Sample[];
  typed: boolean;
}

/** Walks one line, with errors that point at the line. */
class Cursor {
  private at = 0;

  constructor(
    private readonly text: string,
    private readonly n: number,
  ) {}

  done(): boolean {
    return this.at === this.text.length;
  }

  peek(literal: string): boolean {
    return this.text.startsWith(literal, this.at);
  }

  expect(literal: string): void {
    if (!this.peek(literal)) this.fail(`expected ${JSON.stringify(literal)} at column ${this.at + 1}`);
    this.at += literal.length;
  }

  take(pattern: RegExp, what: string): string {
    const match = pattern.exec(this.text.slice(this.at));
    if (!match) this.fail(`expected ${what} at column ${this.at + 1}`);
    this.at += match[0].length;
    return match[0];
  }

  /** A double-quoted label value with \\, \" and \n escapes. */
  quoted(): string {
    this.expect('"');
    let out = '';
    for (;;) {
      const ch = this.text[this.at];
      if (ch === undefined) this.fail('unterminated label value');
      this.at += 1;
      if (ch === '"') return out;
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const escaped = this.text[this.at];
      this.at += 1;
      if (escaped === '\\') out += '\\';
      else if (escaped === '"') out += '"';
      else if (escaped === 'n') out += '\n';
      else this.fail(`invalid escape \\${escaped ?? ''} in a label value`);
    }
  }

  fail(problem: string): never {
    throw new ExpositionSyntaxError(this.n, this.text, problem);
  }
}

function readLabels(cursor: Cursor): Record<string, string> {
  const labels: Record<string, string> = {};
  cursor.expect('{');
  while (!cursor.peek('}')) {
    const name = cursor.take(LABEL_NAME, 'a label name');
    if (Object.hasOwn(labels, name)) cursor.fail(`label ${name} repeated`);
    cursor.expect('=');
    labels[name] = cursor.quoted();
    if (!cursor.peek('}')) cursor.expect(',');
  }
  cursor.expect('}');
  return labels;
}

function parseValue(word: string, n: number, text: string): number {
  if (word === 'NaN') return Number.NaN;
  if (word === '+Inf' || word === 'Inf') return Number.POSITIVE_INFINITY;
  if (word === '-Inf') return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$/.test(word)) {
    throw new ExpositionSyntaxError(n, text, `invalid value ${JSON.stringify(word)}`);
  }
  return Number(word);
}

function unescapeHelp(raw: string, flavour: ExpositionFlavour, n: number, text: string): string {
  return raw.replace(/\\(.?)/g, (_, ch: string) => {
    if (ch === '\\') return '\\';
    if (ch === 'n') return '\n';
    if (ch === '"' && flavour === 'openmetrics') return '"';
    throw new ExpositionSyntaxError(n, text, `invalid escape \\${ch} in HELP`);
  });
}

/** The samples named `name` whose labels include every pair in `labels`. */
export function samplesOf(scrape: ParsedScrape, name: string, labels: Readonly<Record<string, string>> = {}): Sample[] {
  return scrape.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The one sample named `name` with exactly these labels; throws when there is none or several. */
export function valueOf(scrape: ParsedScrape, name: string, labels: Readonly<Record<string, string>> = {}): number {
  const found = samplesOf(scrape, name, labels).filter((s) => Object.keys(s.labels).length === Object.keys(labels).length);
  if (found.length !== 1) {
    throw new Error(`expected one sample ${name}${JSON.stringify(labels)}, found ${found.length}`);
  }
  return found[0]!.value;
}

/** `name`'s samples as a map from one label's value to the sample value. */
export function byLabel(scrape: ParsedScrape, name: string, label: string, filter: Readonly<Record<string, string>> = {}): Map<string, number> {
  const out = new Map<string, number>();
  for (const sample of samplesOf(scrape, name, filter)) {
    const key = sample.labels[label];
    if (key === undefined) throw new Error(`sample ${name} has no label ${label}`);
    if (out.has(key)) throw new Error(`sample ${name} has two series with ${label}="${key}"`);
    out.set(key, sample.value);
  }
  return out;
}
