/**
 * Test helpers for the simulated kernel: temporary directories, an image
 * parser written from sim/README.md's offsets (deliberately not using
 * sim/image/format.ts, so the writer is checked against the contract
 * rather than against itself), and the C probe that drives libkvm.so.7.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(new URL('../..', import.meta.url).pathname);
export const SIM_LIBRARY = join(REPO, 'dist/libkvm-sim/libkvm.so.7');
export const PROBE = join(REPO, 'dist/libkvm-sim/kvmsim_probe');
export const RUN_ACTIVITY = join(REPO, 'dist/sim/image/run-activity.js');

export function makeTempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `kvmsim-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ParsedSymbol {
  name: string;
  value: bigint;
  size: bigint;
  nType: number;
  padding: number[];
}

export interface ParsedSegment {
  kva: bigint;
  size: bigint;
  fileOff: bigint;
  zero: bigint;
}

export interface ParsedImage {
  bytes: Buffer;
  magic: string;
  version: number;
  headerSize: number;
  flags: number;
  kinfoSize: number;
  procsOff: bigint;
  procCapacity: number;
  reserved: number;
  symtabOff: bigint;
  strtabOff: bigint;
  strtabSize: bigint;
  segtabOff: bigint;
  symbols: Map<string, ParsedSymbol>;
  segments: ParsedSegment[];
}

/** Parses an image with the header, symbol and segment offsets of the README. */
export function parseImage(path: string): ParsedImage {
  const b = readFileSync(path);
  const nsyms = b.readUInt32LE(20);
  const symtabOff = b.readBigUInt64LE(24);
  const strtabOff = b.readBigUInt64LE(32);
  const strtabSize = b.readBigUInt64LE(40);
  const nsegs = b.readUInt32LE(48);
  const segtabOff = b.readBigUInt64LE(56);
  const symbols = new Map<string, ParsedSymbol>();
  for (let i = 0; i < nsyms; i++) {
    const e = Number(symtabOff) + 24 * i;
    const nameOff = Number(strtabOff) + b.readUInt32LE(e + 16);
    const name = b.toString('latin1', nameOff, b.indexOf(0, nameOff));
    symbols.set(name, {
      name,
      value: b.readBigUInt64LE(e),
      size: b.readBigUInt64LE(e + 8),
      nType: b.readUInt8(e + 20),
      padding: [b[e + 21] ?? -1, b[e + 22] ?? -1, b[e + 23] ?? -1],
    });
  }
  const segments = Array.from({ length: nsegs }, (_, i) => {
    const e = Number(segtabOff) + 32 * i;
    return { kva: b.readBigUInt64LE(e), size: b.readBigUInt64LE(e + 8), fileOff: b.readBigUInt64LE(e + 16), zero: b.readBigUInt64LE(e + 24) };
  });
  return {
    bytes: b,
    magic: b.toString('latin1', 0, 8),
    version: b.readUInt32LE(8),
    headerSize: b.readUInt32LE(12),
    flags: b.readUInt32LE(16),
    kinfoSize: b.readUInt32LE(52),
    procsOff: b.readBigUInt64LE(64),
    procCapacity: b.readUInt32LE(72),
    reserved: b.readUInt32LE(76),
    symtabOff,
    strtabOff,
    strtabSize,
    segtabOff,
    symbols,
    segments,
  };
}

/** The file offset of a kernel address, from the segment table. */
export function offsetOf(img: ParsedImage, kva: bigint, len = 1): number {
  const s = img.segments.find((seg) => kva >= seg.kva && kva + BigInt(len) <= seg.kva + seg.size);
  if (s === undefined) throw new RangeError(`0x${kva.toString(16)} is in no segment`);
  return Number(s.fileOff + (kva - s.kva));
}

export function memU64(img: ParsedImage, kva: bigint): bigint {
  return img.bytes.readBigUInt64LE(offsetOf(img, kva, 8));
}

export function memU32(img: ParsedImage, kva: bigint): number {
  return img.bytes.readUInt32LE(offsetOf(img, kva, 4));
}

export function memI32(img: ParsedImage, kva: bigint): number {
  return img.bytes.readInt32LE(offsetOf(img, kva, 4));
}

export function sym(img: ParsedImage, name: string): bigint {
  const s = img.symbols.get(name);
  if (s === undefined) throw new RangeError(`no symbol ${name}`);
  return s.value;
}

/** Builds the library (make is incremental) and the probe against it. */
export function buildProbe(): void {
  execFileSync('make', ['-s', '-C', join(REPO, 'sim/libkvm')], { stdio: 'pipe' });
  execFileSync(
    process.env.CC ?? 'cc',
    ['-std=c11', '-D_DEFAULT_SOURCE', '-Wall', '-Wextra', '-Werror', '-O1', `-I${join(REPO, 'sim/libkvm')}`,
      '-o', PROBE, join(REPO, 'test/sim/c/kvmsim_probe.c'), SIM_LIBRARY, `-Wl,-rpath,${join(REPO, 'dist/libkvm-sim')}`],
    { stdio: 'pipe' },
  );
}

export interface ProbeResult {
  lines: string[];
  stderr: string;
}

/** Runs probe commands in one process; one output line per command. */
export function probe(commands: string[], env: NodeJS.ProcessEnv = {}): ProbeResult {
  const r = spawnSync(PROBE, [], {
    input: `${commands.join('\n')}\n`,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`kvmsim_probe exited ${r.status}: ${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  if (lines.length !== commands.length) throw new Error(`kvmsim_probe answered ${lines.length} of ${commands.length} commands:\n${r.stdout}`);
  return { lines, stderr: r.stderr };
}

export function requireBuiltJs(): void {
  if (!existsSync(RUN_ACTIVITY)) {
    throw new Error(`${RUN_ACTIVITY} is missing: run \`npm run build\` (npm test does) before this test`);
  }
}

export function hex(n: bigint): string {
  return n.toString(16);
}

/** Kernel address arithmetic wraps at 64 bits: __pcpu + a counter handle (2^63 or more) lands below __pcpu. */
export function kva(n: bigint): bigint {
  return BigInt.asUintN(64, n);
}
