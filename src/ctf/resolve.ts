/**
 * What a type id comes down to: the type behind typedef/const/volatile/
 * restrict chains, and a type's size in bytes (arrays: element size × count,
 * pointers: the data model's pointer size, as ctf_type_size in FreeBSD's
 * ctf_types.c computes it). Chains are followed at most as many steps as the
 * container has types, so a cycle in hostile data is an error, not a hang.
 */
import type { CtfContainer } from './container.js';
import type { CtfType } from './types.js';

const ALIASES = new Set(['typedef', 'const', 'volatile', 'restrict']);
/**
 * Deepest nesting of arrays, pointers and function types followed by
 * recursion. C types in a kernel nest a handful deep; hostile data nesting
 * deeper (or in a loop) is refused before the stack runs out.
 */
export const MAX_NESTING = 256;

/** The first type in the chain from `id` that is not a typedef or qualifier. */
export function resolveType(ctf: CtfContainer, id: number): CtfType {
  let type = ctf.type(id);
  for (let steps = 0; ALIASES.has(type.kind); steps++) {
    if (steps > ctf.typeCount) ctf.fail(`typedef/qualifier chain from type ${id} loops`);
    type = ctf.type((type as { target: number }).target);
  }
  return type;
}

/** Bytes of the type with this id. */
export function sizeOf(ctf: CtfContainer, id: number, depth = 0): number {
  if (depth > MAX_NESTING) ctf.fail(`the size of type ${id} nests more than ${MAX_NESTING} deep (a loop?)`);
  const type = resolveType(ctf, id);
  switch (type.kind) {
    case 'integer':
    case 'float':
    case 'struct':
    case 'union':
    case 'enum':
      return type.size;
    case 'pointer':
      return ctf.pointerSize;
    case 'array': {
      const size = sizeOf(ctf, type.element, depth + 1) * type.count;
      if (!Number.isSafeInteger(size)) ctf.fail(`array type ${type.id} has an overflowing size (${type.count} elements)`);
      return size;
    }
    default:
      return 0;
  }
}

/** Strips arrays: the element type of `id` (itself when not an array), and the dimensions crossed. */
export function elementOf(ctf: CtfContainer, id: number): { readonly type: CtfType; readonly counts: readonly number[] } {
  const counts: number[] = [];
  let type = ctf.type(id);
  while (type.kind === 'array') {
    if (counts.length > MAX_NESTING) ctf.fail(`array type ${id} nests more than ${MAX_NESTING} arrays deep (a loop?)`);
    counts.push(type.count);
    type = ctf.type(type.element);
  }
  return { type, counts };
}
