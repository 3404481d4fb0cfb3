/**
 * CTF v3 against an oracle nobody here wrote: gcc 12's `-gctf` emits GNU CTF
 * whose type records FreeBSD's v3 copies; gnu-ctf.ts translates the framing
 * that differs. The same object's DWARF, read by `pahole -F dwarf`, is the
 * expected answer for every struct and union; `readelf -s` gives each
 * variable's size and binutils' `objdump --ctf` each type's kind and each
 * variable's type.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCtfFile } from '../../src/ctf/file.js';
import { findExecutable } from '../support/tools.js';
import { gnuHeader, gnuToFreeBsd, type ElfDataSymbol } from './gnu-ctf.js';
import { runLayout, tempDir } from './support.js';

const SOURCE = `
#include <stddef.h>
typedef unsigned int u_int;
typedef unsigned long u_long;
typedef u_long counter_u64_t_like;
struct forward_only;
enum color { RED, GREEN = 5, BLUE = -1 };
struct list_entry { struct list_entry *le_next; struct list_entry **le_prev; };
struct flags {
  unsigned int a:1, b:2, c:13;
  unsigned char d:3;
  unsigned short e:9;
  unsigned long long wide:40, rest:24;
  int sign:5;
};
union value { long l; char bytes[8]; void *p; };
struct counters {
  volatile u_int v_count;
  const char *const v_name;
  u_long v_swtch[4][3];
  counter_u64_t_like v_stats[16];
  struct list_entry v_link;
  union { int as_int; float as_float; };
  struct { short lo, hi; } v_pair;
  struct { char tag; union { int x; long y; }; } v_nested[2];
  int (*v_handler)(struct counters *, long, ...);
  void (*v_hooks[3])(void);
  struct forward_only *v_opaque;
  enum color v_color;
  struct flags v_flags;
  union value v_value;
  double v_ratio;
  _Bool v_ok;
  char v_tail[];
};
struct big { char head; char space[9000]; long after; };
struct counters the_counters;
struct big *big_one;
static union value values[5];
enum color current_color;
const char *names[4];
void *touch(void) { return values; }
`;

const dir = tempDir();
let object: string;
let gnu: Buffer;
let symbols: ElfDataSymbol[];
let translated: string;

beforeAll(() => {
  const source = join(dir, 'types.c');
  object = join(dir, 'types.o');
  writeFileSync(source, SOURCE);
  execFileSync(findExecutable('gcc', 'apt-get install gcc'), ['-g', '-gctf', '-O0', '-c', source, '-o', object]);
  const gnuFile = join(dir, 'types.gnu-ctf');
  execFileSync(findExecutable('objcopy', 'apt-get install binutils'), ['--dump-section', `.ctf=${gnuFile}`, object]);
  gnu = readFileSync(gnuFile);
  symbols = readelfSymbols(object);
  const ctfFile = join(dir, 'types.ctf');
  writeFileSync(ctfFile, gnuToFreeBsd(gnu, symbols));
  translated = join(dir, 'types-freebsd.o');
  execFileSync(findExecutable('objcopy', 'apt-get install binutils'), ['--remove-section', '.ctf', '--add-section', `.SUNW_ctf=${ctfFile}`, object, translated]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Symbol extends ElfDataSymbol {
  readonly size: number;
  readonly type: string;
}

/** `readelf -sW`, with init_symtab's tests (ctf_open.c) for which symbols get a data-object slot. */
function readelfSymbols(file: string): Symbol[] {
  const out = execFileSync(findExecutable('readelf', 'apt-get install binutils'), ['-sW', file], { encoding: 'utf8' });
  return [...out.matchAll(/^\s*\d+:\s+([0-9a-f]+)\s+(\d+)\s+(\w+)\s+\w+\s+\w+\s+(\w+)\s*(\S*)$/gm)].map(([, value, size, type, ndx, name]) => ({
    name: name!,
    size: Number(size),
    type: type!,
    hasSlot: type === 'OBJECT' && name !== '' && ndx !== 'UND' && !(ndx === 'ABS' && /^0+$/.test(value!)) && name !== '_START_' && name !== '_END_',
  }));
}

interface FlatMember {
  path: string;
  offset: number;
  size: number;
  bitOffset: number | null;
  bitSize: number | null;
}

/**
 * pahole's structs and unions: every member, nested ones flattened with
 * absolute offsets as pahole prints them, and the size from `pahole --sizes`
 * (pahole prints no size comment for a union).
 */
