/**
 * Struct and union members: the short record (offset in a u16 or u32, in
 * bits) below the version's size threshold, the long record (64-bit offset
 * as hi, lo) at or above it, for every member of the type (FreeBSD
 * sys/sys/ctf.h: ctf_member_v2/v3, ctf_lmember_v2/v3, CTF_*_LSTRUCT_THRESH).
 */
import { Bytes, joinU64 } from './bytes.js';
import type { RecordFormat } from './records.js';
import type { CtfAggregate, CtfMember } from './types.js';

export function decodeMembers(body: Bytes, format: RecordFormat, type: CtfAggregate, name: (ref: number) => string): CtfMember[] {
  const long = type.size >= format.lmemberThreshold;
  const stride = long ? format.lmemberSize : format.memberSize;
  const wide = format.idSize === 4;
  return Array.from({ length: type.memberCount }, (_, i) => {
    const at = type.membersAt + i * stride;
    const part = `member ${i} of ${type.kind} type ${type.id}`;
    const nameRef = body.u32(at, part);
    const memberType = wide ? body.u32(at + 4, part) : body.u16(at + 4, part);
    const bitOffset = long
      ? joinU64(body, body.u32(at + 8, part), body.u32(at + 12, part), `offset of ${part}`)
      : wide
        ? body.u32(at + 8, part)
        : body.u16(at + 6, part);
    return { name: name(nameRef), type: memberType, bitOffset };
  });
}
