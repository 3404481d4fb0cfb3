/**
 * Jails and virtual network stacks in the simulated kernel, built the way
 * FreeBSD lays them out (VIMAGE kernels, amd64):
 *
 * - every vnet is a 64-byte struct vnet on the LIST `vnet_head`, newest
 *   first (vnet_alloc: LIST_INSERT_HEAD, sys/net/vnet.c), with its own copy
 *   of the set_vnet linker set at vnet_data_base + &vnet_entry_x
 *   (_VNET_PTR, sys/net/vnet.h), in which each VNET_PCPUSTAT array holds
 *   counter(9) handles of its own (VNET_PCPUSTAT_ALLOC);
 * - every jail is a struct prison on the TAILQ `allprison` in jid order
 *   (kern_jail_set, sys/kern/kern_jail.c); prison0, the host, is not on it.
 *   A jail with `vnet = new` has pr_vnet pointing at its own vnet (and
 *   PR_VNET in pr_flags); one without shares its parent's, here prison0's
 *   vnet0.
 *
 * The image holds a fixed number of jail slots, each with a struct prison,
 * a struct vnet, a data area and counter handles, allocated when the image
 * is built; creating a jail fills a free slot and links it, destroying one
 * unlinks it and fills the freed structures with UMA's junk as an
 * INVARIANTS kernel's free(9) does. `JailTable` does both on an existing
 * image, and arms broken lists (a loop, a bad magic, a pointer into
 * unmapped memory) for tests.
 */
import type { CounterSlabs, ImageBuilder } from './builder.js';
import { PAGE_SIZE, VNET_MAGIC_N, Vnet, hex, pageAlign, u64 } from './format.js';
import type { KernelImage } from './image.js';
import { IPSTAT_FIELDS, UDPSTAT_FIELDS } from './kernel-layout.js';
import type { KernelManifest } from './manifest.js';
import { ICMPSTAT_FIELDS, IP6STAT_FIELDS, PRISON_NAME_SIZE, PR_VNET, Prison, TCPSTAT_FIELDS, UMA_JUNK } from './vnet-stats.js';

export interface JailSpec {
  jid: number;
  /** pr_name: at most 255 bytes. */
  name: string;
  /** True: `vnet = new` (a network stack of its own); false: shares the host's. */
  vnet: boolean;
}

/** The VNET_PCPUSTAT arrays in set_vnet, in linker-set order. */
export const VNET_STATS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['udpstat', UDPSTAT_FIELDS],
  ['ipstat', IPSTAT_FIELDS],
  ['tcpstat', TCPSTAT_FIELDS],
  ['icmpstat', ICMPSTAT_FIELDS],
  ['ip6stat', IP6STAT_FIELDS],
];

/** Kernel virtual addresses of the jail slots (malloc'd, in the direct map). */
export const JailKva = {
  prisons: 0xffff_f800_0800_0000n,
  /** struct prison is 2176 bytes: malloc's 4096-byte bucket. */
  prisonStride: 0x1000n,
  vnets: 0xffff_f800_0700_0000n,
  vnetStride: BigInt(Vnet.size),
  data: 0xffff_f800_4000_0000n,
} as const;

/** Where the slots are, written to the manifest so a JailTable can find them. */
export interface JailArea {
  slots: number;
  prisons: string;
  prisonStride: string;
  vnets: string;
  vnetStride: string;
  data: string;
  dataStride: string;
  /** &vnet_entry_<stat> for each VNET_STATS array (the set_vnet offsets). */
  stats: Record<string, { entry: string; count: number }>;
}

export function prisonAddress(area: JailArea, slot: number): bigint {
  return BigInt(area.prisons) + BigInt(area.prisonStride) * BigInt(slot);
}

export function vnetAddress(area: JailArea, slot: number): bigint {
  return BigInt(area.vnets) + BigInt(area.vnetStride) * BigInt(slot);
}

function dataAddress(area: JailArea, slot: number): bigint {
  return BigInt(area.data) + BigInt(area.dataStride) * BigInt(slot);
}

/** A jail slot's initial counter value on a present CPU (field k of all its VNET_STATS handles). */
export function plantedJailCounterValue(slot: number, k: number, cpu: number): bigint {
  return BigInt((slot + 1) * 100_000 + (k + 1) * 10 + cpu + 1);
}

export interface JailBuild {
  builder: ImageBuilder;
  slabs: CounterSlabs;
  /** Present CPU ids (planted values go there). */
  cpus: readonly number[];
  setVnetStart: bigint;
  setVnetStop: bigint;
  slots: number;
  jails: readonly JailSpec[];
  /** vnet0, which jails without a stack of their own share. */
  vnet0: bigint;
  /** The value of __pcpu: counter handles are offsets from it. */
  pcpuBase: bigint;
}

