/**
 * Realistic process tables for the simulated kernel: what `ps -auxH` shows
 * on a small FreeBSD 13 server with two jails. Kernel processes (pid 0 with
 * its kernel threads, idle with one running thread per CPU, intr with its
 * waiting interrupt threads), host daemons, a web jail (jid 1: nginx and
 * php-fpm as uid 80, www), an application jail (jid 2: node and redis as
 * uid 1001), a login session, a few zombies, and one embryonic process that
 * the kernel's sysctl never reports. User processes have command lines
 * (p_args, as setproctitle(3) leaves them for nginx, php-fpm and sshd);
 * kernel processes and zombies have none. Deterministic for a given seed.
 */
import { type KinfoProcess, type KinfoThread, ProcState, type ProcStateValue } from './kinfo.js';
import { Xorshift32 } from './prng.js';

export interface ProcessTableOptions {
  /** Number of processes; the template is cut or extended with workers to fit. */
  count?: number;
  /** CPUs present: the idle process has one thread per CPU. */
  cpus: number;
  seed?: number | string;
  /** Boot time, seconds since the epoch. */
  bootTimeSec?: number;
}

interface Template {
  comm: string;
  uid: number;
  jid: number;
  threads: number | 'per-cpu';
  stat: ProcStateValue;
  /** Copies of this process (workers). */
  copies?: number;
  ppidOf?: string;
  wmesg?: string;
  threadNames?: (i: number) => string;
  nice?: number;
  /** A kernel process: no address space, parent 0. */
  kproc?: boolean;
  /** The command line (p_args); by default the command alone. Kernel processes and zombies have none. */
  argv?: readonly string[];
}

const { SIDL, SRUN, SSLEEP, SSTOP, SZOMB, SWAIT, SLOCK } = ProcState;

const KERNEL_THREADS = [
  'swapper', 'softirq_0', 'softirq_1', 'if_io_tqg_0', 'if_io_tqg_1', 'if_config_tqg_0',
  'thread taskq', 'aiod_kick taskq', 'kqueue_ctx taskq', 'in6m_free taskq', 'linuxkpi_short_wq',
  'firmware taskq', 'crypto_0', 'mca taskq', 'acpi_task_0', 'acpi_task_1', 'acpi_task_2',
  'CAM taskq', 'vtnet0 rxq 0', 'vtnet0 txq 0', 'em0 taskq', 'xpt_thrd', 'ZFS_taskq',
  'dbu_evict', 'arc_prune', 'l2arc_feed_thread', 'zfs_vn_rele_taskq', 'spa_async',
  'metaslab_group_t', 'z_wr_iss_0', 'z_wr_iss_1', 'z_wr_int_0', 'z_rd_int_0', 'z_fr_iss_0',
  'trim zroot', 'txg_quiesce', 'txg_sync', 'mmp_thread_enter', 'deadlkres', 'sctp_iterator',
];

const INTR_THREADS = [
  'swi1: netisr 0', 'swi4: clock (0)', 'swi4: clock (1)', 'swi3: vm', 'swi6: task queue',
  'swi6: Giant taskq', 'swi5: fast taskq', 'irq9: acpi0', 'irq16: em0', 'irq17: ahci0',
  'irq18: uhci0', 'irq23: ehci0', 'irq1: atkbd0', 'irq12: psm0', 'irq256: virtio_pci0',
  'irq257: virtio_pci1', 'irq258: nvme0:admin', 'irq259: nvme0:io0', 'irq260: nvme0:io1',
  'swi0: uart', 'swi1: pf send',
];

