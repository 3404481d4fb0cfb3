/**
 * Resolving `field: <struct>.<member>[.<member>...]` in the order the
 * config promises: a layout written in the config file, then the kernel's
 * own types (CTF), then the preset's layout. The answer says where the
 * offset came from and, when CTF and the preset disagree, what the preset
 * said, so `check` can show both.
 */
import type { ConfigError } from '../errors.js';
import type { KernelTypes, TypeMember } from './kernel-types.js';
import { resolveField, type Layout } from './layouts.js';
import type { KeyPath, YamlFile } from './yaml-file.js';
import type { OffsetOrigin } from './types.js';

export interface FieldContext {
  readonly source: YamlFile;
  readonly path: KeyPath;
  readonly layouts: ReadonlyMap<string, Layout>;
  /** Names of the layouts the config file itself writes (they win over CTF). */
  readonly configLayouts: ReadonlySet<string>;
  readonly types: KernelTypes | undefined;
  readonly errors: ConfigError[];
}

export interface FieldPlace {
  readonly offset: number;
  readonly field: string;
  readonly origin: OffsetOrigin;
  /** What CTF says the member is, when the offset came from CTF. */
  readonly member?: TypeMember;
  /** Checks that `width` bytes from the offset stay inside the struct (layout) or member (CTF); reports if not. */
  readonly fits: (width: number) => boolean;
}

export function resolveFieldRef(ref: string, ctx: FieldContext): FieldPlace | undefined {
  const [struct, ...members] = ref.split('.') as [string, ...string[]];
  const path = members.join('.');
  const report = (problem: string) => {
    ctx.errors.push(ctx.source.error(ctx.path, problem));
    return false;
  };
  if (!ctx.configLayouts.has(struct) && ctx.types) {
    const member = ctx.types.member(struct, path);
    if (typeof member === 'string') {
      report(member);
      return undefined;
    }
    if (member) {
      const conflict = presetConflict(ctx.layouts.get(struct), members, member.offset, ctx.types.origin);
      return {
        offset: member.offset,
        field: ref,
        member,
        origin: { from: ctx.types.origin, ...(conflict ? { conflict } : {}) },
        fits: (width) => width <= member.size || report(`${ref} is ${member.typeText} (${member.size} bytes); reading ${width} bytes passes its end`),
      };
    }
  }
  if (members.length > 1) {
    report(`${ref} reaches into a nested member, which needs the kernel's CTF (${ctx.types ? `${ctx.types.origin} has no ${struct}` : 'none is loaded'})`);
    return undefined;
  }
  const resolved = resolveField(ref, 0, ctx.layouts, ctx);
  if (!resolved) return undefined;
  const { layout, offset } = resolved;
  const from = `${ctx.configLayouts.has(struct) ? 'config' : 'preset'} layout ${struct} (${layout.source.file})`;
  return {
    offset,
    field: ref,
    origin: { from },
    fits: (width) => offset + width <= layout.size || report(`${ref} at offset ${offset} plus ${width} bytes passes the end of ${struct} (${layout.size} bytes)`),
  };
}

/** The preset layout's offset for the same field, when it differs from CTF's. */
function presetConflict(layout: Layout | undefined, members: readonly string[], offset: number, origin: string): string | undefined {
  if (!layout || members.length !== 1) return undefined;
  const preset = layout.fields.get(members[0]!);
  if (preset === undefined || preset === offset) return undefined;
  return `the preset layout ${layout.name} (${layout.source.file}) says offset ${preset}; ${origin} says ${offset}`;
}