/** Lays out the slots, allocates their handles, and links the initial jails. */
export function placeJails(j: JailBuild): JailArea {
  const b = j.builder;
  const dataStride = pageAlign(Number(j.setVnetStop - j.setVnetStart)) + PAGE_SIZE;
  const area: JailArea = {
    slots: j.slots,
    prisons: hex(JailKva.prisons),
    prisonStride: hex(JailKva.prisonStride),
    vnets: hex(JailKva.vnets),
    vnetStride: hex(JailKva.vnetStride),
    data: hex(JailKva.data),
    dataStride: hex(BigInt(dataStride)),
    stats: Object.fromEntries(VNET_STATS.map(([s, f]) => [s, { entry: hex(b.symbol(`vnet_entry_${s}`).value), count: f.length }])),
  };
  if (j.slots === 0) return area;
  b.addSegment('struct prison slots', JailKva.prisons, Number(JailKva.prisonStride) * j.slots);
  b.addSegment('struct vnet slots', JailKva.vnets, Number(JailKva.vnetStride) * j.slots);
  for (let slot = 0; slot < j.slots; slot++) {
    // One page apart, so a read that runs off a data area faults.
    b.addSegment(`vnet data area ${slot}`, dataAddress(area, slot), dataStride - PAGE_SIZE);
    allocateSlotHandles(j, area, slot);
  }
  linkInitialJails(j, area);
  return area;
}

/** Every VNET_STATS handle of one slot, written into its data area. */
function allocateSlotHandles(j: JailBuild, area: JailArea, slot: number): void {
  const base = u64(dataAddress(area, slot) - j.setVnetStart);
  const plant = j.jails[slot]?.vnet === true;
  let k = 0;
  for (const [stat, fields] of VNET_STATS) {
    const handles = j.slabs.allocate(fields.length, 'clustered');
    const holder = u64(base + j.builder.symbol(`vnet_entry_${stat}`).value);
    handles.forEach((handle, i) => {
      j.builder.writeU64(holder + BigInt(8 * i), handle);
      if (plant) {
        for (const cpu of j.cpus) j.builder.writeU64(u64(j.pcpuBase + handle + BigInt(PAGE_SIZE * cpu)), plantedJailCounterValue(slot, k, cpu));
      }
      k++;
    });
  }
}

/** Jail i takes slot i; allprison in jid order, vnet_head newest first with vnet0 last. */
function linkInitialJails(j: JailBuild, area: JailArea): void {
  const b = j.builder;
  const allprison = b.symbol('allprison').value;
  const vnetHead = b.symbol('vnet_head').value;
  let lastNext = allprison; // &tqh_first, then &pr->pr_list.tqe_next
  [...j.jails].forEach((jail, slot) => {
    const pr = prisonAddress(area, slot);
    writePrison((at, v) => b.writeU64(at, v), (at, v) => b.writeU32(at, v), (at, buf) => b.writeBytes(at, buf), pr, jail, jail.vnet ? vnetAddress(area, slot) : j.vnet0);
    b.writeU64(pr + BigInt(Prison.prev), lastNext);
    b.writeU64(lastNext, pr);
    lastNext = pr + BigInt(Prison.next);
    if (!jail.vnet) return;
    const vnet = vnetAddress(area, slot);
    writeVnet((at, v) => b.writeU64(at, v), (at, v) => b.writeU32(at, v), vnet, u64(dataAddress(area, slot) - j.setVnetStart));
    const head = b.readU64(vnetHead);
    b.writeU64(vnet, head);
    b.writeU64(vnet + 8n, vnetHead);
    if (head !== 0n) b.writeU64(head + 8n, vnet);
    b.writeU64(vnetHead, vnet);
  });
  b.writeU64(allprison + 8n, lastNext); // tqh_last
}

type Write64 = (at: bigint, v: bigint) => void;
type Write32 = (at: bigint, v: number) => void;

function writePrison(w64: Write64, w32: Write32, wbytes: (at: bigint, b: Buffer) => void, pr: bigint, jail: JailSpec, vnet: bigint): void {
  const name = Buffer.alloc(PRISON_NAME_SIZE);
  if (Buffer.byteLength(jail.name) >= PRISON_NAME_SIZE) throw new RangeError(`jail name "${jail.name}" is longer than MAXHOSTNAMELEN - 1`);
  name.write(jail.name, 'utf8');
  wbytes(pr, Buffer.alloc(Prison.size));
  w32(pr + BigInt(Prison.id), jail.jid);
  w32(pr + BigInt(Prison.flags), jail.vnet ? PR_VNET : 0);
  w64(pr + BigInt(Prison.vnet), vnet);
  wbytes(pr + BigInt(Prison.name), name);
}

