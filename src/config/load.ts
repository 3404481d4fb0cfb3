/**
 * Loading a config: read the file, merge its preset, check every entry and
 * return the normalised `Config` of `types.ts`, or throw one ConfigErrors
 * holding every problem found (each located by file, line, column and key).
 * This module only orchestrates; YAML is `yaml-file.ts`, one file's top
 * level `file-contents.ts`, the key shapes `schema.ts`, the cross-key rules
 * `entries.ts`, the names `names.ts` and their conventions `lint.ts`.
 */
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError, ConfigErrors } from '../errors.js';
import type { FileContents, SectionName } from './file-contents.js';
import { readFileContents, SECTIONS } from './file-contents.js';
import type { EntryContext } from './entries.js';
import { normaliseCounter, normaliseDpcpu, normalisePcpu, normaliseVariable } from './entries.js';
import { parseAt } from './issues.js';
import type { KernelTypes } from './kernel-types.js';
import { mergeLayouts } from './layouts.js';
import { lintFamily } from './lint.js';
import { entryFamilies, NameClaims } from './names.js';
import { defaultPresetsDir, knownPresets, presetFile } from './presets.js';
import { counterSchema, dpcpuSchema, kvmSchema, pcpuSchema, variableSchema } from './schema.js';
import { YamlFile, readConfigText } from './yaml-file.js';
import { resolveVnets } from './vnets.js';
import type {
  BreakdownConfig, Config, CounterEntry, DpcpuEntry, KvmConfig, PcpuEntry, ProcessesConfig, ProcessGroup, VariableEntry,
} from './types.js';

export interface LoadOptions {
  /** Folder of `<name>.yml` presets; the package's `config/presets` by default. */
  readonly presetsDir?: string;
  /**
   * The kernel's own types for the kvm section as it will be opened (flags
   * applied), or why there are none; without it, offsets come from layouts only.
   */
  readonly types?: (kvm: KvmConfig) => KernelTypes | string;
  /** Replaces keys of the file's kvm section (the command line's --kvm.* flags). */
  readonly kvm?: Partial<KvmConfig>;
}

const DEFAULT_BREAKDOWN: BreakdownConfig = { enabled: false, maxSeries: 100 };

export function loadConfig(path: string, options: LoadOptions = {}): Config {
  return parseConfig(readOrReport(path), path, options);
}

export function parseConfig(text: string, file: string, options: LoadOptions = {}): Config {
  const errors: ConfigError[] = [];
  const user = readFileContents(YamlFile.parse(text, file), 'config', errors);
  const preset = user.preset === undefined ? undefined : readPreset(user, user.preset, options, errors);
  const files = preset === undefined ? [user] : [preset, user];
  const layouts = mergeLayouts(...files.map((contents) => contents.layouts));
  const kvm = { ...resolveKvm(user, file), ...options.kvm };
  const types = options.types?.(kvm) ?? 'no CTF was looked for';
  const lookup: TypeLookup = {
    layouts,
    configLayouts: new Set(user.layouts.map((layout) => layout.name)),
    types: typeof types === 'string' ? undefined : types,
  };
  const sections = normaliseSections(files, lookup, errors);
  const vnets = resolveVnets(files, lookup, [...sections.counters, ...sections.variables], errors);
  if (errors.length > 0) throw new ConfigErrors(ordered(errors, user));
  return {
    file: resolve(file),
    kvm,
    ctf: typeof types === 'string' ? { none: types } : { origin: types.origin },
    collectors: Object.assign({}, ...files.map((contents) => contents.collectors)),
    ...sections,
    processes: mergeProcesses(files),
    vnets,
  };
}

/** The file's text; any failure to read it becomes a ConfigErrors naming the file. */
function readOrReport(path: string): string {
  try {
    return readConfigText(path);
  } catch (cause) {
    if (cause instanceof ConfigErrors) throw cause;
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new ConfigErrors([new ConfigError(path, undefined, undefined, undefined, `cannot read the file: ${detail}`)]);
  }
}

function readPreset(user: FileContents, name: string, options: LoadOptions, errors: ConfigError[]): FileContents | undefined {
  const dir = options.presetsDir ?? defaultPresetsDir();
  const known = dir === undefined ? [] : knownPresets(dir);
  if (dir === undefined || !known.includes(name)) {
    const listed = known.length > 0 ? known.join(', ') : `none found in ${dir ?? 'the package (no package.json above this module)'}`;
    errors.push(user.source.error(['preset'], `unknown preset ${JSON.stringify(name)}; known presets: ${listed}`));
    return undefined;
  }
  try {
    const file = presetFile(dir, name);
    return readFileContents(YamlFile.parse(readOrReport(file), file), 'preset', errors);
  } catch (cause) {
    if (!(cause instanceof ConfigErrors)) throw cause;
    errors.push(...cause.errors);
    return undefined;
  }
}

/**
 * Errors in reading order: the config file's first (with a note at `preset:`
 * when the preset has problems of its own), then the preset file's.
 */
function ordered(errors: readonly ConfigError[], user: FileContents): ConfigError[] {
  const elsewhere = errors.filter((error) => error.file !== user.source.file);
  const all = elsewhere.length === 0 ? [...errors] : [...errors, presetSummary(elsewhere, user)];
  const rank = (error: ConfigError) => [error.file === user.source.file ? 0 : 1, error.line ?? 0, error.column ?? 0];
  return all
    .map((error, index) => ({ error, key: [...rank(error), index] }))
    .sort((a, b) => compareKeys(a.key, b.key))
    .map(({ error }) => error);
}

