/**
 * The CTF container's 36-byte header and its body: magic 0xcff1, version 2
 * or 3, the section offsets, and the body after the header, inflated when
 * CTF_F_COMPRESS is set. Facts from FreeBSD sys/sys/ctf.h (ctf_header_t,
 * CTF_MAGIC, CTF_VERSION_2/3, CTF_F_COMPRESS) and ctf_open.c (ctf_bufopen:
 * "all offsets count from the start of the inflated body").
 */
import { inflateSync } from 'node:zlib';
import { Bytes } from './bytes.js';

export const CTF_MAGIC = 0xcff1;
export const CTF_F_COMPRESS = 0x1;
export const CTF_HEADER_SIZE = 36;
/**
 * The largest inflated body accepted. A FreeBSD GENERIC kernel's CTF inflates
 * to a few MB; this is far above that and far below what would exhaust memory,
 * so a zlib bomb stops here instead of filling the heap.
 */
export const MAX_BODY_BYTES = 256 * 1024 * 1024;

export type CtfVersion = 2 | 3;

export interface CtfHeader {
  readonly version: CtfVersion;
  readonly flags: number;
  readonly parlabel: number;
  /** Name ref of the parent container; 0 when the container stands alone. */
  readonly parname: number;
  readonly lbloff: number;
  readonly objtoff: number;
  readonly funcoff: number;
  readonly typeoff: number;
  readonly stroff: number;
  readonly strlen: number;
}

export function parseHeader(section: Bytes): CtfHeader {
  if (section.length < CTF_HEADER_SIZE) section.fail(`${section.length} bytes is shorter than the ${CTF_HEADER_SIZE}-byte CTF header`);
  const magic = section.u16(0, 'cth_magic');
  if (magic !== CTF_MAGIC) section.fail(`bad magic 0x${magic.toString(16)} (CTF is 0xcff1${magic === 0xdff2 ? '; 0xdff2 is GNU CTF, a different format' : ''})`);
  const version = section.u8(2, 'cth_version');
  if (version !== 2 && version !== 3) section.fail(`CTF version ${version} is not supported (only 2 and 3)`);
  const header: CtfHeader = {
    version,
    flags: section.u8(3, 'cth_flags'),
    parlabel: section.u32(4, 'cth_parlabel'),
    parname: section.u32(8, 'cth_parname'),
    lbloff: section.u32(12, 'cth_lbloff'),
    objtoff: section.u32(16, 'cth_objtoff'),
    funcoff: section.u32(20, 'cth_funcoff'),
    typeoff: section.u32(24, 'cth_typeoff'),
    stroff: section.u32(28, 'cth_stroff'),
    strlen: section.u32(32, 'cth_strlen'),
  };
  checkOrder(section, header);
  return header;
}

/** The parts come in this order and each runs to the next one's offset (ctf_open.c: ctf_bufopen). */
function checkOrder(section: Bytes, h: CtfHeader): void {
  const order: [string, number][] = [['cth_lbloff', h.lbloff], ['cth_objtoff', h.objtoff], ['cth_funcoff', h.funcoff], ['cth_typeoff', h.typeoff], ['cth_stroff', h.stroff]];
  for (let i = 1; i < order.length; i++) {
    const [prevName, prev] = order[i - 1]!;
    const [name, at] = order[i]!;
    if (at < prev) section.fail(`${name} ${at} comes before ${prevName} ${prev}`);
  }
  if (h.stroff + h.strlen > MAX_BODY_BYTES) section.fail(`the body claims ${h.stroff + h.strlen} bytes, more than the ${MAX_BODY_BYTES} allowed`);
}

/** The body (labels .. strings), inflated if compressed; exactly `stroff + strlen` bytes long. */
export function readBody(section: Bytes, header: CtfHeader): Bytes {
  const size = header.stroff + header.strlen;
  const stored = section.buf.subarray(CTF_HEADER_SIZE);
  const body = header.flags & CTF_F_COMPRESS ? inflate(section, stored, size) : stored.subarray(0, size);
  if (body.length !== size) {
    section.fail(`the body has ${body.length} bytes${header.flags & CTF_F_COMPRESS ? ' after inflating' : ''}, the header says ${size} (stroff ${header.stroff} + strlen ${header.strlen})`);
  }
  return new Bytes(body, section.file, 'CTF body');
}

function inflate(section: Bytes, stored: Buffer, size: number): Buffer {
  try {
    // One byte more than expected, so that a longer stream is seen as wrong rather than cut silently.
    return inflateSync(stored, { maxOutputLength: size + 1 });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') section.fail(`the zlib stream inflates past the ${size} bytes the header gives`);
    return section.fail(`the zlib stream is corrupt: ${(error as Error).message}`);
  }
}
