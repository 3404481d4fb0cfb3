/**
 * One YAML config text, parsed, with the means to say where a key path sits
 * in it. This module owns the YAML side of config loading: the size limit,
 * syntax errors with yaml's own positions, the alias-bomb guard, and mapping
 * a key path such as `counters[3].per_cpu` back to a 1-based line and column
 * through yaml's node ranges and LineCounter.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Document, Node, Pair, YAMLError } from 'yaml';
import { ConfigError, ConfigErrors } from '../errors.js';

/** Files above this are refused before parsing: no real config comes close. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** More alias expansions than this are treated as an alias bomb. */
export const MAX_ALIAS_COUNT = 100;

export type KeyPath = readonly (string | number)[];
/** Point at the value (wrong value), the key itself (unknown key) or the enclosing mapping. */
export type Anchor = 'value' | 'key';

interface Located {
  readonly node?: Node;
  readonly pair?: Pair;
}

/** `counters[3].per_cpu`; unusual keys are quoted so the path stays readable. */
export function formatKeyPath(path: KeyPath): string {
  return path
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`;
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) return i === 0 ? segment : `.${segment}`;
      return `[${JSON.stringify(segment)}]`;
    })
    .join('');
}

export class YamlFile {
  private constructor(
    readonly file: string,
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
    /** The document as plain JavaScript data (null for an empty file). */
    readonly data: unknown,
  ) {}

  /** Parses `text`; throws ConfigErrors for an oversized text or invalid YAML. */
  static parse(text: string, file: string): YamlFile {
    refuseOversized(Buffer.byteLength(text, 'utf8'), file);
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      throw new ConfigErrors(doc.errors.map((error) => syntaxError(error, file, lines)));
    }
    return new YamlFile(file, doc, lines, toPlainData(doc, file, lines));
  }

  /** A ConfigError at `path`, located at its value, its key, or (if absent) its parent. */
  error(path: KeyPath, problem: string, anchor: Anchor = 'value'): ConfigError {
    const where = this.position(path, anchor);
    const key = path.length > 0 ? formatKeyPath(path) : undefined;
    return new ConfigError(this.file, where?.line, where?.column, key, problem);
  }

  /** `file:line:column` of a path, for messages that name a second place. */
  describe(path: KeyPath): string {
    const where = this.position(path, 'value');
    return where ? `${this.file}:${where.line}:${where.column}` : this.file;
  }

  position(path: KeyPath, anchor: Anchor): { line: number; column: number } | undefined {
    const offset = this.offsetOf(path, anchor);
    if (offset === undefined) return undefined;
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  private offsetOf(path: KeyPath, anchor: Anchor): number | undefined {
    for (let depth = path.length; depth >= 0; depth--) {
      const found = this.find(path.slice(0, depth));
      if (found === undefined) continue;
      const exact = depth === path.length;
      const node = exact && anchor === 'key' && found.pair ? (found.pair.key as Node) : (found.node ?? found.pair?.key);
      const start = (node as Node | undefined)?.range?.[0];
      if (start !== undefined) return start;
    }
    return undefined;
  }

  private find(path: KeyPath): Located | undefined {
    let located: Located = { node: this.doc.contents ?? undefined };
    for (const segment of path) {
      const next = this.child(located.node, segment);
      if (next === undefined) return undefined;
      located = next;
    }
    return located;
  }

  private child(node: Node | undefined, segment: string | number): Located | undefined {
    const target = isAlias(node) ? (node.resolve(this.doc) as Node | undefined) : node;
    if (isSeq(target) && typeof segment === 'number') {
      const item = target.items[segment] as Node | undefined;
      return item === undefined ? undefined : { node: item };
    }
    if (isMap(target)) {
      const pair = target.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      return pair === undefined ? undefined : { node: (pair.value as Node | null) ?? undefined, pair: pair as Pair };
    }
    return undefined;
  }
}

/** Reads a config or preset file, refusing one over the size limit before reading it. */
export function readConfigText(file: string): string {
  refuseOversized(statSync(file).size, file);
  return readFileSync(file, 'utf8');
}

export function refuseOversized(bytes: number, file: string): void {
  if (bytes > MAX_CONFIG_BYTES) {
    const problem = `file is ${bytes} bytes; config files are limited to ${MAX_CONFIG_BYTES} bytes (1 MiB)`;
    throw new ConfigErrors([new ConfigError(file, undefined, undefined, undefined, problem)]);
  }
}

function syntaxError(error: YAMLError, file: string, lines: LineCounter): ConfigError {
  const { line, col } = lines.linePos(error.pos[0]);
  // yaml sometimes appends "at line N, column M:" and a source excerpt; we give the position ourselves.
  const text = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return new ConfigError(file, line, col, undefined, `invalid YAML (${error.code}): ${text}`);
}

function toPlainData(doc: Document.Parsed, file: string, lines: LineCounter): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (cause) {
    const offset = firstAliasOffset(doc) ?? 0;
    const { line, col } = lines.linePos(offset);
    const detail = cause instanceof Error ? cause.message : String(cause);
    const problem = /resource exhaustion/.test(detail)
      ? `YAML aliases expand to more than ${MAX_ALIAS_COUNT} nodes; refusing a possible alias bomb`
      : `cannot resolve the YAML document: ${detail}`;
    throw new ConfigErrors([new ConfigError(file, line, col, undefined, problem)]);
  }
}

function firstAliasOffset(doc: Document.Parsed): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}
