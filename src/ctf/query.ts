/**
 * Looking things up by name, as a config or the layout command names them:
 * a struct or union (`vmmeter`, `struct vmmeter`, `union ccb`, or a typedef
 * of one; `typedef:NAME` asks only for the typedef), a member path through
 * it (`vnet_le.le_next`, reaching through C11 anonymous members), and a
 * variable's type through the object section.
 */
import type { CtfContainer } from './container.js';
import { typeText } from './declarator.js';
import { bitFieldWidth } from './layout.js';
import { resolveType, sizeOf } from './resolve.js';
import type { AggregateKind, CtfAggregate, CtfMember } from './types.js';

export interface NamedAggregate {
  /** How it was asked for: `vmmeter`, `struct vmmeter`, a typedef name. */
  readonly name: string;
  readonly type: CtfAggregate;
  /** Set when reached through this typedef. */
  readonly typedef?: string;
}

/** Every complete struct/union a name denotes (one name may have several definitions in one file). */
export function findAggregates(ctf: CtfContainer, spec: string): NamedAggregate[] {
  const match = /^(?:(struct|union|typedef)[\s:]+)?([A-Za-z_][A-Za-z0-9_]*)$/.exec(spec.trim());
  if (!match) return [];
  const prefix = match[1];
  const name = match[2]!;
  if (prefix !== 'typedef') {
    const kinds: AggregateKind[] = prefix ? [prefix as AggregateKind] : ['struct', 'union'];
    const tagged = kinds.flatMap((kind) => ctf.lookup(kind, name)).map((id) => ({ name, type: ctf.type(id) as CtfAggregate }));
    if (tagged.length > 0 || prefix) return tagged;
  }
  return ctf.lookup('typedef', name).flatMap((id) => {
    const type = resolveType(ctf, id);
    return type.kind === 'struct' || type.kind === 'union' ? [{ name, type, typedef: name }] : [];
  });
}

export interface MemberAt {
  /** The dotted path as asked. */
  readonly path: string;
  /** Byte offset from the start of the outermost aggregate. */
  readonly offset: number;
  readonly bitOffset: number;
  readonly bitSize: number | undefined;
  readonly typeId: number;
  readonly size: number;
  readonly typeText: string;
}

/** The member at a dotted path, or a message saying which step is missing. */
export function memberAt(ctf: CtfContainer, aggregate: CtfAggregate, path: string): MemberAt | string {
  let current = aggregate;
  let bitBase = 0;
  let found: CtfMember | undefined;
  const steps = path.split('.');
  for (const [i, step] of steps.entries()) {
    const hit = findMember(ctf, current, step, 0);
    if (!hit) return `${describe(current)} has no member ${JSON.stringify(step)}${i > 0 ? ` (in ${steps.slice(0, i + 1).join('.')})` : ''}`;
    found = hit.member;
    bitBase += hit.bitOffset;
    if (i === steps.length - 1) break;
    const next = resolveType(ctf, found.type);
    if (next.kind !== 'struct' && next.kind !== 'union') return `${steps.slice(0, i + 1).join('.')} is ${typeText(ctf, found.type)}, not a struct or union`;
    current = next;
  }
  const width = bitFieldWidth(ctf, found!.type);
  return {
    path,
    offset: Math.floor(bitBase / 8),
    bitOffset: bitBase,
    bitSize: width,
    typeId: found!.type,
    size: sizeOf(ctf, found!.type),
    typeText: typeText(ctf, found!.type),
  };
}

/** A member by name, looking inside anonymous members (whose offsets are relative to themselves). */
function findMember(ctf: CtfContainer, type: CtfAggregate, name: string, depth: number): { member: CtfMember; bitOffset: number } | undefined {
  if (depth > 64) ctf.fail(`${describe(type)} nests anonymous members more than 64 deep (a loop?)`);
  for (const member of ctf.members(type)) {
    if (member.name === name) return { member, bitOffset: member.bitOffset };
    if (member.name !== '') continue;
    const inner = resolveType(ctf, member.type);
    if (inner.kind !== 'struct' && inner.kind !== 'union') continue;
    const hit = findMember(ctf, inner, name, depth + 1);
    if (hit) return { member: hit.member, bitOffset: member.bitOffset + hit.bitOffset };
  }
  return undefined;
}

export function describe(type: CtfAggregate): string {
  return `${type.kind} ${type.name || `{...} (type ${type.id})`}`;
}

export interface VariableType {
  readonly name: string;
  readonly typeId: number;
  readonly size: number;
  readonly typeText: string;
}

/** The CTF types of the data symbols with this name (several for same-named statics). */
export function variableTypes(ctf: CtfContainer, name: string): VariableType[] {
  return ctf.variables(name).map(({ type }) => ({ name, typeId: type, size: sizeOf(ctf, type), typeText: typeText(ctf, type) }));
}
