/**
 * A struct or union as C with offset comments, like pahole prints DWARF:
 * each member declared with its real declarator (`int (*if_ioctl)(...)`,
 * `char name[16]`), unnamed aggregates expanded in place, and for every
 * member `/* offset[:bit] size *\/`.
 */
import type { CtfContainer } from './container.js';
import { typeText } from './declarator.js';
import { bitFieldWidth } from './layout.js';
import { elementOf, sizeOf } from './resolve.js';
import type { CtfAggregate } from './types.js';

const COLUMN = 48;

export function aggregateText(ctf: CtfContainer, type: CtfAggregate, typedef?: string): string {
  const head = typedef ? `typedef ${type.kind} {` : `${type.kind} ${type.name || '{...}'} {`;
  const tail = typedef ? `} ${typedef};` : '};';
  return [head, ...memberLines(ctf, type, 0, 1), `\t/* size: ${type.size} */`, tail, ''].join('\n');
}

function memberLines(ctf: CtfContainer, type: CtfAggregate, base: number, depth: number): string[] {
  if (depth > 64) ctf.fail(`${type.kind} type ${type.id} nests unnamed aggregates more than 64 deep (a loop?)`);
  const indent = '\t'.repeat(depth);
  return ctf.members(type).flatMap((m) => {
    const bits = base + m.bitOffset;
    const width = bitFieldWidth(ctf, m.type);
    const offset = Math.floor(bits / 8);
    const where = width === undefined && bits % 8 === 0 ? `${offset}` : `${offset}:${bits % 8}`;
    const comment = `/* ${where.padStart(6)} ${String(sizeOf(ctf, m.type)).padStart(5)} */`;
    const declaration = `${typeText(ctf, m.type, m.name)}${width === undefined ? '' : `:${width}`};`;
    const inner = elementOf(ctf, m.type).type;
    if ((inner.kind !== 'struct' && inner.kind !== 'union') || inner.name !== '') return [`${indent}${declaration.padEnd(COLUMN)} ${comment}`];
    const [before, after] = declaration.split('{...}');
    return [`${indent}${before}{`, ...memberLines(ctf, inner, bits, depth + 1), `${indent}${`}${after}`.padEnd(COLUMN)} ${comment}`];
  });
}
