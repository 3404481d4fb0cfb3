/**
 * Bad input: truncated, corrupt or hostile sections give a CtfError that says
 * where and what, never a hang, a stack overflow or a RangeError from
 * Buffer. Hand-made cases for each guard, then fast-check mutating a real
 * module's container and feeding arbitrary bytes.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CTF_INT_SIGNED, CtfWriter } from '../../sim/image/ctf-writer.js';
import { Bytes } from '../../src/ctf/bytes.js';
import { CtfContainer } from '../../src/ctf/container.js';
import { typeText } from '../../src/ctf/declarator.js';
import { parseSymbols } from '../../src/ctf/elf.js';
import { MAX_BODY_BYTES } from '../../src/ctf/header.js';
import { aggregateLayout } from '../../src/ctf/layout.js';
import { findAggregates, memberAt } from '../../src/ctf/query.js';
import { sizeOf } from '../../src/ctf/resolve.js';
import { aggregateText } from '../../src/ctf/text.js';
import { CtfError } from '../../src/errors.js';
import { fixture } from './support.js';

function open(section: Buffer, symtab?: { symbols: ReturnType<typeof parseSymbols>; strtab: Bytes }): CtfContainer {
  return new CtfContainer('hostile.ko', new Bytes(section, 'hostile.ko', '.SUNW_ctf'), symtab ? { symtab } : {});
}

/** Everything a user of the reader can ask of a container. */
function exercise(ctf: CtfContainer, names: readonly string[] = []): void {
  for (let id = 1; id <= ctf.typeCount; id++) {
    const type = ctf.type(id);
    typeText(ctf, id, 'x');
    sizeOf(ctf, id);
    if (type.kind === 'struct' || type.kind === 'union') {
      aggregateLayout(ctf, type);
      aggregateText(ctf, type);
      for (const m of ctf.members(type)) memberAt(ctf, type, m.name || 'anything');
    }
  }
  for (const name of ctf.variableNames()) ctf.variables(name);
  for (const name of names) findAggregates(ctf, name);
}

/** Runs `fn`; anything it throws must be a CtfError. */
function onlyCtfErrors(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof CtfError)) throw error;
  }
}

function withHeader(section: Buffer, patch: (h: Buffer) => void): Buffer {
  const copy = Buffer.from(section);
  patch(copy);
  return copy;
}

describe('header and body guards', () => {
  const good = new CtfWriter(2).build({ compress: false });

  it.each([
    ['a section shorter than the header', good.subarray(0, 20), /shorter than the 36-byte CTF header/],
    ['GNU CTF', withHeader(good, (h) => h.writeUInt16LE(0xdff2, 0)), /bad magic 0xdff2.*GNU CTF/],
    ['another magic', withHeader(good, (h) => h.writeUInt16LE(0x1234, 0)), /bad magic 0x1234/],
    ['version 4', withHeader(good, (h) => h.writeUInt8(4, 2)), /CTF version 4 is not supported/],
    ['offsets out of order', withHeader(good, (h) => h.writeUInt32LE(1000, 16)), /cth_funcoff \d+ comes before cth_objtoff 1000/],
    ['a body larger than allowed', withHeader(good, (h) => h.writeUInt32LE(MAX_BODY_BYTES + 1, 32)), /more than the \d+ allowed/],
    ['a body shorter than the header says', withHeader(good, (h) => h.writeUInt32LE(h.readUInt32LE(32) + 10, 32)), /the body has \d+ bytes, the header says/],
    ['corrupt zlib', Buffer.concat([withHeader(good.subarray(0, 36), (h) => h.writeUInt8(1, 3)), Buffer.from('not zlib at all')]), /zlib stream is corrupt/],
  ])('%s', (_, section, message) => {
    expect(() => open(section)).toThrow(CtfError);
    expect(() => open(section)).toThrow(message);
  });

  it('a zlib bomb stops at the size the header gives, without inflating the rest', () => {
    const bomb = deflateSync(Buffer.alloc(16 * 1024 * 1024));
    const header = withHeader(good.subarray(0, 36), (h) => {
      h.writeUInt8(1, 3);
      h.writeUInt32LE(1000, 32);
    });
    expect(() => open(Buffer.concat([header, bomb]))).toThrow(/inflates past the \d+ bytes the header gives/);
  });
});

