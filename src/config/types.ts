/**
 * The validated, normalised configuration: what `loadConfig` returns after
 * the YAML has passed the schema, defaults are filled in, presets are merged
 * and paths are made absolute. Collectors read only this shape.
 */
import type { CType } from '../abi.js';
import type { FamilyHead } from '../exposition/family.js';

export type MetricKind = 'counter' | 'gauge' | 'untyped';

export type { CType } from '../abi.js';

/** Where an entry sits in the file it came from, for messages found after loading. */
export interface Origin {
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  /** Path of the entry, e.g. `counters[3]`. */
  readonly key: string;
}

/** Where a `field:` offset came from, for `check`. */
export interface OffsetOrigin {
  /** `config layout vmmeter (FILE)`, `CTF of /boot/kernel/kernel`, `preset layout vmmeter (FILE)`. */
  readonly from: string;
  /** Set when CTF gave the offset and the preset's layout says otherwise. */
  readonly conflict?: string;
}

/** `kvm.ctf`: find the kernel's CTF (auto), use none (off), or read these files (the kernel first). */
export type CtfChoice = 'auto' | 'off' | readonly string[];

export interface KvmConfig {
  /** Path or soname of libkvm (absolute once loaded, unless a bare soname). */
  readonly library: string;
  /** null: the running kernel (libkvm's `getbootfile()`). */
  readonly execfile: string | null;
  /** `/dev/mem` for the running kernel, or a crash dump / image path. */
  readonly corefile: string;
  readonly ctf: CtfChoice;
}

/** Where a counter's handle (or first handle) is stored, or the handle itself. */
export type CounterSource =
  /** The handle is stored at `symbol + offset` (offset may come from a layout field). */
  | { readonly kind: 'symbol'; readonly symbol: string; readonly offset: number; readonly field?: string; readonly offsetOrigin?: OffsetOrigin }
  /** Consecutive handles at `symbol + offset`, one per element name. */
  | { readonly kind: 'array'; readonly symbol: string; readonly offset: number; readonly elements: readonly string[]; readonly field?: string; readonly offsetOrigin?: OffsetOrigin }
  /** A raw handle value (an offset from `__pcpu` on amd64). */
  | { readonly kind: 'address'; readonly handle: bigint };

/** A family a config entry produces, named once at load (names.ts) and emitted as is by its collector. */
export interface EntryFamily extends FamilyHead {
  readonly type: MetricKind;
}

/** One counter(9) handle of a counters entry: the entry's only one, or one array element's. */
export interface CounterHandleNames {
  readonly element?: string;
  /** Where the handle is stored, as the kernel spells it: `vm_cnt.v_swtch`, `tcps_states[4] (established)`. */
  readonly sourceText: string;
  readonly sum: EntryFamily;
  /** With `per_cpu`: the family with a series per CPU. */
  readonly percpu?: EntryFamily;
}

export interface CounterEntry {
  readonly origin: Origin;
  /** Metric stem: `kvm_<name>_total`, `kvm_<name>_percpu_total`; arrays add `_<element>`. */
  readonly name: string;
  readonly help: string;
  readonly source: CounterSource;
  readonly perCpu: boolean;
  /** Read in every network stack (VNET), each series labelled with jid and jail. */
  readonly vnet: boolean;
  readonly type: MetricKind;
  /** Where the handle(s) come from, as the kernel spells it. */
  readonly sourceText: string;
  readonly handles: readonly CounterHandleNames[];
}

/** A scalar kernel variable read at `symbol + offset`. */
export interface ScalarEntry {
  readonly origin: Origin;
  /** Metric name without the `kvm_` prefix (counters get `_total` appended). */
  readonly name: string;
  readonly help: string;
  /** A plain variable's name, or for DPCPU the name in `DPCPU_DEFINE(t, name)`. */
  readonly symbol: string;
  readonly offset: number;
  readonly field?: string;
  readonly offsetOrigin?: OffsetOrigin;
  readonly ctype: CType;
  /** Multiplied into the value; e.g. 4096 for a page count exported in bytes. */
  readonly scale: number;
  readonly type: MetricKind;
  /** Where the value comes from, as the kernel spells it: `vm_cnt.v_free_count`, `DPCPU pcputicks`. */
  readonly sourceText: string;
  readonly family: EntryFamily;
}

