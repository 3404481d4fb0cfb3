/**
 * How long opening a kernel-sized CTF container takes: a synthetic FreeBSD
 * v3 container of about 3 MB inflated and tens of thousands of types (the
 * size of a GENERIC kernel's), compressed as the kernel's is. Measures the
 * open (inflate, header, index of every record), the first name lookup
 * (which builds the name index) and resolving a few members, as the config
 * resolution does once per open.
 *
 *   node dist/bench/ctf-parse.js [--runs N]
 */
import { parseArgs } from 'node:util';
import { CTF_INT_SIGNED, CtfWriter, type MemberSpec } from '../sim/image/ctf-writer.js';
import { Bytes } from '../src/ctf/bytes.js';
import { CtfContainer } from '../src/ctf/container.js';
import { findAggregates, memberAt } from '../src/ctf/query.js';

/** Structs and members enough for a GENERIC-sized container. */
const STRUCTS = 6_000;
const MEMBERS = 14;

function kernelSizedContainer(): Buffer {
  const w = new CtfWriter(3);
  const int = w.integer('int', 4, { flags: CTF_INT_SIGNED });
  const long = w.integer('long', 8, { flags: CTF_INT_SIGNED });
  const ulong = w.integer('unsigned long', 8);
  const u_long = w.typedef('u_long', ulong);
  const base = [int, long, u_long];
  for (let s = 0; s < STRUCTS; s++) {
    const id = w.aggregate('struct', `kstruct_${s}`, MEMBERS * 8);
    const pointer = w.pointer(id);
    w.typedef(`kstruct_${s}_t`, id);
    const array = w.array(base[s % 3]!, long, 4);
    const members: MemberSpec[] = Array.from({ length: MEMBERS }, (_, m) => ({
      name: `ks${s}_member_${m}`,
      type: m === 0 ? pointer : m === 1 ? array : base[m % 3]!,
      bitOffset: m * 64,
    }));
    w.setMembers(id, members);
  }
  return w.build();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function main(): void {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
  const runs = Number(values.runs);
  const section = kernelSizedContainer();
  const timings = { open: [] as number[], firstLookup: [] as number[], resolve: [] as number[] };
  let ctf: CtfContainer | undefined;
  for (let run = 0; run < runs; run++) {
    const t0 = performance.now();
    ctf = new CtfContainer('bench', new Bytes(section, 'bench', '.SUNW_ctf'));
    const t1 = performance.now();
    const [hit] = findAggregates(ctf, `kstruct_${STRUCTS - 1}`);
    const t2 = performance.now();
    for (let m = 0; m < MEMBERS; m++) memberAt(ctf, hit!.type, `ks${STRUCTS - 1}_member_${m}`);
    const t3 = performance.now();
    timings.open.push(t1 - t0);
    timings.firstLookup.push(t2 - t1);
    timings.resolve.push(t3 - t2);
  }
  const inflated = ctf!.header.stroff + ctf!.header.strlen;
  process.stdout.write(
    [
      `CTF v3 container: ${(section.length / 1e6).toFixed(2)} MB compressed, ${(inflated / 1e6).toFixed(2)} MB inflated, ${ctf!.typeCount} types (median of ${runs} runs, node ${process.version})`,
      `  open (inflate + header + record index)  ${median(timings.open).toFixed(1)} ms`,
      `  first name lookup (builds name index)   ${median(timings.firstLookup).toFixed(1)} ms`,
      `  resolve ${MEMBERS} members of one struct       ${median(timings.resolve).toFixed(2)} ms`,
      '',
    ].join('\n'),
  );
}

main();
