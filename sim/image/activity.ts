/**
 * KernelActivity: makes a simulated kernel look alive by advancing it at
 * realistic rates, from a timer or one step at a time. Per CPU (with a
 * fixed imbalance, interrupts leaning on CPU 0): context switches,
 * interrupts, syscalls, traps, soft interrupts and page faults in vm_cnt;
 * UDP and IP packets in the vnet0 copies of udpstat and ipstat, and each
 * jail's own stack at its own rate (jail-traffic.ts); a little
 * sendfile; pc_cp_time ticks by mode at stathz; pc_switchtime; ticks and
 * DPCPU pcputicks at hz; load averages decaying toward the number of
 * runnable threads as the kernel's loadav() does; and short-lived processes
 * that fork (vm_cnt.v_forks), run, exit as zombies and are reaped.
 *
 * Every random choice comes from one xorshift32 stream and time enters only
 * as the step length, so the same seed and the same steps write the same
 * bytes; tests call step() directly. Just over 300 lines: one short method
 * per kind of kernel activity.
 */
import { CPUSTATES, CpuState, FSCALE, Loadavg, Pcpu } from './format.js';
import type { KernelImage } from './image.js';
import { CPU_TICK_FREQUENCY, HZ, STATHZ } from './kernel-layout.js';
import { type KinfoProcess, type KinfoThread, ProcState } from './kinfo.js';
import { JailTraffic } from './jail-traffic.js';
import { type KernelManifest, counterHandle, symbolAddress } from './manifest.js';
import { Xorshift32 } from './prng.js';

/** Whole-machine event rates per second. */
export interface ActivityRates {
  contextSwitches: number;
  interrupts: number;
  syscalls: number;
  traps: number;
  softInterrupts: number;
  vmFaults: number;
  udpIn: number;
  udpOut: number;
  ipIn: number;
  ipOut: number;
  sendfiles: number;
  forks: number;
}

export const DEFAULT_RATES: ActivityRates = {
  contextSwitches: 12_000,
  interrupts: 4_000,
  syscalls: 45_000,
  traps: 3_000,
  softInterrupts: 1_500,
  vmFaults: 8_000,
  udpIn: 300,
  udpOut: 280,
  ipIn: 2_500,
  ipOut: 2_200,
  sendfiles: 40,
  forks: 3,
};

export interface ActivityOptions {
  seed?: number | string;
  /** Timer period for start(), milliseconds (default 1000). */
  intervalMs?: number;
  rates?: Partial<ActivityRates>;
  /** Fork and reap processes (default true). */
  processChurn?: boolean;
}

/** Which counters move with which rate, and the share of the rate each gets. */
const COUNTER_RATES: ReadonlyArray<readonly [string, keyof ActivityRates, number]> = [
  ['vm_cnt.v_swtch', 'contextSwitches', 1],
  ['vm_cnt.v_intr', 'interrupts', 1],
  ['vm_cnt.v_syscall', 'syscalls', 1],
  ['vm_cnt.v_trap', 'traps', 1],
  ['vm_cnt.v_soft', 'softInterrupts', 1],
  ['vm_cnt.v_vm_faults', 'vmFaults', 1],
  ['vm_cnt.v_zfod', 'vmFaults', 0.4],
  ['vm_cnt.v_cow_faults', 'vmFaults', 0.1],
  ['vm_cnt.v_io_faults', 'vmFaults', 0.01],
  ['udpstat.udps_ipackets', 'udpIn', 1],
  ['udpstat.udps_noport', 'udpIn', 0.02],
  ['udpstat.udps_opackets', 'udpOut', 1],
  ['ipstat.ips_total', 'ipIn', 1],
  ['ipstat.ips_delivered', 'ipIn', 0.98],
  ['ipstat.ips_localout', 'ipOut', 1],
  ['ipstat.ips_fragments', 'ipIn', 0.001],
  ['sfstat.sf_syscalls', 'sendfiles', 1],
  ['sfstat.sf_iocnt', 'sendfiles', 0.3],
  ['pqstate_commit_retries', 'vmFaults', 0.0005],
  ['object_collapses', 'forks', 0.5],
];

/** Share of each CPU's stat ticks per mode when fully busy (idle takes the rest). */
const BUSY_SHARES: Readonly<Record<number, number>> = {
  [CpuState.USER]: 0.2,
  [CpuState.NICE]: 0.01,
  [CpuState.SYS]: 0.09,
  [CpuState.INTR]: 0.015,
};

const LOADAVG_PERIODS = [60, 300, 900] as const;
const SHORT_LIVED = ['sh', 'awk', 'grep', 'sed', 'date', 'php', 'sendmail', 'find', 'cut', 'sleep'] as const;