function paholeLayouts(file: string): Map<string, { size: number; members: FlatMember[] }> {
  const pahole = findExecutable('pahole', 'apt-get install dwarves');
  const sizes = new Map([...execFileSync(pahole, ['-F', 'dwarf', '--sizes', file], { encoding: 'utf8' }).matchAll(/^(\w+)\t(\d+)\t/gm)].map((m) => [m[1]!, Number(m[2])]));
  const out = execFileSync(pahole, ['-F', 'dwarf', file], { encoding: 'utf8' });
  const layouts = new Map<string, { size: number; members: FlatMember[] }>();
  let current: { name: string; members: FlatMember[] } | undefined;
  for (const line of out.split('\n')) {
    const start = /^(struct|union) (\w+) \{$/.exec(line);
    if (start) {
      current = { name: `${start[1]} ${start[2]}`, members: [] };
      continue;
    }
    if (!current) continue;
    if (line === '};') {
      layouts.set(current.name, { size: sizes.get(current.name.split(' ')[1]!)!, members: current.members });
      current = undefined;
      continue;
    }
    const depth = /^\t*/.exec(line)![0].length;
    const member = /^\t+(.*?);\s+\/\*\s+(\d+)(?::\s*(\d+))?\s+(\d+)\s+\*\/$/.exec(line);
    if (!member) continue;
    const decl = member[1]!;
    const width = /:(\d+)$/.exec(decl);
    // A nested aggregate's name comes only on its closing line: paths are the nesting depth in dots and the name.
    const path = `${'.'.repeat(depth - 1)}${memberName(decl)}`;
    // pahole gives a bit-field as storage unit offset:bit; the layout's byte offset is the bit offset's byte.
    const bitOffset = width ? Number(member[2]) * 8 + Number(member[3]) : null;
    const offset = bitOffset === null ? Number(member[2]) : Math.floor(bitOffset / 8);
    current.members.push({ path, offset, size: Number(member[4]), bitOffset, bitSize: width ? Number(width[1]) : null });
  }
  return layouts;
}

function memberName(decl: string): string {
  const pointer = /\(\*(\w+)\)/.exec(decl);
  if (pointer) return pointer[1]!;
  const bare = decl.replace(/:\d+$/, '').replace(/(\[\d*\])+$/, '');
  if (bare.startsWith('}')) return bare.slice(1).trim();
  return /(\w+)$/.exec(bare)![1]!;
}

interface Member {
  name: string;
  offset: number;
  size: number;
  bit_offset: number | null;
  bit_size: number | null;
  anon_layout?: { members: Member[] };
}

/**
 * The reader's layout flattened the way pahole prints it: an unnamed
 * aggregate's members (its first element's, for an array) at absolute
 * offsets before the member that holds them.
 */
function flatten(members: readonly Member[], depth = 0, base = 0): FlatMember[] {
  return members.flatMap((m) => {
    const nested = m.anon_layout ? flatten(m.anon_layout.members, depth + 1, base + m.offset) : [];
    const self: FlatMember = { path: `${'.'.repeat(depth)}${m.name}`, offset: base + m.offset, size: m.size, bitOffset: m.bit_offset === null ? null : base * 8 + m.bit_offset, bitSize: m.bit_size };
    return [...nested, self];
  });
}

describe('GNU CTF from gcc -gctf, translated to FreeBSD CTF v3', () => {
  it('gcc writes GNU CTF_VERSION_3 (version byte 4) with an object index, as the translation expects', () => {
    const h = gnuHeader(gnu);
    expect(h.version).toBe(4);
    expect(h.funcidxoff - h.objtidxoff).toBe(h.funcoff - h.objtoff);
    expect(h.funcoff - h.objtoff).toBe(4 * symbols.filter((s) => s.hasSlot).length);
  });

  it('every type has the kind objdump --ctf gives it (slices show as integers there too)', () => {
    const dump = execFileSync(findExecutable('objdump', 'apt-get install binutils'), ['--ctf', object], { encoding: 'utf8' });
    const kinds = [...dump.slice(dump.indexOf('  Types:')).matchAll(/^ {4}0x([0-9a-f]+): \(kind (\d+)\)/gm)].map((m) => [parseInt(m[1]!, 16), Number(m[2])]);
    expect(kinds.length).toBeGreaterThan(40);
    const names = ['unknown', 'integer', 'float', 'pointer', 'array', 'function', 'struct', 'union', 'enum', 'forward', 'typedef', 'volatile', 'const', 'restrict'];
    const { ctf } = readCtfFile(translated)!;
    const ours = Array.from({ length: ctf.typeCount }, (_, i) => [i + 1, ctf.type(i + 1).kind] as const);
    expect(ours.map(([id, kind]) => [id, names.indexOf(kind)])).toEqual(kinds);
  });

  it('every struct and union matches pahole -F dwarf on the same object: size, offsets, sizes, bit-fields', () => {
    const expected = paholeLayouts(object);
    expect([...expected.keys()], [...expected.keys()].join()).toEqual(expect.arrayContaining(['struct counters', 'struct flags', 'union value', 'struct big', 'struct list_entry']));
    const run = runLayout(translated, [...expected.keys()]);
    expect(run.code, run.stderr).toBe(0);
    const reports = JSON.parse(run.stdout) as { kind: string; name: string; size: number; members: Member[] }[];
    expect(reports).toHaveLength(expected.size);
    for (const report of reports) {
      const want = expected.get(`${report.kind} ${report.name}`)!;
      expect(report.size, report.name).toBe(want.size);
      expect(flatten(report.members), report.name).toEqual(want.members);
    }
  });

  it("every variable's type is objdump's and its size readelf's st_size", () => {
    const dump = execFileSync(findExecutable('objdump', 'apt-get install binutils'), ['--ctf', object], { encoding: 'utf8' });
    const data = dump.slice(dump.indexOf('Data objects:'), dump.indexOf('Function objects:'));
    const variables = symbols.filter((s) => s.hasSlot);
    const run = runLayout(translated, variables.map((v) => `var:${v.name}`));
    expect(run.code, run.stderr).toBe(0);
    const reports = JSON.parse(run.stdout) as { name: string; type: string; size: number }[];
    for (const v of variables) {
      const report = reports.find((r) => r.name === v.name)!;
      expect(report.size, v.name).toBe((v as Symbol).size);
      const objdumpType = new RegExp(`^ {4}${v.name} -> 0x[0-9a-f]+: \\(kind \\d+\\) (.*?) \\((size|aligned)`, 'm').exec(data)![1];
      expect(report.type, v.name).toBe(objdumpType);
    }
  });
});