/** A plain kernel variable (kvm_read); with `vnet`, a VNET variable read in every network stack. */
export type VariableEntry = ScalarEntry & { readonly vnet: boolean };

/** A DPCPU variable, one value per CPU. */
export type DpcpuEntry = ScalarEntry;

export interface PcpuEntry {
  readonly origin: Origin;
  readonly name: string;
  readonly help: string;
  /** Byte offset in `struct pcpu` (from `field` via the `pcpu` layout, or given). */
  readonly offset: number;
  readonly field?: string;
  readonly offsetOrigin?: OffsetOrigin;
  readonly ctype: CType;
  /** Number of consecutive elements (e.g. 5 for `pc_cp_time[CPUSTATES]`). */
  readonly count: number;
  /** With count > 1: the label that tells elements apart and one value per element. */
  readonly elementLabel?: { readonly name: string; readonly values: readonly string[] };
  readonly scale: number;
  /** Divide by this kernel int variable's value (e.g. `stathz` for ticks to seconds). */
  readonly divideBy?: string;
  readonly type: MetricKind;
  /** Where the value comes from: `struct pcpu.pc_cp_time`. */
  readonly sourceText: string;
  readonly family: EntryFamily;
}

export interface BreakdownConfig {
  readonly enabled: boolean;
  /** At most this many series; the rest are summed into `other`. */
  readonly maxSeries: number;
}

/** One of `processes.groups`: processes whose ki_comm and command line match, counted under `name`. */
export interface ProcessGroup {
  readonly name: string;
  /** Pattern for ki_comm (process-groups.ts); absent: any command. */
  readonly comm?: string;
  /** Pattern for the command line, kvm_getargv's arguments joined by spaces; absent: any. */
  readonly args?: string;
}

export interface ProcessesConfig {
  readonly byJail: BreakdownConfig;
  readonly byUser: BreakdownConfig;
  readonly byCommand: BreakdownConfig;
  /** Each process counts in the first group it matches; empty: no kvm_processes_group. */
  readonly groups: readonly ProcessGroup[];
}

/** The VNET walks (src/kvm/vnet.ts) and the jails each `vnet: true` entry labels. */
export interface VnetsConfig {
  /** At most this many vnets and jails are walked (vnets.max). */
  readonly max: number;
  /** Per entry, at most this many jails get series; the rest are summed as jail="other". */
  readonly maxSeries: number;
  /** The walks' offsets in struct vnet and struct prison; undefined when no source has them all. */
  readonly layouts?: {
    readonly vnet: { readonly next: number; readonly magic: number; readonly dataBase: number };
    readonly prison: { readonly next: number; readonly id: number; readonly name: number; readonly vnet: number };
  };
  /** Where each of those offsets came from, for `check`. */
  readonly offsets?: readonly VnetOffset[];
}

/** One walk offset: `prison.pr_vnet`, `vnet.vnet_le.le_next`. */
export interface VnetOffset {
  readonly field: string;
  readonly offset: number;
  readonly origin: OffsetOrigin;
}

export type CollectorName =
  | 'counters' | 'variables' | 'vnet' | 'dpcpu' | 'pcpu' | 'processes' | 'cpus' | 'loadavg' | 'swap';

export interface Config {
  /** Absolute path of the file this was loaded from. */
  readonly file: string;
  readonly kvm: KvmConfig;
  /** The kernel types field offsets were resolved against, or why there were none (then presets and layouts only). */
  readonly ctf: { readonly origin: string } | { readonly none: string };
  /** Explicit enable/disable from the file; flags override, registry defaults fill the rest. */
  readonly collectors: Readonly<Partial<Record<CollectorName, boolean>>>;
  readonly counters: readonly CounterEntry[];
  readonly variables: readonly VariableEntry[];
  readonly dpcpu: readonly DpcpuEntry[];
  readonly pcpu: readonly PcpuEntry[];
  readonly processes: ProcessesConfig;
  readonly vnets: VnetsConfig;
}
