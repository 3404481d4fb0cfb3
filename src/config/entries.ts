/**
 * Checks and normalises the entries of the four kernel sections (counters,
 * variables, dpcpu, pcpu) into the shapes of `types.ts`: the rules that span
 * several keys (symbol or address, field or offset, widths against struct
 * sizes, alignment of counter(9) handles, element labels) and the defaults.
 * What each key may hold on its own is `schema.ts`'s business.
 *
 * Each function reports every problem it finds and returns undefined for an
 * entry that cannot be used, so one load reports everything at once.
 */
import { resolve } from 'node:path';
import { COUNTER_HANDLE_BYTES, CTYPE_BYTES, PCPU_SIZE } from '../abi.js';
import type { CType } from '../abi.js';
import { resolveFieldRef, type FieldContext, type FieldPlace } from './fields.js';
import type { CounterInput, DpcpuInput, PcpuInput, VariableInput } from './schema.js';
import { formatKeyPath } from './yaml-file.js';
import { counterNames, dpcpuNames, pcpuNames, variableNames, type Unnamed } from './names.js';
import type { CounterEntry, CounterSource, DpcpuEntry, Origin, PcpuEntry, ScalarEntry, VariableEntry } from './types.js';

/** Where an entry is and what it can resolve against (layouts, and the kernel's CTF when there is one). */
export type EntryContext = FieldContext;

type Placement = Pick<FieldPlace, 'offset' | 'member'> & Partial<Pick<FieldPlace, 'field' | 'origin'>> & { readonly fits: (width: number) => boolean };

const HEX_HANDLE = /^0x[0-9a-fA-F]{1,16}$/;
const DPCPU_PREFIX = 'pcpu_entry_';
/** Labels the pcpu collector adds itself (names starting with __ are checked separately). */
const TAKEN_LABELS = new Set(['cpu']);

function report(ctx: EntryContext, key: readonly (string | number)[], problem: string, anchor: 'value' | 'key' = 'value'): void {
  ctx.errors.push(ctx.source.error([...ctx.path, ...key], problem, anchor));
}

export function originOf(ctx: Pick<EntryContext, 'source' | 'path'>): Origin {
  const where = ctx.source.position(ctx.path, 'value');
  return { file: resolve(ctx.source.file), line: where?.line, column: where?.column, key: formatKeyPath(ctx.path) };
}

/** `_total` is appended to counters by the exporter; a stem must not carry it already. */
function checkStem(ctx: EntryContext, key: readonly (string | number)[], stem: string, isCounter: boolean): boolean {
  if (!isCounter || !(stem === 'total' || stem.endsWith('_total'))) return true;
  report(ctx, key, `${stem} ends in "total" and counters get _total appended (it would read ..._total_total); rename it`);
  return false;
}

/**
 * Resolves `field:` or `offset:` (at most one) to a byte offset (config
 * layout > CTF > preset, see fields.ts). Without either, the offset is 0
 * unless one is required. The caller checks the width it reads with `fits`.
 */
function placement(
  ctx: EntryContext,
  input: { field?: string | undefined; offset?: number | undefined },
  required?: string,
): Placement | undefined {
  if (input.field !== undefined && input.offset !== undefined) {
    report(ctx, ['offset'], 'cannot be combined with field: give field (a layout field) or offset (bytes), not both', 'key');
    return undefined;
  }
  if (input.field !== undefined) return resolveFieldRef(input.field, { ...ctx, path: [...ctx.path, 'field'] });
  if (input.offset === undefined && required !== undefined) {
    report(ctx, [], required);
    return undefined;
  }
  return { offset: input.offset ?? 0, fits: () => true };
}

/** The placement's field and where its offset came from, as the entry keeps them. */
function fieldOf(where: Placement): { field?: string; offsetOrigin?: FieldPlace['origin'] } {
  return { ...(where.field === undefined ? {} : { field: where.field }), ...(where.origin === undefined ? {} : { offsetOrigin: where.origin }) };
}

/**
 * The entry's ctype: as given, else the type CTF knows for the member or the
 * variable. Refused when CTF's type is not an integer or pointer, or when
 * nothing gives one.
 */
function entryCtype(ctx: EntryContext, given: CType | undefined, known: { typeText: string; ctype: CType | undefined } | undefined, what: string): CType | undefined {
  if (given !== undefined) return given;
  if (known === undefined) {
    report(ctx, [], `needs ctype: ${ctx.types ? `${ctx.types.origin} does not know ${what}` : 'no CTF is loaded to take it from'}`);
    return undefined;
  }
  if (known.ctype === undefined) {
    report(ctx, [], `${what} is ${known.typeText} in ${ctx.types!.origin}, not an integer or pointer; give ctype and an offset of an integer inside it`);
    return undefined;
  }
  return known.ctype;
}