const TEMPLATES: readonly Template[] = [
  { kproc: true, comm: 'kernel', uid: 0, jid: 0, threads: KERNEL_THREADS.length, stat: SSLEEP, wmesg: '-', threadNames: (i) => KERNEL_THREADS[i] ?? `kthread${i}` },
  { comm: 'init', uid: 0, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'wait', argv: ['/sbin/init'] },
  { kproc: true, comm: 'crypto', uid: 0, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'crypto_w' },
  { kproc: true, comm: 'crypto returns', uid: 0, jid: 0, threads: 'per-cpu', stat: SSLEEP, wmesg: 'crypto_r', threadNames: (i) => `crypto returns ${i}` },
  { kproc: true, comm: 'cam', uid: 0, jid: 0, threads: 3, stat: SSLEEP, wmesg: 'ccb_scan', threadNames: (i) => ['doneq0', 'async', 'scanner'][i] ?? 'cam' },
  { kproc: true, comm: 'zfskern', uid: 0, jid: 0, threads: 6, stat: SSLEEP, wmesg: 'tx->tx_s', threadNames: (i) => ['arc_evict', 'arc_reap', 'dbuf_evict', 'l2arc_feed', 'trim zroot', 'txg_thread'][i] ?? 'zfskern' },
  { kproc: true, comm: 'geom', uid: 0, jid: 0, threads: 3, stat: SSLEEP, wmesg: '-', threadNames: (i) => ['g_event', 'g_up', 'g_down'][i] ?? 'geom' },
  { kproc: true, comm: 'pagedaemon', uid: 0, jid: 0, threads: 3, stat: SSLEEP, wmesg: 'psleep', threadNames: (i) => ['dom0', 'laundry: dom0', 'uma'][i] ?? 'pagedaemon' },
  { kproc: true, comm: 'vmdaemon', uid: 0, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'psleep' },
  { kproc: true, comm: 'audit', uid: 0, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'audit_wo' },
  { kproc: true, comm: 'idle', uid: 0, jid: 0, threads: 'per-cpu', stat: SRUN, threadNames: (i) => `idle: cpu${i}` },
  { kproc: true, comm: 'intr', uid: 0, jid: 0, threads: INTR_THREADS.length, stat: SWAIT, threadNames: (i) => INTR_THREADS[i] ?? `irq${i}` },
  { kproc: true, comm: 'ng_queue', uid: 0, jid: 0, threads: 'per-cpu', stat: SSLEEP, wmesg: 'sleep', threadNames: (i) => `ng_queue${i}` },
  { kproc: true, comm: 'rand_harvestq', uid: 0, jid: 0, threads: 1, stat: SSLEEP, wmesg: '-' },
  { kproc: true, comm: 'usb', uid: 0, jid: 0, threads: 4, stat: SSLEEP, wmesg: '-', threadNames: (i) => ['usbus0', 'usbus0', 'usbus1', 'usbus1'][i] ?? 'usb' },
  { kproc: true, comm: 'bufdaemon', uid: 0, jid: 0, threads: 3, stat: SSLEEP, wmesg: 'psleep', threadNames: (i) => ['bufdaemon', 'bufspacedaemon-0', 'bufspacedaemon-1'][i] ?? 'bufdaemon' },
  { kproc: true, comm: 'vnlru', uid: 0, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'vlruwt' },
  { kproc: true, comm: 'syncer', uid: 0, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'syncer' },
  { comm: 'devd', uid: 0, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'select', ppidOf: 'init', argv: ['/sbin/devd'] },
  { comm: 'syslogd', uid: 0, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'select', ppidOf: 'init', argv: ['/usr/sbin/syslogd', '-s'] },
  { comm: 'ntpd', uid: 0, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'select', ppidOf: 'init' },
  { comm: 'cron', uid: 0, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'nanslp', ppidOf: 'init' },
  { comm: 'sshd', uid: 0, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'select', ppidOf: 'init', argv: ['sshd: /usr/sbin/sshd [listener] 0 of 10-100 startups'] },
  { comm: 'sendmail', uid: 0, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'select', ppidOf: 'init' },
  { comm: 'getty', uid: 0, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'ttyin', copies: 3, ppidOf: 'init' },
  { comm: 'node_exporter', uid: 0, jid: 0, threads: 12, stat: SSLEEP, wmesg: 'uwait', ppidOf: 'init', argv: ['/usr/local/bin/node_exporter', '--web.listen-address=:9100'] },
  { comm: 'syslogd', uid: 0, jid: 1, threads: 1, stat: SSLEEP, wmesg: 'select' },
  { comm: 'cron', uid: 0, jid: 1, threads: 1, stat: SSLEEP, wmesg: 'nanslp' },
  { comm: 'nginx', uid: 0, jid: 1, threads: 1, stat: SSLEEP, wmesg: 'sigsusp', argv: ['nginx: master process /usr/local/sbin/nginx'] },
  { comm: 'nginx', uid: 80, jid: 1, threads: 1, stat: SSLEEP, wmesg: 'kqread', copies: 8, ppidOf: 'nginx', argv: ['nginx: worker process'] },
  { comm: 'php-fpm', uid: 0, jid: 1, threads: 1, stat: SSLEEP, wmesg: 'kqread', argv: ['php-fpm: master process (/usr/local/etc/php-fpm.conf)'] },
  { comm: 'php-fpm', uid: 80, jid: 1, threads: 1, stat: SSLEEP, wmesg: 'accept', copies: 41, ppidOf: 'php-fpm', argv: ['php-fpm: pool www'] },
  { comm: 'php-fpm', uid: 80, jid: 1, threads: 1, stat: SRUN, ppidOf: 'php-fpm', argv: ['php-fpm: pool admin'] },
  { comm: 'php-fpm', uid: 80, jid: 1, threads: 1, stat: SZOMB, copies: 2, ppidOf: 'php-fpm' },
  { comm: 'syslogd', uid: 0, jid: 2, threads: 1, stat: SSLEEP, wmesg: 'select' },
  { comm: 'redis-server', uid: 1001, jid: 2, threads: 8, stat: SSLEEP, wmesg: 'kqread', argv: ['/usr/local/bin/redis-server 127.0.0.1:6379'] },
  { comm: 'node', uid: 1001, jid: 2, threads: 15, stat: SSLEEP, wmesg: 'uwait', copies: 4, argv: ['node', '/srv/app/worker.js'] },
  { comm: 'node', uid: 1001, jid: 2, threads: 15, stat: SRUN, argv: ['node', '/srv/app/server.js', '--port', '3000'] },
  { comm: 'sh', uid: 1001, jid: 2, threads: 1, stat: SSLEEP, wmesg: 'wait', copies: 3 },
  { comm: 'sleep', uid: 1001, jid: 2, threads: 1, stat: SSLEEP, wmesg: 'nanslp', copies: 3, argv: ['sleep', '3600'] },
  { comm: 'sshd', uid: 1001, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'select', ppidOf: 'sshd' },
  { comm: 'tmux', uid: 1001, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'kqread' },
  { comm: 'sh', uid: 1001, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'ttyin', copies: 3, ppidOf: 'tmux' },
  { comm: 'vim', uid: 1001, jid: 0, threads: 1, stat: SSTOP, ppidOf: 'sh' },
  { comm: 'top', uid: 1001, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'select', ppidOf: 'sh' },
  { comm: 'make', uid: 1001, jid: 0, threads: 1, stat: SSLEEP, wmesg: 'wait', ppidOf: 'sh' },
  { comm: 'cc', uid: 1001, jid: 0, threads: 1, stat: SRUN, copies: 2, ppidOf: 'make', argv: ['cc', '-O2', '-c', 'kvm_proc.c'] },
  { comm: 'ld.lld', uid: 1001, jid: 0, threads: 4, stat: SLOCK, ppidOf: 'make' },
  { comm: 'sh', uid: 1001, jid: 0, threads: 1, stat: SZOMB, ppidOf: 'make' },
  { comm: 'cron', uid: 0, jid: 0, threads: 1, stat: SIDL, ppidOf: 'cron' },
];

