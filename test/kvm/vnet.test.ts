/**
 * The walks of vnet_head and allprison (src/kvm/vnet.ts) against simulated
 * kernels whose jails the image writer creates, destroys and breaks:
 * labels, the host's stack, shared stacks, loops, bad magic, unmapped
 * pointers, the vnets.max cap, a kernel without VIMAGE, a crash dump, and
 * libkvm's own translation of vnet_entry_ symbols.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KvmVnetWalkError } from '../../src/errors.js';
import { KvmSession, stackStillValid, walkNetworkStacks, type VnetLayouts } from '../../src/kvm/index.js';
import type { KernelImage } from '../../sim/image/image.js';
import { JailTable } from '../../sim/image/jails.js';
import { SIM_LIBRARY, makeKernel, type TestKernel } from '../support/sim.js';

/** struct vnet and the 14.x struct prison on amd64, as the 14 preset has them. */
const LAYOUTS: VnetLayouts = {
  vnet: { next: 0, magic: 16, dataBase: 40 },
  prison: { next: 0, id: 16, name: 288, vnet: 176 },
};

const JAILS = [
  { jid: 1, name: 'web', vnet: true },
  { jid: 2, name: 'app', vnet: true },
  { jid: 3, name: 'build', vnet: false },
];

function open(kernel: TestKernel): KvmSession {
  return KvmSession.open({ library: SIM_LIBRARY, corefile: kernel.image, execfile: kernel.kernelFile() });
}

function labels(session: KvmSession, max = 1000): string[] {
  const walk = walkNetworkStacks(session, LAYOUTS, max);
  if (!walk.vimage) throw new Error('expected a VIMAGE kernel');
  return walk.stacks.map((s) => `${s.jid}:${s.jail}`);
}

describe('a kernel with jails', () => {
  let kernel: TestKernel;
  let image: KernelImage;
  let table: JailTable;
  let session: KvmSession;

  beforeAll(() => {
    kernel = makeKernel({ cpus: [0, 1], jails: JAILS, jailSlots: 8 });
    image = kernel.open();
    table = new JailTable(image, kernel.manifest);
    session = open(kernel);
  });
  afterAll(() => {
    session.close();
    image.close();
    kernel.remove();
  });

  it('labels the host jid 0 "host" and each jail with its own stack by jid and name; a shared stack gets none', () => {
    expect(labels(session)).toEqual(['0:host', '1:web', '2:app']);
  });

  it("gives each stack the data base the image holds, so vnet_entry_ offsets land in that jail's copy", () => {
    const walk = walkNetworkStacks(session, LAYOUTS, 1000);
    if (!walk.vimage) throw new Error('expected VIMAGE');
    const expected = new Map(table.vnets().map((v) => [v.jail?.jid ?? 0, v.dataBase]));
    for (const stack of walk.stacks) expect(stack.dataBase).toBe(expected.get(Number(stack.jid)));
    expect(walk.stacks[0]!.dataBase).toBe(BigInt(kernel.manifest.vnet.dataBase));
  });

  it('libkvm still translates vnet_entry_ names into the caller\'s (the host\'s) vnet only', () => {
    const raw = BigInt(kernel.manifest.symbols['vnet_entry_tcpstat']!.address);
    expect(session.lookupUncached('tcpstat')?.address).toBe(BigInt.asUintN(64, BigInt(kernel.manifest.vnet.dataBase) + raw));
    expect(session.lookupUncached('vnet_entry_tcpstat')?.address).toBe(raw);
  });

  describe('jails created and destroyed between scrapes', () => {
    afterEach(() => {
      for (const j of table.jails()) if (!JAILS.some((s) => s.jid === j.jid)) table.destroy(j.jid);
    });

    it('a jail created is there at the next walk; destroyed, it is gone, and its stale stack no longer validates', () => {
      const before = walkNetworkStacks(session, LAYOUTS, 1000);
      table.create('db', { vnet: true, jid: 7 });
      expect(labels(session)).toEqual(['0:host', '1:web', '2:app', '7:db']);
      const walk = walkNetworkStacks(session, LAYOUTS, 1000);
      if (!walk.vimage || !before.vimage) throw new Error('expected VIMAGE');
      const db = walk.stacks.find((s) => s.jail === 'db')!;
      expect(stackStillValid(session, LAYOUTS, db)).toBe(true);
      table.destroy(7);
      expect(stackStillValid(session, LAYOUTS, db)).toBe(false);
      expect(labels(session)).toEqual(['0:host', '1:web', '2:app']);
    });

    it('a destroyed jail whose slot is reused by another does not lend it its label', () => {
      table.create('old', { vnet: true, jid: 8 });
      const walk = walkNetworkStacks(session, LAYOUTS, 1000);
      if (!walk.vimage) throw new Error('expected VIMAGE');
      const old = walk.stacks.find((s) => s.jail === 'old')!;
      table.destroy(8);
      table.create('new', { vnet: true, jid: 9 });
      expect(stackStillValid(session, LAYOUTS, old)).toBe(false);
      expect(labels(session)).toContain('9:new');
    });

    it('a jail without a stack of its own adds no stack', () => {
      table.create('shared', { vnet: false, jid: 10 });
      expect(labels(session)).toEqual(['0:host', '1:web', '2:app']);
    });
  });

  describe('broken lists end the walk with an error, never a hang or a wrong label', () => {
    let broken: TestKernel;
    let brokenImage: KernelImage;
    let brokenTable: JailTable;

    const fresh = (): KvmSession => {
      broken?.remove();
      broken = makeKernel({ cpus: [0], jails: JAILS, jailSlots: 4 });
      brokenImage = broken.open();
      brokenTable = new JailTable(brokenImage, broken.manifest);
      return open(broken);
    };
    afterEach(() => brokenImage.close());
    afterAll(() => broken.remove());

    const cases: Array<[string, () => void, RegExp]> = [
      ['a loop on vnet_head', () => brokenTable.loopVnetList(), /vnet_head loops back/],
      ['a loop on allprison', () => brokenTable.loopPrisonList(), /allprison loops back/],
      ['a bad vnet_magic_n', () => brokenTable.corruptVnetMagic(2), /magic 0xbad0bad, not VNET_MAGIC_N 0x5e4a6f28/],
      ['a vnet pointer into unmapped memory', () => brokenTable.pointIntoUnmapped(1, 'vnet'), /vnet_head points at 0x[0-9a-f]+, where no struct vnet can be read/],
      ['a prison pointer into unmapped memory', () => brokenTable.pointIntoUnmapped(1, 'prison'), /allprison points at 0x[0-9a-f]+, where no struct prison can be read/],
    ];
    for (const [name, breakIt, message] of cases) {
      it(name, () => {
        const s = fresh();
        try {
          breakIt();
          const started = performance.now();
          expect(() => walkNetworkStacks(s, LAYOUTS, 1000)).toThrow(message);
          expect(() => walkNetworkStacks(s, LAYOUTS, 1000)).toThrow(KvmVnetWalkError);
          expect(performance.now() - started).toBeLessThan(5000);
        } finally {
          s.close();
        }
      });
    }
  });
});