export function normaliseCounter(input: CounterInput, ctx: EntryContext): CounterEntry | undefined {
  const stemOk = checkStem(ctx, ['name'], input.name, input.type === 'counter');
  const source = counterSource(input, ctx);
  if (!stemOk || source === undefined) return undefined;
  const entry = {
    origin: originOf(ctx),
    name: input.name,
    help: input.help ?? '',
    source,
    perCpu: input.per_cpu,
    vnet: input.vnet,
    type: input.type,
  };
  return { ...entry, ...counterNames(entry) };
}

function counterSource(input: CounterInput, ctx: EntryContext): CounterSource | undefined {
  if (input.symbol !== undefined && input.address !== undefined) {
    report(ctx, ['address'], 'cannot be combined with symbol: give symbol (where the handle is stored) or address (the handle itself), not both', 'key');
    return undefined;
  }
  if (input.address !== undefined) return addressSource(input, input.address, ctx);
  if (input.symbol === undefined) {
    report(ctx, [], 'needs symbol (where the counter handle is stored) or address (the handle itself)');
    return undefined;
  }
  return symbolSource(input, input.symbol, ctx);
}

function addressSource(input: CounterInput, address: string, ctx: EntryContext): CounterSource | undefined {
  const extra = (['field', 'offset', 'array'] as const).filter((key) => input[key] !== undefined);
  for (const key of extra) report(ctx, [key], 'only applies with symbol; an address is the counter handle itself', 'key');
  if (!HEX_HANDLE.test(address)) {
    report(ctx, ['address'], `expected a hex string of up to 16 digits such as "0x1a8", got ${JSON.stringify(address)}`);
    return undefined;
  }
  const handle = BigInt(address);
  if (handle % BigInt(COUNTER_HANDLE_BYTES) !== 0n) {
    report(ctx, ['address'], `handle ${address} is not 8-byte aligned; counter(9) slots are uint64_t`);
    return undefined;
  }
  return extra.length > 0 ? undefined : { kind: 'address', handle };
}

function symbolSource(input: CounterInput, symbol: string, ctx: EntryContext): CounterSource | undefined {
  const elements = input.array;
  if (elements !== undefined && !arrayElementsOk(elements, input.type === 'counter', ctx)) return undefined;
  const width = COUNTER_HANDLE_BYTES * (elements?.length ?? 1);
  const where = placement(ctx, input);
  if (where === undefined) return undefined;
  if (where.member && !where.member.isCounter) {
    report(ctx, ['field'], `${where.field} is ${where.member.typeText} in ${ctx.types!.origin}, not counter_u64_t (or an array of it)`);
    return undefined;
  }
  if (!where.fits(width)) return undefined;
  if (where.offset % COUNTER_HANDLE_BYTES !== 0) {
    const key = where.field === undefined ? 'offset' : 'field';
    report(ctx, [key], `offset ${where.offset} is not 8-byte aligned; a counter(9) handle is an 8-byte pointer`);
    return undefined;
  }
  if (elements !== undefined) return { kind: 'array', symbol, offset: where.offset, elements, ...fieldOf(where) };
  return { kind: 'symbol', symbol, offset: where.offset, ...fieldOf(where) };
}

function arrayElementsOk(elements: readonly string[], isCounter: boolean, ctx: EntryContext): boolean {
  if (elements.length === 0) {
    report(ctx, ['array'], 'expected at least one element name, got an empty list');
    return false;
  }
  let ok = true;
  elements.forEach((element, i) => {
    if (elements.indexOf(element) !== i) {
      report(ctx, ['array', i], `element ${element} appears twice`);
      ok = false;
    }
    ok = checkStem(ctx, ['array', i], element, isCounter) && ok;
  });
  return ok;
}

export function normaliseVariable(input: VariableInput, ctx: EntryContext): VariableEntry | undefined {
  const scalar = normaliseScalar(input, ctx, (entry) => variableNames(entry, input.vnet));
  return scalar && { ...scalar, vnet: input.vnet };
}

