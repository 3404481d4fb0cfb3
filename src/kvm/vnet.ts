/**
 * Every virtual network stack of the kernel and the jail that owns it, read
 * from the host without entering any jail: bounded, checked, lock-free walks
 * of `vnet_head` and `allprison`.
 *
 * What the kernel holds (FreeBSD 13+):
 * - `struct vnet` (sys/net/vnet.h) starts with `LIST_ENTRY(vnet) vnet_le`
 *   and carries `vnet_magic_n` (VNET_MAGIC_N 0x5e4a6f28) and
 *   `vnet_data_base`; all vnets are on `LIST_HEAD vnet_head`
 *   (sys/net/vnet.c), vnet0 being the host's. A VNET variable x of vnet v
 *   is at `v->vnet_data_base + &vnet_entry_x` (_VNET_PTR).
 * - Jails are `struct prison` on `TAILQ_HEAD allprison`
 *   (sys/kern/kern_jail.c), prison0 (the host) not among them; `pr_vnet`
 *   is the jail's own vnet (`vnet = new`) or, for a jail without one, the
 *   same vnet as its parent's.
 * - libkvm translates `vnet_entry_*` symbols into one vnet only, the
 *   caller's (`_kvm_vnet_selectpid`, lib/libkvm/kvm_vnet.c), so walking
 *   all of them is ours. A kernel without options VIMAGE has no
 *   `vnet_head`: its VNET variables are plain globals.
 *
 * The kernel changes both lists under locks we cannot take. A walk visits
 * at most `max` entries, re-checks the magic of every vnet, detects a loop,
 * and turns an unreadable pointer into an error; then it reads allprison a
 * second time and believes the labels only if both readings agree, so a
 * jail created or destroyed meanwhile costs a retry, never a wrong label.
 */
import { KvmVnetWalkError as VnetWalkError } from '../errors.js';
import type { KvmSession } from './session.js';

/** VNET_MAGIC_N (sys/net/vnet.h, FreeBSD 13 and later). */
export const VNET_MAGIC_N = 0x5e4a6f28;
/** MAXHOSTNAMELEN (sys/sys/param.h): the size of pr_name. */
export const PR_NAME_SIZE = 256;
/** The labels of the host's own network stack. */
export const HOST_JID = '0';
export const HOST_JAIL = 'host';

/**
 * Byte offsets in struct vnet (sys/net/vnet.h) and struct prison
 * (sys/sys/jail.h), as the config resolved them: a config layout, the
 * kernel's CTF, or the preset (src/config/vnets.ts). `next` is the first
 * member of `vnet_le` (LIST_ENTRY le_next) and of `pr_list` (TAILQ_ENTRY
 * tqe_next), sys/sys/queue.h.
 */
export interface VnetLayouts {
  readonly vnet: { readonly next: number; readonly magic: number; readonly dataBase: number };
  readonly prison: { readonly next: number; readonly id: number; readonly name: number; readonly vnet: number };
}

/** A network stack and the labels its series get. */
export interface NetworkStack {
  readonly address: bigint;
  readonly dataBase: bigint;
  readonly jid: string;
  readonly jail: string;
  /** The struct prison that owns it; undefined for the host's. */
  readonly prison?: bigint;
}

export type VnetWalk =
  /** options VIMAGE: every labelled stack, the host's first, then by jid. */
  | { readonly vimage: true; readonly stacks: readonly NetworkStack[] }
  /** No vnet_head: VNET variables are globals, read once as the host's. */
  | { readonly vimage: false };

interface Jail {
  readonly address: bigint;
  readonly jid: number;
  readonly name: string;
  readonly vnet: bigint;
}

/** How many times a walk that met a moving kernel is tried before it is reported. */
const ATTEMPTS = 3;

/**
 * Walks vnet_head and allprison. `max` bounds each list (vnets.max).
 * `step` runs before each list entry is read: a scrape's deadline check,
 * so that a long walk on a slow kernel stops when the scrape has run out of
 * time; what it throws ends the walk at once, without the retries.
 * @throws VnetWalkError on a loop, a bad magic, an unreadable pointer or
 *   more than `max` entries, after retrying in case the kernel was moving.
 */
export function walkNetworkStacks(session: KvmSession, layouts: VnetLayouts, max: number, step: () => void = () => undefined): VnetWalk {
  const head = session.tryLookup('vnet_head');
  if (head === undefined) return { vimage: false };
  let stopped: { readonly error: unknown } | undefined;
  const guardedStep = () => {
    try {
      step();
    } catch (error) {
      stopped = { error };
      throw error;
    }
  };
  let last: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      return { vimage: true, stacks: walkOnce(session, layouts, max, head.address, guardedStep) };
    } catch (error) {
      if (stopped !== undefined) throw stopped.error;
      last = error;
    }
  }
  throw last instanceof VnetWalkError ? last : new VnetWalkError(String((last as Error).message), { cause: last });
}

function walkOnce(session: KvmSession, layouts: VnetLayouts, max: number, head: bigint, step: () => void): NetworkStack[] {
  const host = session.readPointer(session.lookup('vnet0').address);
  const jails = readAllprison(session, layouts, max, step);
  const vnets = readVnetHead(session, layouts, max, head, step);
  const again = readAllprison(session, layouts, max, step);
  if (!sameJails(jails, again)) throw new VnetWalkError('allprison changed while the vnets were read');
  return labelStacks(host, vnets, jails);
}

