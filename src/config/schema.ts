/**
 * The shape of a kvm_exporter config file (and of a preset), written with
 * zod 4. This module owns types and ranges only: which keys exist, what each
 * value must look like, and the defaults. Rules that relate several keys
 * (symbol or address, field or offset, layouts, duplicate metric names) live
 * in `entries.ts` and `names.ts`, because their messages need both places.
 *
 * Every object is strict, so a misspelt key is an error that names the keys
 * allowed there. Each schema carries its own "expected ..." text; `issues.ts`
 * appends what was found and where. The key lists at the end are what the
 * README test checks the documentation against.
 */
import { z } from 'zod';
import { CTYPES, type CType } from '../abi.js';
import { MAX_PROCESS_GROUPS, groupNameProblem, groupPatternProblem } from './process-groups.js';
import type { CollectorName } from './types.js';

export const COLLECTOR_NAMES = [
  'counters', 'variables', 'vnet', 'dpcpu', 'pcpu', 'processes', 'cpus', 'loadavg', 'swap',
] as const satisfies readonly CollectorName[];

/** Larger offsets or struct sizes are typing mistakes, not kernel structs. */
export const MAX_OFFSET = 1024 * 1024;
export const MAX_PCPU_COUNT = 512;
export const MAX_SERIES_LIMIT = 10_000;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FIELD_REF = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/;
const PRESET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** An object schema that rejects unknown keys and says which keys it allows. */
function strict<T extends z.core.$ZodLooseShape>(shape: T, what: string) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `allowed keys: ${allowed}` : `expected ${what}`),
  });
}

function boolean() {
  return z.boolean({ error: 'expected true or false' });
}