/** Commands the generic workers that extend a table run as. */
export const WORKER_COMMANDS = ['worker', 'python3.11', 'perl', 'java', 'ruby', 'postgres'] as const;

interface BuildState {
  rng: Xorshift32;
  nextPid: number;
  nextTid: number;
  bootTimeSec: number;
  cpus: number;
  firstPidOf: Map<string, number>;
}

function threadCount(t: Template, cpus: number): number {
  return t.threads === 'per-cpu' ? cpus : t.threads;
}

/**
 * A running or lock-blocked process has that state on its first thread
 * only; its other threads sleep. Every idle thread runs, one per CPU.
 */
function threadState(t: Template, stat: ProcStateValue, i: number): ProcStateValue {
  if (i === 0 || t.comm === 'idle' || (stat !== SRUN && stat !== SLOCK)) return stat;
  return SSLEEP;
}

function makeThreads(t: Template, s: BuildState, stat: ProcStateValue): KinfoThread[] {
  const n = stat === SZOMB ? 1 : threadCount(t, s.cpus);
  return Array.from({ length: n }, (_, i) => ({
    tid: s.nextTid++,
    // TDNAMLEN is 16; the kernel keeps the rest in ki_moretdname, which is not modelled.
    name: (t.threadNames?.(i) ?? t.comm).slice(0, 16),
    stat: threadState(t, stat, i),
    ...(t.wmesg !== undefined && threadState(t, stat, i) === SSLEEP ? { wmesg: t.wmesg } : {}),
    priority: t.uid === 0 && t.jid === 0 ? 84 + s.rng.nextInt(40) : 120 + s.rng.nextInt(32),
    runtimeUs: BigInt(s.rng.nextInt(50_000_000)),
  }));
}