function presetSummary(presetErrors: readonly ConfigError[], user: FileContents): ConfigError {
  const count = presetErrors.length;
  const file = presetErrors[0]!.file;
  const problem = `preset ${JSON.stringify(user.preset)} is invalid: ${count} problem${count === 1 ? '' : 's'} in ${file}, listed below`;
  return user.source.error(['preset'], problem);
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

type Sections = { [S in SectionName]: EntryOf<S>[] };
type EntryOf<S extends SectionName> = {
  counters: CounterEntry;
  variables: VariableEntry;
  dpcpu: DpcpuEntry;
  pcpu: PcpuEntry;
}[S];

/** How one section's raw entry becomes a checked entry. */
interface SectionRule<E> {
  readonly schema: z.ZodType;
  readonly normalise: (input: never, ctx: EntryContext) => E | undefined;
}

const SECTION_RULES: { [S in SectionName]: SectionRule<EntryOf<S>> } = {
  counters: { schema: counterSchema, normalise: normaliseCounter },
  variables: { schema: variableSchema, normalise: normaliseVariable },
  dpcpu: { schema: dpcpuSchema, normalise: normaliseDpcpu },
  pcpu: { schema: pcpuSchema, normalise: normalisePcpu },
};

type TypeLookup = Pick<EntryContext, 'layouts' | 'configLayouts' | 'types'>;

/** Preset entries first, then the config file's; a clash of names is an error, not an override. */
function normaliseSections(files: readonly FileContents[], lookup: TypeLookup, errors: ConfigError[]): Sections {
  const sections: Sections = { counters: [], variables: [], dpcpu: [], pcpu: [] };
  const claims = new NameClaims(errors);
  for (const contents of files) {
    for (const section of SECTIONS) {
      contents.sections[section].forEach((raw, index) => {
        const ctx: EntryContext = { source: contents.source, path: [section, index], ...lookup, errors };
        const entry = normaliseEntry(SECTION_RULES[section] as SectionRule<EntryOf<typeof section>>, raw, ctx, claims);
        if (entry) (sections[section] as EntryOf<typeof section>[]).push(entry);
      });
    }
  }
  return sections;
}

function normaliseEntry<E extends EntryOf<SectionName>>(
  rule: SectionRule<E>,
  raw: unknown,
  ctx: EntryContext,
  claims: NameClaims,
): E | undefined {
  const input = parseAt(rule.schema, raw, ctx.path, ctx.source, ctx.errors);
  const entry = input === undefined ? undefined : rule.normalise(input as never, ctx);
  if (entry === undefined || !followsConventions(entry, ctx)) return undefined;
  return claims.claim(entryFamilies(entry), ctx.source, ctx.path) ? entry : undefined;
}

/** Where a naming problem is reported: at the entry's name, or at the label name it chose. */
const LINT_KEY = { name: ['name'], label: ['element_label', 'name'] } as const;

/** Reports each naming convention the entry's families break (lint.ts), once each; true if none. */
function followsConventions(entry: EntryOf<SectionName>, ctx: EntryContext): boolean {
  const problems = new Map(entryFamilies(entry).flatMap(lintFamily).map((p) => [p.problem, p.subject]));
  for (const [problem, subject] of problems) ctx.errors.push(ctx.source.error([...ctx.path, ...LINT_KEY[subject]], problem));
  return problems.size === 0;
}

/**
 * `library` stays a bare soname for the dynamic linker's search unless it
 * contains a '/'; file paths are resolved against the config file's folder.
 */
function resolveKvm(user: FileContents, file: string): KvmConfig {
  const kvm = user.kvm ?? kvmSchema.parse({});
  const folder = dirname(resolve(file));
  return {
    library: kvm.library.includes('/') ? resolve(folder, kvm.library) : kvm.library,
    execfile: kvm.execfile === null ? null : resolve(folder, kvm.execfile),
    corefile: resolve(folder, kvm.corefile),
    ctf: kvm.ctf === 'auto' || kvm.ctf === 'off' ? kvm.ctf : (Array.isArray(kvm.ctf) ? kvm.ctf : [kvm.ctf]).map((path) => resolve(folder, path)),
  };
}

/** A breakdown key in the config file overrides the preset's, key by key; so does the list of groups, as a whole. */
function mergeProcesses(files: readonly FileContents[]): ProcessesConfig {
  const breakdown = (key: 'by_jail' | 'by_user' | 'by_command'): BreakdownConfig => {
    let merged = DEFAULT_BREAKDOWN;
    for (const contents of files) {
      const given = contents.processes?.[key];
      merged = {
        enabled: given?.enabled ?? merged.enabled,
        maxSeries: given?.max_series ?? merged.maxSeries,
      };
    }
    return merged;
  };
  const groups = files.reduce<readonly ProcessGroup[]>((merged, contents) => contents.processes?.groups?.map(processGroup) ?? merged, []);
  return { byJail: breakdown('by_jail'), byUser: breakdown('by_user'), byCommand: breakdown('by_command'), groups };
}

function processGroup(input: { name: string; comm?: string | undefined; args?: string | undefined }): ProcessGroup {
  return { name: input.name, ...(input.comm !== undefined && { comm: input.comm }), ...(input.args !== undefined && { args: input.args }) };
}