export class KernelActivity {
  private readonly rng: Xorshift32;
  private readonly rates: ActivityRates;
  private readonly weights: number[];
  private readonly handles: ReadonlyArray<readonly [bigint, keyof ActivityRates, number]>;
  private readonly statCarry: number[];
  private readonly load: number[];
  private procs: KinfoProcess[];
  private spawned: number[] = [];
  private zombies: number[] = [];
  private woken: number[] = [];
  private nextPid: number;
  private nextTid: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly jailTraffic: JailTraffic | undefined;

  constructor(
    private readonly image: KernelImage,
    private readonly manifest: KernelManifest,
    private readonly options: ActivityOptions = {},
  ) {
    this.rng = new Xorshift32(options.seed ?? 'actv');
    this.rates = { ...DEFAULT_RATES, ...options.rates };
    this.weights = Array.from({ length: manifest.mpMaxid + 1 }, () => 0.6 + 0.8 * this.rng.nextFloat());
    this.handles = COUNTER_RATES.map(([name, rate, share]) => [counterHandle(manifest, name), rate, share] as const);
    this.statCarry = this.weights.map(() => 0);
    this.load = this.readLoad();
    this.procs = image.readProcesses();
    this.nextPid = Math.max(100, ...this.procs.map((p) => p.pid)) + 1;
    this.nextTid = Math.max(100_000, ...this.procs.flatMap((p) => p.threads.map((t) => t.tid))) + 1;
    this.jailTraffic = manifest.jails && manifest.jails.slots > 0 ? new JailTraffic(image, manifest, this.rng) : undefined;
  }

