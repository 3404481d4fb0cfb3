/**
 * Opening and closing a handle through the real binding: kvm_openfiles'
 * error buffer, the modes libkvm distinguishes by core file name, and the
 * session's own guarantees (idempotent close, no use after close).
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KvmClosedError, KvmLibraryError, KvmOpenError, KvmReadError } from '../../src/errors.js';
import { KvmSession, counterU64Fetch, getPcpu, readZpcpu } from '../../src/kvm/index.js';
import { counterHandle } from '../../sim/image/manifest.js';
import { SIM_LIBRARY, makeKernel } from '../support/sim.js';
import { simControl } from '../exporter/harness.js';

const kernel = makeKernel({ cpus: [0, 1, 2, 3] });
afterAll(() => kernel.remove());

describe('KvmSession.open', () => {
  it('positive: opens an image read-only and reports it native', () => {
    const session = KvmSession.open({ library: SIM_LIBRARY, corefile: kernel.image });
    expect(session.isOpen).toBe(true);
    expect(session.isNative()).toBe(true);
    session.close();
  });

  it('negative: a missing core file fails with the errbuf text kvm_openfiles wrote', () => {
    const missing = join(kernel.dir, 'no-such.img');
    const open = () => KvmSession.open({ library: SIM_LIBRARY, corefile: missing });
    expect(open).toThrow(KvmOpenError);
    expect(open).toThrow(`${missing}: No such file or directory`);
  });

  it('negative: an open failure armed in the image (EACCES) carries "Permission denied"', () => {
    const image = kernel.open();
    image.setOpenErrno(13);
    try {
      let caught: unknown;
      try {
        KvmSession.open({ library: SIM_LIBRARY, corefile: kernel.image });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(KvmOpenError);
      expect((caught as KvmOpenError).kvmErr).toBe(`${kernel.image}: Permission denied`);
      expect((caught as KvmOpenError).corefile).toBe(kernel.image);
    } finally {
      image.setOpenErrno(0);
      image.close();
    }
  });

  it('negative: a file that is not an image is refused with a message naming it', () => {
    const garbage = join(kernel.dir, 'garbage.img');
    writeFileSync(garbage, Buffer.alloc(8192, 0x41));
    expect(() => KvmSession.open({ library: SIM_LIBRARY, corefile: garbage })).toThrow(garbage);
  });

  it('negative: an unreadable library path is a KvmLibraryError naming the path', () => {
    const lib = join(kernel.dir, 'libkvm.so.7');
    writeFileSync(lib, 'not an ELF file');
    chmodSync(lib, 0o644);
    expect(() => KvmSession.open({ library: lib, corefile: kernel.image })).toThrow(KvmLibraryError);
    expect(() => KvmSession.open({ library: lib, corefile: kernel.image })).toThrow(lib);
  });

  it('positive: close is idempotent and any later use is a KvmClosedError', () => {
    const session = KvmSession.open({ library: SIM_LIBRARY, corefile: kernel.image });
    session.close();
    session.close();
    expect(session.isOpen).toBe(false);
    expect(() => session.lookup('hz')).toThrow(KvmClosedError);
    expect(() => session.readU32(0n)).toThrow(KvmClosedError);
  });
});

describe('crash dumps (an image without the LIVE flag)', () => {
  const dump = makeKernel({ cpus: [0, 1], live: false });
  afterAll(() => dump.remove());

  it('negative: without an execfile libkvm looks for the boot kernel and says it is missing', () => {
    expect(() => KvmSession.open({ library: SIM_LIBRARY, execfile: null, corefile: dump.image })).toThrow(/No such file or directory/);
  });

  it('negative: an execfile of another kernel is refused at open with both version strings, and the handle is closed', () => {
    const other = 'FreeBSD 14.2-RELEASE releng/14.2-n269506-c8918d6c7412 GENERIC amd64\n';
    const execfile = dump.kernelFile({ version: other }, 'kernel.other');
    simControl().resetCallCounts();
    let thrown: unknown;
    try {
      KvmSession.open({ library: SIM_LIBRARY, execfile, corefile: dump.image });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(KvmOpenError);
    expect((thrown as Error).message).toBe(
      `kvm_openfiles(${execfile}, ${dump.image}) failed: ${execfile} is not the kernel that wrote this dump: ` +
        `the dump's version is ${JSON.stringify(dump.manifest.version)} and the execfile's is ${JSON.stringify(other)}; ` +
        "a dump's symbols come from the execfile, so every value would be wrong (give kvm.execfile the matching kernel)",
    );
    expect(simControl().callCounts().kvm_close).toBe(1);
  });

  it('negative: an execfile that is not an ELF kernel cannot be checked and is refused', () => {
    const execfile = join(dump.dir, 'not-elf');
    writeFileSync(execfile, 'kernel');
    expect(() => KvmSession.open({ library: SIM_LIBRARY, execfile, corefile: dump.image })).toThrow(
      new RegExp(`^kvm_openfiles\\(.*\\) failed: cannot check that ${execfile} is the kernel that wrote this dump: .*not an ELF file`),
    );
  });

  it('positive: a live kernel ignores the execfile, as libkvm does, so nothing is compared', () => {
    const live = makeKernel({ cpus: [0] });
    try {
      const execfile = live.kernelFile({ version: 'FreeBSD 15.0-CURRENT\n' });
      const session = KvmSession.open({ library: SIM_LIBRARY, execfile, corefile: live.image });
      expect(session.isLive()).toBe(true);
      session.close();
    } finally {
      live.remove();
    }
  });

  it('positive: with the kernel file it opens and symbols carry the dump n_type, not N_TEXT', () => {
    const execfile = dump.kernelFile();
    const session = KvmSession.open({ library: SIM_LIBRARY, execfile, corefile: dump.image });
    try {
      expect(session.readI32(session.lookup('hz').address)).toBe(1000);
      expect(session.lookup('hz').type).not.toBe(4);
    } finally {
      session.close();
    }
  });
});

describe('/dev/null: the live handle without memory access (as ps(1) uses it)', () => {
  it('opens without privileges, resolves symbols, and every read is an error, never a value', () => {
    process.env.KVM_SIM_MEM = kernel.image;
    const session = KvmSession.open({ library: SIM_LIBRARY, corefile: '/dev/null' });
    try {
      const hz = session.lookup('hz');
      expect(hz.type).toBe(4); // N_TEXT: live hits, as kldsym(2) gives them
      let caught: unknown;
      try {
        session.readI32(hz.address);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(KvmReadError);
      expect((caught as KvmReadError).got).toBe(0);
      expect((caught as KvmReadError).kvmErr).toMatch(/short read/);
      const handle = counterHandle(kernel.manifest, 'vm_cnt.v_swtch');
      expect(() => readZpcpu(session, handle, 0, Buffer.alloc(8))).toThrow(KvmReadError);
      // kvm_counter_u64_fetch returns 0 on /dev/null; the session refuses to believe it.
      expect(() => counterU64Fetch(session, handle, 4)).toThrow(KvmReadError);
      expect(() => getPcpu(session, 0)).toThrow(/kvm_getpcpu/);
    } finally {
      session.close();
      delete process.env.KVM_SIM_MEM;
    }
  });

  it('negative: /dev/mem with no simulated memory behind it fails as on a jail without /dev/mem', () => {
    delete process.env.KVM_SIM_MEM;
    expect(() => KvmSession.open({ library: SIM_LIBRARY, corefile: '/dev/mem' })).toThrow('/dev/mem: No such file or directory');
  });
});
