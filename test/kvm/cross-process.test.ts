/**
 * The image is changed in place by a writer in another process while the
 * binding reads it here, as a running kernel changes under /dev/kmem: the
 * reader sees new counter values, a CPU leaving, and a new process table,
 * without reopening the handle.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KERN_PROC, KvmSession, getProcs, readTopology, readZpcpu } from '../../src/kvm/index.js';
import { counterHandle } from '../../sim/image/manifest.js';
import { ROOT, SIM_LIBRARY, makeKernel } from '../support/sim.js';

const kernel = makeKernel({ cpus: [0, 1, 2, 3] });
let writer: ChildProcess;
let session: KvmSession;

/** The writer: opens the image by path and applies each command it is sent. */
const WRITER = `
import { KernelImage } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist/sim/image/image.js')).href)};
const image = KernelImage.open(process.argv[2]);
process.on('message', (cmd) => {
  if (cmd.op === 'counter') image.setCounter(BigInt(cmd.handle), cmd.cpu, BigInt(cmd.value));
  if (cmd.op === 'cpu') image.setCpuPresent(cmd.cpu, cmd.present);
  if (cmd.op === 'exit-half') {
    const procs = image.readProcesses();
    image.replaceProcesses(procs.slice(0, Math.floor(procs.length / 2)));
  }
  process.send({ done: cmd.op });
});
process.send({ ready: true });
`;

function send(cmd: Record<string, unknown>): Promise<void> {
  return new Promise((resolve) => {
    writer.once('message', () => resolve());
    writer.send(cmd);
  });
}

beforeAll(async () => {
  const script = join(kernel.dir, 'writer.mjs');
  writeFileSync(script, WRITER);
  writer = fork(script, [kernel.image], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((resolve) => writer.once('message', resolve));
  session = KvmSession.open({ library: SIM_LIBRARY, corefile: kernel.image });
});

afterAll(() => {
  writer.kill();
  session.close();
  kernel.remove();
});

describe('a writer process changes the image while this process reads it', () => {
  it('sees a counter copy change on one CPU', async () => {
    const handle = counterHandle(kernel.manifest, 'vm_cnt.v_swtch');
    const copy = Buffer.alloc(8);
    readZpcpu(session, handle, 2, copy);
    const before = copy.readBigUInt64LE(0);
    await send({ op: 'counter', handle: handle.toString(), cpu: 2, value: (before + 12345n).toString() });
    readZpcpu(session, handle, 2, copy);
    expect(copy.readBigUInt64LE(0)).toBe(before + 12345n);
  });

  it('sees a CPU leave', async () => {
    expect(readTopology(session).present).toEqual([0, 1, 2, 3]);
    await send({ op: 'cpu', cpu: 1, present: false });
    expect(readTopology(session).present).toEqual([0, 2, 3]);
  });

  it('sees half the processes exit', async () => {
    const before = getProcs(session, KERN_PROC.PROC).count;
    await send({ op: 'exit-half' });
    const after = getProcs(session, KERN_PROC.PROC).count;
    expect(after).toBeLessThan(before);
    expect(after).toBeGreaterThan(0);
  });
});
