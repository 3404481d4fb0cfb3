/**
 * A type as C declarator text: `struct ifnet *`, `char *const`,
 * `int (*)(struct ifnet *, u_long, caddr_t)`, `void (*[4])(void)`, or with a
 * name, `int (*if_ioctl)(struct ifnet *, u_long, caddr_t)`. Unnamed
 * aggregates print as `struct {...}`. Typedef names are kept, not expanded.
 */
import type { CtfContainer } from './container.js';
import { MAX_NESTING } from './resolve.js';

export function typeText(ctf: CtfContainer, id: number, declName = ''): string {
  return declare(ctf, id, declName, 0);
}

function declare(ctf: CtfContainer, id: number, inner: string, depth: number): string {
  if (depth > MAX_NESTING) ctf.fail(`type ${id} nests more than ${MAX_NESTING} declarators deep (a loop?)`);
  if (id === 0) return join('void', inner);
  const type = ctf.type(id);
  switch (type.kind) {
    case 'pointer': {
      const target = type.target === 0 ? undefined : ctf.type(type.target);
      const wrapped = target?.kind === 'array' || target?.kind === 'function' ? `(*${inner})` : `*${inner}`;
      return declare(ctf, type.target, wrapped, depth + 1);
    }
    case 'array':
      return declare(ctf, type.element, `${inner}[${type.count}]`, depth + 1);
    case 'function': {
      const args = type.args.map((arg) => declare(ctf, arg, '', depth + 1));
      if (type.varargs) args.push('...');
      return declare(ctf, type.returns, `${inner}(${args.length ? args.join(', ') : 'void'})`, depth + 1);
    }
    case 'const':
    case 'volatile':
    case 'restrict': {
      const target = type.target === 0 ? undefined : ctf.type(type.target);
      // A qualified pointer reads `char *const`; a qualified base type `const char`.
      if (target?.kind === 'pointer') return declare(ctf, type.target, join(type.kind, inner), depth + 1);
      return `${type.kind} ${declare(ctf, type.target, inner, depth + 1)}`;
    }
    case 'struct':
    case 'union':
    case 'enum':
      return join(`${type.kind} ${type.name || '{...}'}`, inner);
    case 'forward':
      return join(`${type.tag} ${type.name}`, inner);
    case 'typedef':
    case 'integer':
    case 'float':
      return join(type.name, inner);
    default:
      return join('<unknown>', inner);
  }
}

function join(base: string, inner: string): string {
  return inner ? `${base} ${inner}` : base;
}