function wholeNumber(min: number, max: number, unit = '') {
  const error = `expected a whole number${unit} from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

function identifier(what: string) {
  const error = `expected ${what}: letters, digits and underscores, not starting with a digit`;
  return z.string({ error }).regex(IDENTIFIER, { error });
}

function nonEmptyText(what: string) {
  const error = `expected ${what}`;
  return z.string({ error }).min(1, { error });
}

const metricName = identifier('a metric name');
const symbolName = identifier('a kernel symbol name');
const help = z.string({ error: 'expected a help text' });
const metricType = z.enum(['counter', 'gauge', 'untyped'], { error: 'expected counter, gauge or untyped' });
const ctype = z.enum(CTYPES as [CType, ...CType[]], { error: `expected a C type: ${CTYPES.join(', ')}` });
const offset = wholeNumber(0, MAX_OFFSET, ' of bytes');
const fieldRef = z
  .string({ error: 'expected <struct>.<field>, such as vmmeter.v_swtch (nested: vnet.vnet_le.le_next)' })
  .regex(FIELD_REF, { error: 'expected <struct>.<field>, such as vmmeter.v_swtch (nested: vnet.vnet_le.le_next)' });
const scale = z
  .number({ error: 'expected a positive number' })
  .positive({ error: 'expected a positive number' });
const hexAddress = z.string({ error: 'expected a quoted hex string such as "0x1a8"' });
const elementName = z
  .string({ error: 'expected an element name of letters, digits and underscores' })
  .regex(/^[A-Za-z0-9_]+$/, { error: 'expected an element name of letters, digits and underscores' });

export const kvmShape = {
  library: nonEmptyText('a library soname or path').default('libkvm.so.7'),
  execfile: nonEmptyText('a kernel file path, or null for the running kernel').nullable().default(null),
  corefile: nonEmptyText('a memory file path such as /dev/mem').default('/dev/mem'),
  ctf: z
    .union([nonEmptyText('auto, off, or the kernel file (then module files) to read CTF from'), z.array(nonEmptyText('a file path'), { error: 'expected auto, off, or a list of files' }).min(1, { error: 'expected at least one file' })], {
      error: 'expected auto, off, or a list of files (the kernel first, then modules)',
    })
    .default('auto'),
};

export const kvmSchema = strict(kvmShape, 'a mapping with library, execfile, corefile and ctf');

export const collectorsShape = Object.fromEntries(
  COLLECTOR_NAMES.map((name) => [name, boolean().optional()]),
) as Record<CollectorName, z.ZodOptional<z.ZodBoolean>>;

export const layoutShape = {
  size: wholeNumber(1, MAX_OFFSET, ' of bytes'),
  checked: nonEmptyText('a note naming the header and release the layout was checked against'),
  fields: z.record(z.string(), offset, { error: 'expected a mapping of field name to byte offset' }),
};

export const counterShape = {
  name: metricName,
  help: help.optional(),
  symbol: symbolName.optional(),
  address: hexAddress.optional(),
  field: fieldRef.optional(),
  offset: offset.optional(),
  array: z.array(elementName, { error: 'expected a list of element names' }).optional(),
  per_cpu: boolean().default(false),
  vnet: boolean().default(false),
  type: metricType.default('counter'),
};

/** DPCPU entries read the same things as variables, once per CPU. */
export const dpcpuShape = {
  name: metricName,
  help: help.optional(),
  symbol: symbolName,
  field: fieldRef.optional(),
  offset: offset.optional(),
  /** Optional when the kernel's CTF gives the variable's or member's type. */
  ctype: ctype.optional(),
  scale: scale.default(1),
  type: metricType.default('gauge'),
};

/** A variable may also be a VNET variable, read in every network stack. */
export const variableShape = { ...dpcpuShape, vnet: boolean().default(false) };

export const elementLabelShape = {
  name: identifier('a label name'),
  values: z.array(nonEmptyText('a label value'), { error: 'expected a list of label values' }),
};

export const pcpuShape = {
  name: metricName,
  help: help.optional(),
  field: fieldRef.optional(),
  offset: offset.optional(),
  /** Optional when the kernel's CTF gives the member's type. */
  ctype: ctype.optional(),
  /** Defaults to the member's array length in CTF, else 1. */
  count: wholeNumber(1, MAX_PCPU_COUNT).optional(),
  element_label: strict(elementLabelShape, 'a mapping with name and values').optional(),
  scale: scale.default(1),
  divide_by: symbolName.optional(),
  type: metricType.default('gauge'),
};

export const breakdownShape = {
  enabled: boolean().optional(),
  max_series: wholeNumber(1, MAX_SERIES_LIMIT).optional(),
};

const breakdown = strict(breakdownShape, 'a mapping with enabled and max_series').optional();

/** A text checked by `problem` (process-groups.ts), reported at its key with the value found. */
function checkedText(what: string, problem: (text: string) => string | undefined) {
  return z.string({ error: `expected ${what}` }).superRefine((text, ctx) => {
    const found = problem(text);
    if (found !== undefined) ctx.addIssue({ code: 'custom', message: found, input: text });
  });
}

const groupPattern = checkedText('a regular expression', groupPatternProblem);

export const processGroupShape = {
  name: checkedText('a group name', groupNameProblem),
  comm: groupPattern.optional(),
  args: groupPattern.optional(),
};

const processGroup = strict(processGroupShape, 'a group mapping with name, comm and args').superRefine((group, ctx) => {
  if (group.comm === undefined && group.args === undefined) {
    ctx.addIssue({ code: 'custom', message: `group ${JSON.stringify(group.name)} needs comm, args or both`, input: group });
  }
});

/** Group names are label values of one family: each must be distinct. */
const processGroups = z
  .array(processGroup, { error: 'expected a list of groups' })
  .max(MAX_PROCESS_GROUPS, { error: `at most ${MAX_PROCESS_GROUPS} groups (each is a series and a pattern tried on every process)` })
  .superRefine((groups, ctx) => {
    const seen = new Set<string>();
    groups.forEach((group, i) => {
      if (seen.has(group.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `group name ${JSON.stringify(group.name)} is used twice`, input: group.name });
      seen.add(group.name);
    });
  });

export const processesShape = { by_jail: breakdown, by_user: breakdown, by_command: breakdown, groups: processGroups.nullable().optional() };

/** How many vnets and jails a walk visits, and how many jails each `vnet: true` entry labels. */
export const MAX_VNETS_LIMIT = 100_000;
export const vnetsShape = {
  max: wholeNumber(1, MAX_VNETS_LIMIT).optional(),
  max_series: wholeNumber(1, MAX_SERIES_LIMIT).optional(),
};

const entryList = z.array(z.unknown(), { error: 'expected a list of entries' }).nullable().optional();

/** Top-level keys. Sections hold unchecked entries: each entry is parsed on its own. */
export const configShape = {
  preset: z
    .string({ error: 'expected a preset name such as freebsd-14-amd64' })
    .regex(PRESET_NAME, { error: 'expected a preset name such as freebsd-14-amd64' })
    .optional(),
  kvm: kvmSchema.optional(),
  collectors: strict(collectorsShape, 'a mapping of collector name to true or false').nullable().optional(),
  layouts: z.record(z.string(), z.unknown(), { error: 'expected a mapping of layout name to layout' }).nullable().optional(),
  counters: entryList,
  variables: entryList,
  dpcpu: entryList,
  pcpu: entryList,
  processes: strict(processesShape, 'a mapping with by_jail, by_user, by_command and groups').nullable().optional(),
  vnets: strict(vnetsShape, 'a mapping with max and max_series').nullable().optional(),
};

/** A preset describes a kernel release, not a host: no `kvm`, no further `preset`. */
export const PRESET_KEYS: readonly (keyof typeof configShape)[] = [
  'collectors', 'layouts', 'counters', 'variables', 'dpcpu', 'pcpu', 'processes',
];

export const layoutSchema = strict(layoutShape, 'a layout mapping with size, checked and fields');
export const counterSchema = strict(counterShape, 'a counter entry mapping');
export const variableSchema = strict(variableShape, 'a variable entry mapping');
export const dpcpuSchema = strict(dpcpuShape, 'a dpcpu entry mapping');
export const pcpuSchema = strict(pcpuShape, 'a pcpu entry mapping');

export type CounterInput = z.output<typeof counterSchema>;
export type VariableInput = z.output<typeof variableSchema>;
export type DpcpuInput = z.output<typeof dpcpuSchema>;
export type PcpuInput = z.output<typeof pcpuSchema>;
export type LayoutInput = z.output<typeof layoutSchema>;
export type KvmInput = z.output<typeof kvmSchema>;
export type ProcessesInput = z.output<ReturnType<typeof strict<typeof processesShape>>>;
export type VnetsInput = z.output<ReturnType<typeof strict<typeof vnetsShape>>>;

/** Every key the schema accepts, by where it may appear (for the documentation test). */
export const SCHEMA_KEYS: Readonly<Record<string, readonly string[]>> = {
  top: Object.keys(configShape),
  kvm: Object.keys(kvmShape),
  collectors: Object.keys(collectorsShape),
  layout: Object.keys(layoutShape),
  counter: Object.keys(counterShape),
  variable: Object.keys(variableShape),
  dpcpu: Object.keys(dpcpuShape),
  pcpu: Object.keys(pcpuShape),
  element_label: Object.keys(elementLabelShape),
  processes: Object.keys(processesShape),
  breakdown: Object.keys(breakdownShape),
  group: Object.keys(processGroupShape),
  vnets: Object.keys(vnetsShape),
};
