/**
 * The config's view of a kernel's CTF (the KernelTypes interface of
 * src/config/kernel-types.ts): struct members by dotted path and variables'
 * types, from the kernel's container first and the loaded modules' after.
 * A name with several different definitions is refused as ambiguous.
 */
import type { CType } from '../abi.js';
import type { KernelTypes, TypeMember, VariableType } from '../config/kernel-types.js';
import type { CtfContainer } from './container.js';
import type { CtfFile } from './file.js';
import type { LocatedCtf } from './locate.js';
import { findAggregates, memberAt, variableTypes } from './query.js';
import { elementOf, resolveType, sizeOf } from './resolve.js';

const COUNTER_TYPEDEF = 'counter_u64_t';

export function ctfKernelTypes(located: LocatedCtf & { kernel: CtfFile }): KernelTypes {
  // Modules are read only when the kernel does not have the name.
  const search = <T>(inKernel: boolean, look: (file: CtfFile) => T | undefined): T | undefined => {
    const found = look(located.kernel);
    if (found !== undefined || inKernel) return found;
    for (const module of located.modules()) {
      const there = look(module);
      if (there !== undefined) return there;
    }
    return undefined;
  };
  return {
    origin: `CTF of ${located.kernel.file}`,
    member: (struct, path) => search(has(located.kernel, struct), (file) => memberIn(file, struct, path)),
    variable: (symbol) =>
      search(false, (file) => {
        const [found] = variableTypes(file.ctf, symbol);
        return found && ({ typeText: found.typeText, ctype: ctypeOf(file.ctf, found.typeId) } satisfies VariableType);
      }),
  };
}

function has(file: CtfFile, struct: string): boolean {
  return findAggregates(file.ctf, struct).length > 0;
}

function memberIn(file: CtfFile, struct: string, path: string): TypeMember | string | undefined {
  const ctf = file.ctf;
  const aggregates = findAggregates(ctf, struct);
  if (aggregates.length === 0) return undefined;
  const answers = aggregates.map(({ type }) => memberAt(ctf, type, path));
  const first = answers[0]!;
  if (typeof first === 'string') return `${file.file}: ${first}`;
  if (answers.some((a) => typeof a === 'string' || a.offset !== first.offset || a.typeText !== first.typeText)) {
    return `${file.file}: ${struct} has ${aggregates.length} different definitions in CTF; give the offset in a layout`;
  }
  if (first.bitSize !== undefined) return `${file.file}: ${struct}.${path} is a ${first.bitSize}-bit bit-field, which cannot be read as a whole value`;
  const { type: element, counts } = elementOf(ctf, first.typeId);
  return {
    offset: first.offset,
    size: first.size,
    typeText: first.typeText,
    ...(counts.length === 1 ? { array: { count: counts[0]!, elementSize: sizeOf(ctf, element.id) } } : {}),
    isCounter: isCounterType(ctf, counts.length > 0 ? element.id : first.typeId),
    ctype: ctypeOf(ctf, counts.length === 1 ? element.id : first.typeId),
  };
}

/** counter_u64_t, possibly behind qualifiers or further typedefs of it. */
function isCounterType(ctf: CtfContainer, id: number): boolean {
  for (let type = ctf.type(id), steps = 0; steps <= ctf.typeCount; steps++) {
    if (type.kind === 'typedef' && type.name === COUNTER_TYPEDEF) return true;
    if (type.kind !== 'typedef' && type.kind !== 'const' && type.kind !== 'volatile') return false;
    type = ctf.type(type.target);
  }
  return false;
}

/** An integer as intN/uintN by its size and sign, a pointer as pointer; anything else has no ctype. */
export function ctypeOf(ctf: CtfContainer, id: number): CType | undefined {
  const type = resolveType(ctf, id);
  if (type.kind === 'pointer') return 'pointer';
  if (type.kind !== 'integer' || type.bits !== type.size * 8) return undefined;
  const signed = (type.format & 0x1) !== 0;
  const bits = type.size * 8;
  if (bits !== 8 && bits !== 16 && bits !== 32 && bits !== 64) return undefined;
  return `${signed ? 'int' : 'uint'}${bits}` as CType;
}
