/**
 * A writer in another process changes an image while readers run: the
 * compiled run-activity driver (dist/) advances a kernel every few
 * milliseconds while this test reads it with a seqlock reader written here
 * from the README, and while the C library's kvm_getprocs takes snapshots.
 * No snapshot may mix two process tables, and counters only go up.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildFreeBsdKernel } from '../../sim/image/freebsd-kernel.js';
import { type KernelManifest, findCounter, symbolAddress } from '../../sim/image/manifest.js';
import { RUN_ACTIVITY, buildProbe, kva, makeTempDir, offsetOf, parseImage, probe, requireBuiltJs } from './helpers.js';

let tmp: ReturnType<typeof makeTempDir>;
let path: string;
let manifest: KernelManifest;

beforeAll(() => {
  requireBuiltJs();
  buildProbe();
  tmp = makeTempDir('concurrent');
  path = `${tmp.dir}/busy.img`;
  manifest = buildFreeBsdKernel(path, { cpus: [0, 1, 2, 3, 4, 5, 6, 7] });
}, 120_000);
afterAll(() => tmp.cleanup());

async function startWriter(intervalMs: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [RUN_ACTIVITY, path, '--seed', 'conc', '--interval-ms', String(intervalMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`run-activity exited ${code} before it was ready`)));
    child.stdout?.once('data', () => resolve());
  });
  return child;
}

async function stopWriter(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

function readAt(fd: number, offset: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  readSync(fd, b, 0, len, offset);
  return b;
}

/** The README's seqlock protocol, from the reader's side. */
function snapshot(imgFd: number, ctlFd: number, countAt: number, procsOff: number): { seq: bigint; records: Buffer } {
  for (;;) {
    const seq = readAt(ctlFd, 8, 8).readBigUInt64LE();
    if (seq % 2n === 1n) continue;
    const n = readAt(imgFd, countAt, 4).readUInt32LE();
    const records = readAt(imgFd, procsOff, n * 1088);
    if (readAt(ctlFd, 8, 8).readBigUInt64LE() === seq) return { seq, records };
  }
}

/** Every record 1088 bytes long by ki_structsize; each pid's records contiguous and ki_numthreads of them. */
function consistent(records: Buffer): boolean {
  const n = records.length / 1088;
  const seen = new Set<number>();
  for (let i = 0; i < n; ) {
    const pid = records.readInt32LE(i * 1088 + 72);
    const threads = records.readInt32LE(i * 1088 + 596);
    if (seen.has(pid)) return false;
    seen.add(pid);
    for (let j = i; j < i + threads; j++) {
      if (j >= n || records.readInt32LE(j * 1088 + 72) !== pid || records.readInt32LE(j * 1088) !== 1088) return false;
    }
    i += threads;
  }
  return true;
}

describe('a writer in a child process', () => {
  it('changes counters and the process table while this process reads them consistently', async () => {
    const img = parseImage(path);
    const countAt = offsetOf(img, symbolAddress(manifest, 'nprocs_records'), 4);
    const swtch = findCounter(manifest, 'vm_cnt.v_swtch');
    const swtchAt = offsetOf(img, kva(BigInt(manifest.pcpuBase) + BigInt(swtch.handle)), 8);
    const child = await startWriter(5);
    const imgFd = openSync(path, 'r');
    const ctlFd = openSync(`${path}.ctl`, 'r');
    const seqs = new Set<bigint>();
    const contents = new Set<string>();
    let bad = 0;
    let last = 0n;
    let backwards = 0;
    try {
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        const { seq, records } = snapshot(imgFd, ctlFd, countAt, Number(img.procsOff));
        seqs.add(seq);
        contents.add(createHash('sha1').update(records).digest('hex'));
        if (!consistent(records)) bad++;
        const v = readAt(imgFd, swtchAt, 8).readBigUInt64LE();
        if (v < last) backwards++;
        last = v;
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      closeSync(imgFd);
      closeSync(ctlFd);
      expect(await stopWriter(child)).toBe(0);
    }
    expect(bad).toBe(0);
    expect(backwards).toBe(0);
    expect(seqs.size).toBeGreaterThan(10);
    expect(contents.size).toBeGreaterThan(5);
    expect(last).toBeGreaterThan(1001n);
  });

  it("never gives libkvm's kvm_getprocs a torn snapshot", async () => {
    const child = await startWriter(2);
    let line: string;
    try {
      line = probe([`openfiles - ${path} 0`, 'procsloop 0 2']).lines[1] ?? '';
    } finally {
      expect(await stopWriter(child)).toBe(0);
    }
    const m = /^procsloop snaps=(\d+) bad=(\d+) fails=(\d+) changes=(\d+)$/.exec(line);
    expect(m, line).not.toBeNull();
    const [, snaps, bad, fails, changes] = (m as RegExpExecArray).map(Number);
    expect(snaps).toBeGreaterThan(100);
    expect(bad).toBe(0);
    expect(fails).toBe(0);
    expect(changes).toBeGreaterThan(5); // the table really changed under the reader
  });
});

describe('run-activity', () => {
  it('runs a fixed number of steps and exits', () => {
    const ticks = offsetOf(parseImage(path), symbolAddress(manifest, 'ticks'), 4);
    const fd = openSync(path, 'r');
    const before = readAt(fd, ticks, 4).readInt32LE();
    const r = spawnSync(process.execPath, [RUN_ACTIVITY, path, '--steps', '3', '--interval-ms', '250'], { encoding: 'utf8' });
    const after = readAt(fd, ticks, 4).readInt32LE();
    closeSync(fd);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('ready\n');
    expect(after - before).toBe(750);
  });

  it.each([
    [['--steps', '1'], /usage: run-activity IMAGE/],
    [['IMG', '--interval-ms', 'soon'], /--interval-ms soon: expected a positive number/],
    [['/nonexistent.img'], /ENOENT.*\/nonexistent\.img/],
  ])('refuses %j with a message naming the problem', (args, message) => {
    const r = spawnSync(process.execPath, [RUN_ACTIVITY, ...args.map((a) => (a === 'IMG' ? path : a))], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