function normaliseScalar(
  input: DpcpuInput,
  ctx: EntryContext,
  names: (entry: Unnamed<ScalarEntry>) => Pick<ScalarEntry, 'sourceText' | 'family'>,
): ScalarEntry | undefined {
  const stemOk = checkStem(ctx, ['name'], input.name, input.type === 'counter');
  const where = placement(ctx, input);
  if (!stemOk || where === undefined) return undefined;
  const known = where.member ?? (input.field === undefined && input.offset === undefined ? ctx.types?.variable(input.symbol) : undefined);
  const ctype = entryCtype(ctx, input.ctype, known, where.field ?? input.symbol);
  if (ctype === undefined || !where.fits(CTYPE_BYTES[ctype])) return undefined;
  const entry = {
    origin: originOf(ctx),
    name: input.name,
    help: input.help ?? '',
    symbol: input.symbol,
    offset: where.offset,
    ...fieldOf(where),
    ctype,
    scale: input.scale,
    type: input.type,
  };
  return { ...entry, ...names(entry) };
}

export function normaliseDpcpu(input: DpcpuInput, ctx: EntryContext): DpcpuEntry | undefined {
  if (input.symbol.startsWith(DPCPU_PREFIX)) {
    const bare = input.symbol.slice(DPCPU_PREFIX.length);
    report(ctx, ['symbol'], `give the name as in DPCPU_DEFINE (${bare}); libkvm adds ${DPCPU_PREFIX} and translates the address per CPU only then`);
    return undefined;
  }
  return normaliseScalar(input, ctx, dpcpuNames);
}

export function normalisePcpu(input: PcpuInput, ctx: EntryContext): PcpuEntry | undefined {
  const stemOk = checkStem(ctx, ['name'], input.name, input.type === 'counter');
  const where = pcpuFieldOk(input.field, ctx)
    ? placement(ctx, input, 'needs field (pcpu.<field>) or offset (bytes into struct pcpu)')
    : undefined;
  if (!stemOk || where === undefined) return undefined;
  // An array member's length and element type come from CTF unless given.
  const count = input.count ?? where.member?.array?.count ?? 1;
  const element = where.member?.array ? { typeText: `an element of ${where.member.typeText}`, ctype: where.member.ctype } : where.member;
  const ctype = entryCtype(ctx, input.ctype, element, where.field ?? 'the offset');
  if (ctype === undefined) return undefined;
  const width = CTYPE_BYTES[ctype];
  const labelOk = elementLabelOk({ ...input, count }, ctx);
  if (!labelOk || !where.fits(width * count) || !insidePcpu(where, width, count, ctx)) return undefined;
  const entry = {
    origin: originOf(ctx),
    name: input.name,
    help: input.help ?? '',
    offset: where.offset,
    ...fieldOf(where),
    ctype,
    count,
    ...(input.element_label === undefined ? {} : { elementLabel: input.element_label }),
    scale: input.scale,
    ...(input.divide_by === undefined ? {} : { divideBy: input.divide_by }),
    type: input.type,
  };
  return { ...entry, ...pcpuNames(entry) };
}

function pcpuFieldOk(field: string | undefined, ctx: EntryContext): boolean {
  if (field === undefined || field.startsWith('pcpu.')) return true;
  report(ctx, ['field'], `pcpu entries read struct pcpu, so the field must be pcpu.<field>, got ${JSON.stringify(field)}`);
  return false;
}

function insidePcpu(where: Placement, width: number, count: number, ctx: EntryContext): boolean {
  const end = where.offset + width * count;
  if (end <= PCPU_SIZE) return true;
  const key = where.field === undefined ? 'offset' : 'field';
  report(ctx, [key], `offset ${where.offset} plus ${count} × ${width} bytes passes the end of struct pcpu (${PCPU_SIZE} bytes on amd64)`);
  return false;
}

function elementLabelOk(input: PcpuInput & { count: number }, ctx: EntryContext): boolean {
  const label = input.element_label;
  if (label === undefined) {
    if (input.count === 1) return true;
    report(ctx, ['count'], `${input.count} elements need element_label to tell them apart`);
    return false;
  }
  let ok = labelNameOk(label.name, ctx);
  if (label.values.length !== input.count) {
    report(ctx, ['element_label', 'values'], `${label.values.length} values for count ${input.count}; give one value per element`);
    ok = false;
  }
  label.values.forEach((value, i) => {
    if (label.values.indexOf(value) === i) return;
    report(ctx, ['element_label', 'values', i], `value ${JSON.stringify(value)} appears twice`);
    ok = false;
  });
  return ok;
}

function labelNameOk(name: string, ctx: EntryContext): boolean {
  if (name.startsWith('__')) {
    report(ctx, ['element_label', 'name'], `label names starting with __ are reserved by Prometheus, got ${JSON.stringify(name)}`);
    return false;
  }
  if (TAKEN_LABELS.has(name)) {
    report(ctx, ['element_label', 'name'], `the collector already labels pcpu series with ${name}; choose another name`);
    return false;
  }
  return true;
}