function writeVnet(w64: Write64, w32: Write32, vnet: bigint, dataBase: bigint): void {
  w32(vnet + BigInt(Vnet.magicN), VNET_MAGIC_N);
  w64(vnet + BigInt(Vnet.dataBase), dataBase);
}

/** One vnet as the image holds it (read by the writer, which trusts its own lists). */
export interface ImageVnet {
  address: bigint;
  dataBase: bigint;
  /** The jail that owns it; undefined for vnet0 (the host). */
  jail?: { jid: number; name: string };
}

/** A jail as the image holds it. */
export interface ImageJail {
  slot: number;
  jid: number;
  name: string;
  vnet: bigint;
}

/**
 * Changes the jails of an existing image while readers run. Writes go in
 * the kernel's order: a structure is filled before the pointer that
 * publishes it, and unlinked before it is freed.
 */
export class JailTable {
  private readonly area: JailArea;
  private readonly allprison: bigint;
  private readonly vnetHead: bigint;

  constructor(
    private readonly image: KernelImage,
    manifest: KernelManifest,
  ) {
    if (manifest.jails === undefined) throw new Error(`${manifest.image}: the kernel has no jail slots`);
    this.area = manifest.jails;
    this.allprison = image.symbol('allprison').value;
    this.vnetHead = image.symbol('vnet_head').value;
  }

  /** allprison in list order. */
  jails(): ImageJail[] {
    const out: ImageJail[] = [];
    for (let pr = this.image.readU64(this.allprison); pr !== 0n; pr = this.image.readU64(pr + BigInt(Prison.next))) {
      const name = this.image.readBytes(pr + BigInt(Prison.name), PRISON_NAME_SIZE);
      out.push({
        slot: Number((pr - BigInt(this.area.prisons)) / BigInt(this.area.prisonStride)),
        jid: this.image.readI32(pr + BigInt(Prison.id)),
        name: name.toString('utf8', 0, name.indexOf(0)),
        vnet: this.image.readU64(pr + BigInt(Prison.vnet)),
      });
    }
    return out;
  }

  /** vnet_head in list order, each with the jail that owns it (the first on allprison pointing at it with PR_VNET). */
  vnets(): ImageVnet[] {
    const owners = new Map(this.jails().filter((j) => this.isOwnVnet(j)).map((j) => [j.vnet, { jid: j.jid, name: j.name }]));
    const out: ImageVnet[] = [];
    for (let v = this.image.readU64(this.vnetHead); v !== 0n; v = this.image.readU64(v)) {
      const owner = owners.get(v);
      out.push({ address: v, dataBase: this.image.readU64(v + BigInt(Vnet.dataBase)), ...(owner && { jail: owner }) });
    }
    return out;
  }

  private isOwnVnet(j: ImageJail): boolean {
    return j.slot >= 0 && j.slot < this.area.slots && j.vnet === vnetAddress(this.area, j.slot);
  }

  /** The address of counter handle `index` of VNET array `stat` in the vnet with this data base. */
  handleHolder(dataBase: bigint, stat: string, index: number): bigint {
    const s = this.area.stats[stat];
    if (s === undefined || index < 0 || index >= s.count) throw new RangeError(`no ${stat}[${index}] in set_vnet`);
    return u64(dataBase + BigInt(s.entry) + BigInt(8 * index));
  }

  /** Creates a jail in a free slot (jid: one above the highest unless given) and returns it. */
  create(name: string, options: { vnet: boolean; jid?: number }): ImageJail {
    const current = this.jails();
    const used = new Set(current.map((j) => j.slot));
    const slot = Array.from({ length: this.area.slots }, (_, i) => i).find((i) => !used.has(i));
    if (slot === undefined) throw new RangeError(`all ${this.area.slots} jail slots are in use`);
    const jid = options.jid ?? Math.max(0, ...current.map((j) => j.jid)) + 1;
    const jail: JailSpec = { jid, name, vnet: options.vnet };
    const pr = prisonAddress(this.area, slot);
    const vnet = options.vnet ? this.allocateVnet(slot) : this.prison0Vnet();
    writePrison((a, v) => this.image.writeU64(a, v), (a, v) => this.image.writeU32(a, v), (a, b) => this.image.writeBytes(a, b), pr, jail, vnet);
    this.tailqInsertTail(pr);
    return { slot, jid, name, vnet };
  }

  /** Removes a jail: unlinks it (and its vnet) and junks the freed structures. */
  destroy(jid: number): void {
    const jail = this.jails().find((j) => j.jid === jid);
    if (jail === undefined) throw new RangeError(`no jail ${jid} on allprison`);
    const pr = prisonAddress(this.area, jail.slot);
    this.tailqRemove(pr);
    if (this.isOwnVnet(jail)) {
      this.listRemove(jail.vnet);
      this.junk(jail.vnet, Vnet.size);
    }
    this.junk(pr, Prison.size);
  }