describe('1000 jails and the vnets.max cap', () => {
  const many = Array.from({ length: 999 }, (_, i) => ({ jid: i + 1, name: `j${i + 1}`, vnet: i % 3 !== 2 }));
  let kernel: TestKernel;
  let session: KvmSession;
  beforeAll(() => {
    kernel = makeKernel({ cpus: [0], jails: many, jailSlots: 1000 });
    session = open(kernel);
  }, 120_000);
  afterAll(() => {
    session.close();
    kernel.remove();
  });

  it('walks 999 jails (666 with stacks of their own) and the host within vnets.max 1000', () => {
    const got = labels(session, 1000);
    expect(got).toHaveLength(667);
    expect(got[0]).toBe('0:host');
    expect(got[666]).toBe('998:j998');
  });

  it('refuses more entries than vnets.max with an error naming the cap', () => {
    expect(() => walkNetworkStacks(session, LAYOUTS, 500)).toThrow(/more than vnets.max \(500\)/);
  });
});

describe('kernels without VIMAGE and crash dumps', () => {
  it('a kernel without options VIMAGE has no vnet_head: the walk says so and udpstat is a global', () => {
    const kernel = makeKernel({ cpus: [0, 1], vimage: false });
    const session = open(kernel);
    try {
      expect(walkNetworkStacks(session, LAYOUTS, 1000)).toEqual({ vimage: false });
      expect(session.lookupUncached('udpstat')?.address).toBe(BigInt(kernel.manifest.symbols['udpstat']!.address));
      expect(session.tryLookup('vnet_entry_udpstat')).toBeUndefined();
    } finally {
      session.close();
      kernel.remove();
    }
  });

  it('a crash dump: the same stacks, and libkvm translates into proc0\'s (prison0\'s) vnet', () => {
    const kernel = makeKernel({ cpus: [0, 1], live: false, jails: JAILS });
    const session = open(kernel);
    try {
      expect(labels(session)).toEqual(['0:host', '1:web', '2:app']);
      const raw = BigInt(kernel.manifest.symbols['vnet_entry_udpstat']!.address);
      expect(session.lookupUncached('udpstat')?.address).toBe(BigInt.asUintN(64, BigInt(kernel.manifest.vnet.dataBase) + raw));
    } finally {
      session.close();
      kernel.remove();
    }
  });
});