  /** Advances the kernel every intervalMs by the wall time that passed. */
  start(): void {
    if (this.timer !== undefined) return;
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      this.step((now - last) / 1000);
      last = now;
    }, this.options.intervalMs ?? 1000);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Advances the kernel by `seconds` of simulated time. */
  step(seconds: number): void {
    const cpus = this.presentCpus();
    this.advanceCounters(cpus, seconds);
    this.jailTraffic?.step(cpus, seconds);
    this.advanceCpuTime(cpus, seconds);
    this.advanceClocks(cpus, seconds);
    if (this.options.processChurn ?? true) this.churnProcesses(cpus, seconds);
    this.advanceLoad(seconds);
  }

  private presentCpus(): number[] {
    return this.weights.map((_, cpu) => cpu).filter((cpu) => this.image.cpuPresent(cpu));
  }

  /** Events on one CPU in `seconds`: its weighted share of the rate, with +-25 % noise. */
  private events(rate: number, cpu: number, cpus: number[], seconds: number): bigint {
    const total = cpus.reduce((s, c) => s + (this.weights[c] as number), 0);
    const share = (this.weights[cpu] as number) / total;
    return BigInt(Math.floor(rate * seconds * share * (0.75 + 0.5 * this.rng.nextFloat())));
  }

  private advanceCounters(cpus: number[], seconds: number): void {
    for (const [handle, rate, share] of this.handles) {
      for (const cpu of cpus) {
        const boost = rate === 'interrupts' && cpu === cpus[0] ? 3 : 1;
        const n = this.events(this.rates[rate] * share * boost, cpu, cpus, seconds);
        if (n > 0n) this.image.addCounter(handle, cpu, n);
      }
    }
  }

  /** stathz ticks per second per CPU, split by mode; fractions carry over. */
  private advanceCpuTime(cpus: number[], seconds: number): void {
    for (const cpu of cpus) {
      const exact = STATHZ * seconds + (this.statCarry[cpu] as number);
      const ticks = Math.floor(exact);
      this.statCarry[cpu] = exact - ticks;
      const busy = Math.min(1, (this.weights[cpu] as number) * (0.6 + 0.4 * this.rng.nextFloat()));
      const cp = this.image.readCpTime(cpu);
      let used = 0;
      for (let mode = 0; mode < CPUSTATES; mode++) {
        if (mode === CpuState.IDLE) continue;
        const n = Math.min(ticks - used, Math.floor(ticks * (BUSY_SHARES[mode] as number) * busy + this.rng.nextFloat()));
        cp[mode] = (cp[mode] as bigint) + BigInt(n);
        used += n;
      }
      cp[CpuState.IDLE] = (cp[CpuState.IDLE] as bigint) + BigInt(ticks - used);
      this.image.writeCpTime(cpu, cp);
    }
  }

  private advanceClocks(cpus: number[], seconds: number): void {
    const hardclocks = Math.round(HZ * seconds);
    const ticks = symbolAddress(this.manifest, 'ticks');
    this.image.writeI32(ticks, (this.image.readI32(ticks) + hardclocks) | 0);
    const pcputicks = symbolAddress(this.manifest, 'pcpu_entry_pcputicks') - BigInt(this.manifest.dpcpu.start);
    for (const cpu of cpus) {
      const at = BigInt(this.manifest.dpcpu.areas[String(cpu)] as string) + pcputicks;
      this.image.writeI32(at, (this.image.readI32(at) + hardclocks) | 0);
      const switchtime = this.image.pcpuAddress(cpu) + BigInt(Pcpu.switchtime);
      this.image.writeU64(switchtime, this.image.readU64(switchtime) + BigInt(Math.round(CPU_TICK_FREQUENCY * seconds)));
    }
  }

  /** Reaps last step's zombies, lets some spawned processes exit, forks new ones. */
  private churnProcesses(cpus: number[], seconds: number): void {
    const reaped = new Set(this.zombies);
    this.procs = this.procs.filter((p) => !reaped.has(p.pid));
    this.zombies = this.exitSome();
    const forks = this.forkSome(seconds);
    for (let i = 0; i < forks; i++) this.image.addCounter(counterHandle(this.manifest, 'vm_cnt.v_forks'), this.rng.pick(cpus), 1n);
    this.wakeSomeThreads();
    this.image.replaceProcesses(this.procs);
  }

  private exitSome(): number[] {
    const exiting = this.spawned.filter(() => this.rng.nextFloat() < 0.5);
    const gone = new Set(exiting);
    this.spawned = this.spawned.filter((pid) => !gone.has(pid));
    for (const p of this.procs) {
      if (!gone.has(p.pid)) continue;
      const first = p.threads[0];
      if (first !== undefined) p.threads = [{ ...first, stat: ProcState.SZOMB }];
    }
    return exiting;
  }

  private forkSome(seconds: number): number {
    const expected = this.rates.forks * seconds;
    const n = Math.floor(expected + this.rng.nextFloat());
    const alive = (p: KinfoProcess): boolean => p.threads[0]?.stat === ProcState.SSLEEP || p.threads[0]?.stat === ProcState.SRUN;
    const parents = this.procs.filter((p) => alive(p) && (p.comm === 'sh' || p.comm === 'cron' || p.comm === 'php-fpm'));
    for (let i = 0; i < n && parents.length > 0; i++) {
      const parent = this.rng.pick(parents);
      const pid = this.nextPid++;
      const threads = 1 + this.rng.nextInt(3);
      this.procs.push({
        ...parent,
        pid,
        ppid: parent.pid,
        comm: this.rng.pick(SHORT_LIVED),
        threads: Array.from({ length: threads }, (_, t) => ({
          tid: this.nextTid++,
          name: t === 0 ? 'main' : `worker${t}`,
          stat: this.rng.nextFloat() < 0.5 ? ProcState.SRUN : ProcState.SSLEEP,
          runtimeUs: BigInt(this.rng.nextInt(20_000)),
        })),
      });
      this.spawned.push(pid);
    }
    return n;
  }

  /**
   * The threads woken last step go back to sleep and up to three sleeping
   * threads wake, so the runnable count wanders but stays near its base.
   */
  private wakeSomeThreads(): void {
    const woken = new Set(this.woken);
    const sleeping: KinfoThread[] = [];
    for (const p of this.procs) {
      for (const t of p.threads) {
        if (woken.has(t.tid) && t.stat === ProcState.SRUN) t.stat = ProcState.SSLEEP;
        else if (t.stat === ProcState.SSLEEP) sleeping.push(t);
      }
    }
    this.woken = [];
    const wake = Math.min(sleeping.length, this.rng.nextInt(4));
    for (let i = 0; i < wake; i++) {
      const t = this.rng.pick(sleeping);
      t.stat = ProcState.SRUN;
      this.woken.push(t.tid);
    }
  }

  private runnableThreads(): number {
    return this.procs
      .filter((p) => p.comm !== 'idle')
      .reduce((n, p) => n + p.threads.filter((t) => t.stat === ProcState.SRUN).length, 0);
  }

  /** loadav(): each average decays toward the runnable count with its period. */
  private advanceLoad(seconds: number): void {
    const target = this.runnableThreads() * (0.8 + 0.4 * this.rng.nextFloat());
    const la = symbolAddress(this.manifest, 'averunnable');
    LOADAVG_PERIODS.forEach((period, i) => {
      const decay = Math.exp(-seconds / period);
      this.load[i] = (this.load[i] as number) * decay + target * (1 - decay);
      this.image.writeU32(la + BigInt(Loadavg.ldavg + 4 * i), Math.round((this.load[i] as number) * FSCALE));
    });
  }

  private readLoad(): number[] {
    const la = symbolAddress(this.manifest, 'averunnable');
    return LOADAVG_PERIODS.map((_, i) => this.image.readU32(la + BigInt(4 * i)) / FSCALE);
  }
}