describe('type graph guards', () => {
  function build(make: (w: CtfWriter) => void, version: 2 | 3 = 2): CtfContainer {
    const w = new CtfWriter(version);
    make(w);
    return open(w.build());
  }

  it('a typedef cycle', () => {
    const ctf = build((w) => {
      w.typedef('a', 2);
      w.typedef('b', 1);
    });
    expect(() => sizeOf(ctf, 1)).toThrow(/chain from type 1 loops/);
  });

  it('a pointer to itself and an array of itself', () => {
    const ctf = build((w) => {
      w.pointer(1);
      w.array(2, 2, 4);
    });
    expect(() => typeText(ctf, 1)).toThrow(/nests more than 256 declarators deep/);
    expect(() => sizeOf(ctf, 2)).toThrow(/nests more than 256/);
  });

  it('a struct whose anonymous member is itself', () => {
    const ctf = build((w) => {
      w.aggregate('struct', '', 8, [{ name: '', type: 1, bitOffset: 0 }]);
    });
    expect(() => aggregateLayout(ctf, ctf.type(1) as never)).toThrow(/more than 64 deep/);
    expect(() => memberAt(ctf, ctf.type(1) as never, 'x')).toThrow(/more than 64 deep/);
  });

  it('type ids out of range', () => {
    const ctf = build((w) => {
      w.aggregate('struct', 's', 8, [{ name: 'm', type: 999, bitOffset: 0 }]);
      w.pointer(0x7000);
    });
    expect(() => aggregateLayout(ctf, ctf.type(1) as never)).toThrow(/type id 999 is out of range \(2 types\)/);
    expect(() => typeText(ctf, 2)).toThrow(/type id 28672 is out of range/);
    expect(() => ctf.type(0)).toThrow(/type id 0/);
  });

  it('sizes that overflow', () => {
    const ctf = build((w) => {
      const huge = w.aggregate('struct', 'huge', 2 ** 40);
      w.array(huge, huge, 0xffffffff);
    }, 3);
    expect(() => sizeOf(ctf, 2)).toThrow(/overflowing size/);
  });

  it('a long size too large for a number', () => {
    const w = new CtfWriter(3);
    w.aggregate('struct', 's', 2 ** 40);
    const section = w.build({ compress: false });
    const typeoff = 36 + section.readUInt32LE(24);
    section.writeUInt32LE(0xffffffff, typeoff + 12); // lsizehi
    expect(() => open(section)).toThrow(/long size of type record at offset \d+ is too large/);
  });

  it('an unknown kind, and records that run past the string table', () => {
    const w = new CtfWriter(2);
    w.integer('int', 4, { flags: CTF_INT_SIGNED });
    const section = w.build({ compress: false });
    const typeoff = 36 + section.readUInt32LE(24);
    const unknownKind = Buffer.from(section);
    unknownKind.writeUInt16LE(20 << 11, typeoff + 4);
    expect(() => open(unknownKind)).toThrow(/unknown kind 20/);
    const struct = Buffer.from(section);
    struct.writeUInt16LE((6 << 11) | 1000, typeoff + 4); // a struct with 1000 members
    expect(() => open(struct)).toThrow(/type records end at offset \d+, past cth_stroff/);
  });
});

describe('fuzzing (fast-check)', () => {
  const section = fixture('bridgestp', 'ctf');
  const header = section.subarray(0, 36);
  const body = inflateSync(section.subarray(36));
  const strtab = new Bytes(fixture('bridgestp', 'strtab'), 'bridgestp', '.strtab');
  const symtab = { symbols: parseSymbols(new Bytes(fixture('bridgestp', 'symtab'), 'bridgestp', '.symtab'), strtab, true), strtab };
  const uncompressed = withHeader(header, (h) => h.writeUInt8(0, 3));

  it('a real module with bytes of its body changed reads or fails with a CtfError', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(body.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 24 }), (changes) => {
        const mutated = Buffer.from(body);
        for (const [at, value] of changes) mutated[at] = value;
        onlyCtfErrors(() => exercise(open(Buffer.concat([uncompressed, mutated]), symtab), ['bstp_port', 'struct bstp_state']));
      }),
      { numRuns: 300 },
    );
  });

  it('a real module with its header fields changed reads or fails with a CtfError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 35 }), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const mutated = Buffer.from(section);
        mutated[at] = value;
        onlyCtfErrors(() => exercise(open(mutated, symtab)));
      }),
      { numRuns: 300 },
    );
  });

  it('any truncation of a real module fails with a CtfError', () => {
    fc.assert(
      fc.property(fc.nat(section.length - 1), (length) => {
        expect(() => open(section.subarray(0, length))).toThrow(CtfError);
      }),
      { numRuns: 200 },
    );
  });

  it('arbitrary bytes after a valid header prefix read or fail with a CtfError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 2048 }), fc.boolean(), (bytes, compress) => {
        const payload = compress ? deflateSync(bytes) : Buffer.from(bytes);
        const head = withHeader(header, (h) => {
          h.writeUInt8(compress ? 1 : 0, 3);
          h.writeUInt32LE(Math.min(bytes.length, 8), 16);
          h.writeUInt32LE(Math.min(bytes.length, 16), 20);
          h.writeUInt32LE(Math.min(bytes.length, 16), 24);
          h.writeUInt32LE(Math.max(0, bytes.length - 64), 28);
          h.writeUInt32LE(Math.min(64, bytes.length), 32);
        });
        onlyCtfErrors(() => exercise(open(Buffer.concat([head, payload]))));
      }),
      { numRuns: 300 },
    );
  });
});
