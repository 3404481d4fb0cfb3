/**
 * Struct and union layouts and variable types as plain data, what
 * `kvm_exporter layout` prints and what the config resolves fields against:
 * each member's byte offset, and for a bit-field its absolute bit offset and
 * width. A bit-field is a member whose integer type (behind typedefs and
 * qualifiers) is narrower than its storage: ctfconvert writes a copy of the
 * base integer with `bits` set to the field's width (FreeBSD
 * cddl/contrib/opensolaris/tools/ctf/cvt/dwarf.c: die_sou_resolve).
 */
import type { CtfContainer } from './container.js';
import { typeText } from './declarator.js';
import { elementOf, resolveType, sizeOf } from './resolve.js';
import type { AggregateKind, CtfAggregate, CtfMember } from './types.js';

export interface MemberLayout {
  readonly name: string;
  readonly offset: number;
  /** Only for bit-fields: the absolute bit position from the start of the aggregate. */
  readonly bit_offset: number | null;
  /** Only for bit-fields: the width. */
  readonly bit_size: number | null;
  readonly size: number;
  readonly type: string;
  /** The members of an unnamed struct/union this member has (directly or as array elements), relative to it. */
  readonly anon_layout?: AggregateLayout;
}

export interface AggregateLayout {
  readonly kind: AggregateKind;
  readonly size: number;
  readonly members: readonly MemberLayout[];
}

export function aggregateLayout(ctf: CtfContainer, type: CtfAggregate, depth = 0): AggregateLayout {
  if (depth > 64) ctf.fail(`${type.kind} type ${type.id} nests unnamed aggregates more than 64 deep (a loop?)`);
  return { kind: type.kind, size: type.size, members: ctf.members(type).map((m) => memberLayout(ctf, m, depth)) };
}

function memberLayout(ctf: CtfContainer, member: CtfMember, depth: number): MemberLayout {
  const width = bitFieldWidth(ctf, member.type);
  const unaligned = member.bitOffset % 8 !== 0;
  const layout: MemberLayout = {
    name: member.name,
    offset: Math.floor(member.bitOffset / 8),
    bit_offset: width !== undefined || unaligned ? member.bitOffset : null,
    bit_size: width ?? null,
    size: sizeOf(ctf, member.type),
    type: typeText(ctf, member.type),
  };
  const inner = elementOf(ctf, member.type).type;
  if ((inner.kind === 'struct' || inner.kind === 'union') && inner.name === '') {
    return { ...layout, anon_layout: aggregateLayout(ctf, inner, depth + 1) };
  }
  return layout;
}

/** The width of a bit-field member, or undefined for an ordinary member. */
export function bitFieldWidth(ctf: CtfContainer, typeId: number): number | undefined {
  const type = resolveType(ctf, typeId);
  if (type.kind !== 'integer' || type.bits === type.size * 8) return undefined;
  return type.bits;
}
