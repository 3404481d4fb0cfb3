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
      return {
        offset: member.offset,
        field: ref,
        member,
        origin: ctfOrigin(ctx.types, ctx.layouts.get(struct), members.length === 1 ? members[0] : undefined, member.offset),
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
  return {
    offset,
    field: ref,
    origin: layoutOrigin(layout, ctx.configLayouts),
    fits: (width) => offset + width <= layout.size || report(`${ref} at offset ${offset} plus ${width} bytes passes the end of ${struct} (${layout.size} bytes)`),
  };
}

/**
 * An offset CTF gave, with the preset's own offset for the same layout field
 * when the two differ. `layoutField` is the field's name in the layout, when
 * it has one (a layout has no nested members).
 */
export function ctfOrigin(types: KernelTypes, layout: Layout | undefined, layoutField: string | undefined, offset: number): OffsetOrigin {
  const conflict = presetConflict(layout, layoutField, offset, types.origin);
  return { from: types.origin, ...(conflict ? { conflict } : {}) };
}

/** An offset a layout gave: the config's own or the preset's. */
export function layoutOrigin(layout: Layout, configLayouts: ReadonlySet<string>): OffsetOrigin {
  return { from: `${configLayouts.has(layout.name) ? 'config' : 'preset'} layout ${layout.name} (${layout.source.file})` };
}

/** The preset layout's offset for the same field, when it differs from CTF's. */
function presetConflict(layout: Layout | undefined, field: string | undefined, offset: number, origin: string): string | undefined {
  if (!layout || field === undefined) return undefined;
  const preset = layout.fields.get(field);
  if (preset === undefined || preset === offset) return undefined;
  return `the preset layout ${layout.name} (${layout.source.file}) says offset ${preset}; ${origin} says ${offset}`;
}