function makeProcess(t: Template, s: BuildState, stat: ProcStateValue): KinfoProcess {
  const pid = s.nextPid++;
  if (!s.firstPidOf.has(t.comm)) s.firstPidOf.set(t.comm, pid);
  const kernel = t.kproc === true;
  const ppid = t.ppidOf !== undefined ? (s.firstPidOf.get(t.ppidOf) ?? 1) : kernel || t.comm === 'init' ? 0 : 1;
  const gid = t.uid === 80 ? 80 : t.uid === 1001 ? 1001 : 0;
  return {
    pid,
    ppid,
    uid: t.uid,
    gid,
    jid: t.jid,
    comm: t.comm,
    nice: t.nice ?? 0,
    sizeBytes: kernel ? 0n : BigInt(8 + s.rng.nextInt(400)) * 1024n * 1024n,
    rssPages: kernel ? 0n : BigInt(256 + s.rng.nextInt(60_000)),
    startSec: BigInt(s.bootTimeSec + (kernel ? 0 : s.rng.nextInt(86_400))),
    threads: makeThreads(t, s, stat),
    ...(!kernel && stat !== SZOMB && { argv: [...(t.argv ?? [t.comm])] }),
  };
}

function workerTemplate(rng: Xorshift32): Template {
  const comm = rng.pick(WORKER_COMMANDS);
  return {
    comm,
    uid: rng.pick([0, 80, 1001]),
    jid: rng.pick([0, 1, 2]),
    threads: 1 + rng.nextInt(4),
    stat: rng.nextFloat() < 0.1 ? SRUN : SSLEEP,
    wmesg: 'select',
    argv: [comm, `/srv/jobs/${comm}-job`],
  };
}

/** A deterministic process table of about `count` processes. */
export function generateProcesses(options: ProcessTableOptions): KinfoProcess[] {
  const s: BuildState = {
    rng: new Xorshift32(options.seed ?? 'proc'),
    nextPid: 0,
    nextTid: 100_000,
    bootTimeSec: options.bootTimeSec ?? 1_700_000_000,
    cpus: options.cpus,
    firstPidOf: new Map(),
  };
  const count = options.count ?? 150;
  const procs: KinfoProcess[] = [];
  for (const t of TEMPLATES) {
    for (let c = 0; c < (t.copies ?? 1) && procs.length < count; c++) procs.push(makeProcess(t, s, t.stat));
    // Kernel processes take low pids; user processes start above them, as after boot.
    if (t.comm === 'syncer') s.nextPid = Math.max(s.nextPid, 30);
  }
  while (procs.length < count) {
    const t = workerTemplate(s.rng);
    procs.push(makeProcess(t, s, t.stat));
  }
  return procs;
}