  private prison0Vnet(): bigint {
    return this.image.readU64(this.image.symbol('prison0').value + BigInt(Prison.vnet));
  }

  /** vnet_alloc: fresh zeroed counters, the magic and data base, then LIST_INSERT_HEAD. */
  private allocateVnet(slot: number): bigint {
    const vnet = vnetAddress(this.area, slot);
    const dataBase = u64(dataAddress(this.area, slot) - BigInt(this.image.symbol('__start_set_vnet').value));
    for (const [stat, fields] of VNET_STATS) {
      for (let i = 0; i < fields.length; i++) {
        const handle = this.image.readU64(this.handleHolder(dataBase, stat, i));
        for (let cpu = 0; cpu <= this.maxid(); cpu++) this.image.setCounter(handle, cpu, 0n);
      }
    }
    this.image.writeBytes(vnet, Buffer.alloc(Vnet.size));
    writeVnet((a, v) => this.image.writeU64(a, v), (a, v) => this.image.writeU32(a, v), vnet, dataBase);
    const head = this.image.readU64(this.vnetHead);
    this.image.writeU64(vnet, head);
    this.image.writeU64(vnet + 8n, this.vnetHead);
    if (head !== 0n) this.image.writeU64(head + 8n, vnet);
    this.image.writeU64(this.vnetHead, vnet);
    return vnet;
  }

  private maxid(): number {
    return this.image.readU32(this.image.symbol('mp_maxid').value);
  }

  private tailqInsertTail(pr: bigint): void {
    const last = this.image.readU64(this.allprison + 8n);
    this.image.writeU64(pr + BigInt(Prison.next), 0n);
    this.image.writeU64(pr + BigInt(Prison.prev), last);
    this.image.writeU64(last, pr);
    this.image.writeU64(this.allprison + 8n, pr + BigInt(Prison.next));
  }

  private tailqRemove(pr: bigint): void {
    const next = this.image.readU64(pr + BigInt(Prison.next));
    const prev = this.image.readU64(pr + BigInt(Prison.prev));
    if (next !== 0n) this.image.writeU64(next + BigInt(Prison.prev), prev);
    else this.image.writeU64(this.allprison + 8n, prev);
    this.image.writeU64(prev, next);
  }

  private listRemove(vnet: bigint): void {
    const next = this.image.readU64(vnet);
    const prev = this.image.readU64(vnet + 8n);
    if (next !== 0n) this.image.writeU64(next + 8n, prev);
    this.image.writeU64(prev, next);
  }

  private junk(at: bigint, size: number): void {
    const b = Buffer.alloc(size);
    for (let i = 0; i + 4 <= size; i += 4) b.writeUInt32LE(UMA_JUNK, i);
    this.image.writeBytes(at, b);
  }

  /** Broken lists for tests: the last vnet's le_next points back at the first. */
  loopVnetList(): void {
    const vnets = this.vnets();
    const first = vnets[0];
    const last = vnets[vnets.length - 1];
    if (first === undefined || last === undefined) throw new Error('vnet_head is empty');
    this.image.writeU64(last.address, first.address);
  }

  /** The last jail's tqe_next points back at the first. */
  loopPrisonList(): void {
    const jails = this.jails();
    const first = jails[0];
    const last = jails[jails.length - 1];
    if (first === undefined || last === undefined) throw new Error('allprison is empty');
    this.image.writeU64(prisonAddress(this.area, last.slot) + BigInt(Prison.next), prisonAddress(this.area, first.slot));
  }

  /** Overwrites the magic of the jail's vnet. */
  corruptVnetMagic(jid: number): void {
    const jail = this.jails().find((j) => j.jid === jid);
    if (jail === undefined) throw new RangeError(`no jail ${jid}`);
    this.image.writeU32(jail.vnet + BigInt(Vnet.magicN), 0x0bad0bad);
  }

  /** Points the jail's vnet's le_next (or, with `prison`, its pr_list next) into unmapped memory. */
  pointIntoUnmapped(jid: number, list: 'vnet' | 'prison'): bigint {
    const jail = this.jails().find((j) => j.jid === jid);
    if (jail === undefined) throw new RangeError(`no jail ${jid}`);
    // The page after the struct prison slots is never mapped.
    const unmapped = prisonAddress(this.area, this.area.slots) + 0x40n;
    const at = list === 'vnet' ? jail.vnet : prisonAddress(this.area, jail.slot) + BigInt(Prison.next);
    this.image.writeU64(at, unmapped);
    return unmapped;
  }
}
