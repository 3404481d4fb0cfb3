/**
 * The activity driver and its PRNG: xorshift32 gives the sequence a test
 * can recompute; the same seed and steps write byte-identical images; and
 * a step moves the kernel the way a running FreeBSD moves: counters only
 * up and unevenly across CPUs, stathz ticks per CPU per second split by
 * mode, hz ticks, load averages toward the runnable count, and processes
 * forking, becoming zombies and being reaped.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { KernelActivity } from '../../sim/image/activity.js';
import { buildFreeBsdKernel } from '../../sim/image/freebsd-kernel.js';
import { KernelImage } from '../../sim/image/image.js';
import { ProcState } from '../../sim/image/kinfo.js';
import { type KernelManifest, counterHandle, symbolAddress } from '../../sim/image/manifest.js';
import { Xorshift32, seedFromTag } from '../../sim/image/prng.js';
import { makeTempDir } from './helpers.js';

/** Marsaglia's xorshift32 (13, 17, 5), written out here independently. */
function referenceXorshift(seed: number, n: number): number[] {
  let x = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out.push(x);
  }
  return out;
}

describe('xorshift32', () => {
  it('produces the reference sequence', () => {
    const rng = new Xorshift32(2463534242);
    const ours = Array.from({ length: 1000 }, () => rng.nextU32());
    expect(ours).toEqual(referenceXorshift(2463534242, 1000));
    // Marsaglia's paper: the first output for seed 2463534242 is 723471715.
    expect(ours[0]).toBe(723471715);
  });

  it('seeds from a 4-character tag as its little-endian bytes', () => {
    expect(seedFromTag('demo')).toBe(0x6f6d6564);
    expect(new Xorshift32('demo').nextU32()).toBe(referenceXorshift(0x6f6d6564, 1)[0]);
    expect(() => seedFromTag('toolong')).toThrow(/exactly 4 characters/);
  });

  it('replaces the fixed point 0 with a non-zero state', () => {
    const rng = new Xorshift32(0);
    expect(new Set(Array.from({ length: 10 }, () => rng.nextU32())).size).toBe(10);
  });

  it('keeps floats in [0, 1) and ints in [0, n)', () => {
    const rng = new Xorshift32('flts');
    for (let i = 0; i < 10_000; i++) {
      const f = rng.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
      const k = rng.nextInt(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
  });
});

let tmp: ReturnType<typeof makeTempDir>;
beforeAll(() => {
  tmp = makeTempDir('activity');
});
afterAll(() => tmp.cleanup());

function kernel(name: string, cpus = [0, 1, 2, 3]): { path: string; manifest: KernelManifest; image: KernelImage } {
  const path = `${tmp.dir}/${name}.img`;
  const manifest = buildFreeBsdKernel(path, { cpus });
  return { path, manifest, image: KernelImage.open(path) };
}

function sum(image: KernelImage, handle: bigint, cpus: number[]): bigint {
  return cpus.reduce((s, c) => s + image.readCounter(handle, c), 0n);
}

describe('KernelActivity determinism', () => {
  it('writes byte-identical images for the same seed and steps', () => {
    const a = kernel('det-a');
    const b = kernel('det-b');
    const steps = [1, 0.5, 2, 1, 1];
    for (const k of [a, b]) {
      const act = new KernelActivity(k.image, k.manifest, { seed: 'same' });
      for (const s of steps) act.step(s);
      k.image.close();
    }
    expect(readFileSync(a.path).equals(readFileSync(b.path))).toBe(true);
    expect(readFileSync(`${a.path}.ctl`).equals(readFileSync(`${b.path}.ctl`))).toBe(true);
  });

  it('writes different values for another seed', () => {
    const a = kernel('seed-a');
    const b = kernel('seed-b');
    new KernelActivity(a.image, a.manifest, { seed: 'aaaa' }).step(1);
    new KernelActivity(b.image, b.manifest, { seed: 'bbbb' }).step(1);
    const h = counterHandle(a.manifest, 'vm_cnt.v_swtch');
    expect(a.image.readCounter(h, 0)).not.toBe(b.image.readCounter(h, 0));
    a.image.close();
    b.image.close();
  });
});

describe('KernelActivity rates', () => {
  const cpus = [0, 1, 2, 3];
  let k: ReturnType<typeof kernel>;
  let act: KernelActivity;
  beforeAll(() => {
    k = kernel('rates');
    act = new KernelActivity(k.image, k.manifest, { seed: 'rate' });
  });
  afterAll(() => k.image.close());

  it('moves vm_cnt, udpstat and ipstat up at about their rates, unevenly per CPU', () => {
    const swtch = counterHandle(k.manifest, 'vm_cnt.v_swtch');
    const udp = counterHandle(k.manifest, 'udpstat.udps_ipackets');
    const before = cpus.map((c) => k.image.readCounter(swtch, c));
    const udpBefore = sum(k.image, udp, cpus);
    for (let i = 0; i < 10; i++) act.step(1);
    const deltas = cpus.map((c, i) => Number(k.image.readCounter(swtch, c) - (before[i] as bigint)));
    const total = deltas.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(12_000 * 10 * 0.75);
    expect(total).toBeLessThan(12_000 * 10 * 1.25);
    expect(Math.max(...deltas) / Math.min(...deltas)).toBeGreaterThan(1.05);
    expect(Number(sum(k.image, udp, cpus) - udpBefore)).toBeGreaterThan(300 * 10 * 0.75);
  });

  it('adds exactly stathz ticks per CPU per second to pc_cp_time, mostly idle', () => {
    const before = cpus.map((c) => k.image.readCpTime(c));
    act.step(10);
    for (const c of cpus) {
      const after = k.image.readCpTime(c);
      const d = after.map((v, m) => v - (before[c]?.[m] as bigint));
      expect(d.reduce((a, b) => a + b, 0n), `cpu ${c}`).toBe(1270n);
      expect(d[4]).toBeGreaterThan(d[0] as bigint);
      expect(d.every((x) => x >= 0n)).toBe(true);
    }
  });

  it('advances ticks and every CPU\'s DPCPU pcputicks by hz per second', () => {
    const ticks = symbolAddress(k.manifest, 'ticks');
    const off = symbolAddress(k.manifest, 'pcpu_entry_pcputicks') - BigInt(k.manifest.dpcpu.start);
    const at = (c: number): bigint => BigInt(k.manifest.dpcpu.areas[String(c)] as string) + off;
    const t0 = k.image.readI32(ticks);
    const p0 = cpus.map((c) => k.image.readI32(at(c)));
    act.step(2.5);
    expect(k.image.readI32(ticks) - t0).toBe(2500);
    cpus.forEach((c, i) => expect(k.image.readI32(at(c)) - (p0[i] as number)).toBe(2500));
  });

  it('forks, turns exits into zombies and reaps them', () => {
    const forks = counterHandle(k.manifest, 'vm_cnt.v_forks');
    const f0 = sum(k.image, forks, cpus);
    const pids0 = new Set(k.image.readProcesses().map((p) => p.pid));
    let sawZombieReaped = false;
    let zombies = new Set<number>();
    for (let i = 0; i < 20; i++) {
      act.step(2);
      const procs = k.image.readProcesses();
      const pids = new Set(procs.map((p) => p.pid));
      if ([...zombies].some((z) => !pids.has(z))) sawZombieReaped = true;
      zombies = new Set(procs.filter((p) => p.threads[0]?.stat === ProcState.SZOMB && !pids0.has(p.pid)).map((p) => p.pid));
    }
    const born = k.image.readProcesses().filter((p) => !pids0.has(p.pid)).length;
    expect(Number(sum(k.image, forks, cpus) - f0)).toBeGreaterThan(20);
    expect(born).toBeGreaterThan(0);
    expect(sawZombieReaped).toBe(true);
  });

  it('keeps load averages near the runnable count, in FSCALE fixed point', () => {
    for (let i = 0; i < 30; i++) act.step(60);
    const la = symbolAddress(k.manifest, 'averunnable');
    const load1 = k.image.readU32(la) / 2048;
    const runnable = k.image
      .readProcesses()
      .filter((p) => p.comm !== 'idle')
      .reduce((n, p) => n + p.threads.filter((t) => t.stat === ProcState.SRUN).length, 0);
    expect(load1).toBeGreaterThan(0.5 * runnable - 1);
    expect(load1).toBeLessThan(1.5 * runnable + 3);
    expect(k.image.readU64(la + 16n)).toBe(2048n);
  });

  it('leaves absent CPUs alone', () => {
    k.image.setCpuPresent(3, false);
    const swtch = counterHandle(k.manifest, 'vm_cnt.v_swtch');
    const before = k.image.readCounter(swtch, 3);
    const cp = k.image.readCpTime(3);
    act.step(1);
    expect(k.image.readCounter(swtch, 3)).toBe(before);
    expect(k.image.readCpTime(3)).toEqual(cp);
    k.image.setCpuPresent(3, true);
  });
});

describe('KernelActivity timer', () => {
  it('steps on its interval until stopped', async () => {
    const k = kernel('timer', [0, 1]);
    const act = new KernelActivity(k.image, k.manifest, { seed: 'time', intervalMs: 20 });
    const ticks = symbolAddress(k.manifest, 'ticks');
    const t0 = k.image.readI32(ticks);
    act.start();
    await new Promise((r) => setTimeout(r, 150));
    act.stop();
    const moved = k.image.readI32(ticks) - t0;
    expect(moved).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 60));
    expect(k.image.readI32(ticks) - t0).toBe(moved);
    k.image.close();
  });
});