/** The first jail on allprison that points at a vnet owns it; the others share it. */
function labelStacks(host: bigint, vnets: ReadonlyMap<bigint, bigint>, jails: readonly Jail[]): NetworkStack[] {
  const owners = new Map<bigint, Jail>();
  for (const jail of jails) if (!owners.has(jail.vnet)) owners.set(jail.vnet, jail);
  const stacks: NetworkStack[] = [];
  const hostBase = vnets.get(host);
  if (hostBase === undefined) throw new VnetWalkError(`vnet0 (0x${host.toString(16)}) is not on vnet_head`);
  stacks.push({ address: host, dataBase: hostBase, jid: HOST_JID, jail: HOST_JAIL });
  const owned = [...owners.values()].filter((j) => j.vnet !== host && vnets.has(j.vnet)).sort((a, b) => a.jid - b.jid);
  for (const jail of owned) {
    stacks.push({ address: jail.vnet, dataBase: vnets.get(jail.vnet)!, jid: String(jail.jid), jail: jail.name, prison: jail.address });
  }
  return stacks;
}

/** vnet_head: address -> vnet_data_base, magic checked on every vnet. */
function readVnetHead(session: KvmSession, layouts: VnetLayouts, max: number, head: bigint, step: () => void): Map<bigint, bigint> {
  const { next, magic, dataBase } = layouts.vnet;
  const out = new Map<bigint, bigint>();
  const size = Math.max(next + 8, magic + 4, dataBase + 8);
  const buf = Buffer.alloc(size);
  let at = readLink(session, head, 'vnet_head');
  while (at !== 0n) {
    step();
    if (out.has(at)) throw new VnetWalkError(`vnet_head loops back to the vnet at ${hex(at)}`);
    if (out.size >= max) throw new VnetWalkError(`vnet_head has more than vnets.max (${max}) vnets`);
    readStruct(session, at, buf, 'struct vnet', 'vnet_head');
    const seen = buf.readUInt32LE(magic);
    if (seen !== VNET_MAGIC_N) {
      throw new VnetWalkError(`the vnet at ${hex(at)} on vnet_head has magic ${hex(BigInt(seen))}, not VNET_MAGIC_N ${hex(BigInt(VNET_MAGIC_N))}`);
    }
    out.set(at, buf.readBigUInt64LE(dataBase));
    at = buf.readBigUInt64LE(next);
  }
  return out;
}

/** allprison in list order. */
function readAllprison(session: KvmSession, layouts: VnetLayouts, max: number, step: () => void = () => undefined): Jail[] {
  const p = layouts.prison;
  const size = Math.max(p.next + 8, p.id + 4, p.vnet + 8, p.name + PR_NAME_SIZE);
  const buf = Buffer.alloc(size);
  const jails: Jail[] = [];
  const seen = new Set<bigint>();
  let at = readLink(session, session.lookup('allprison').address, 'allprison');
  while (at !== 0n) {
    step();
    if (seen.has(at)) throw new VnetWalkError(`allprison loops back to the prison at ${hex(at)}`);
    if (jails.length >= max) throw new VnetWalkError(`allprison has more than vnets.max (${max}) jails`);
    seen.add(at);
    readStruct(session, at, buf, 'struct prison', 'allprison');
    jails.push({ address: at, jid: buf.readInt32LE(p.id), name: prisonName(buf, p.name, at), vnet: buf.readBigUInt64LE(p.vnet) });
    at = buf.readBigUInt64LE(p.next);
  }
  return jails;
}

/**
 * The name of every jail on allprison by jid, read once (for labelling
 * processes by their ki_jid); the host, jid 0, is "host".
 * @throws KvmVnetWalkError as walkNetworkStacks does
 */
export function readJailNames(session: KvmSession, layouts: VnetLayouts, max: number): Map<number, string> {
  const names = new Map<number, string>([[0, HOST_JAIL]]);
  for (const jail of readAllprison(session, layouts, max)) names.set(jail.jid, jail.name);
  return names;
}

function prisonName(buf: Buffer, offset: number, at: bigint): string {
  const end = buf.indexOf(0, offset);
  if (end === -1 || end >= offset + PR_NAME_SIZE) throw new VnetWalkError(`the prison at ${hex(at)} has no NUL in pr_name`);
  return buf.toString('utf8', offset, end);
}

function sameJails(a: readonly Jail[], b: readonly Jail[]): boolean {
  return a.length === b.length && a.every((j, i) => j.address === b[i]!.address && j.jid === b[i]!.jid && j.vnet === b[i]!.vnet && j.name === b[i]!.name);
}

function readLink(session: KvmSession, at: bigint, list: string): bigint {
  try {
    return session.readPointer(at);
  } catch (error) {
    throw new VnetWalkError(`${list}: the pointer at ${hex(at)} cannot be read: ${(error as Error).message}`, { cause: error });
  }
}

function readStruct(session: KvmSession, at: bigint, buf: Buffer, what: string, list: string): void {
  try {
    session.read(at, buf);
  } catch (error) {
    throw new VnetWalkError(`${list} points at ${hex(at)}, where no ${what} can be read: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * True while a stack read by walkNetworkStacks still belongs to the same
 * jail: its vnet keeps the magic and its prison still has that jid and that
 * vnet. Checked after its counters are read, so a jail destroyed (and its
 * memory reused) in between never lends its label to another's values.
 */
export function stackStillValid(session: KvmSession, layouts: VnetLayouts, stack: NetworkStack): boolean {
  try {
    if (session.readU32(stack.address + BigInt(layouts.vnet.magic)) !== VNET_MAGIC_N) return false;
    if (stack.prison === undefined) return true;
    return (
      String(session.readI32(stack.prison + BigInt(layouts.prison.id))) === stack.jid &&
      session.readPointer(stack.prison + BigInt(layouts.prison.vnet)) === stack.address
    );
  } catch {
    return false;
  }
}

function hex(n: bigint): string {
  return `0x${n.toString(16)}`;
}
