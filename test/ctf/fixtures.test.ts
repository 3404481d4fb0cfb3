/**
 * The oracle nobody here wrote: real FreeBSD 10.2 amd64 modules' CTF, and
 * the layouts read from the same modules' DWARF. `kvm_exporter layout
 * --format json` must reproduce every struct, union, typedef'd aggregate and
 * variable type exactly: size, every member's offset, bit-fields by bit
 * offset and width, member type text, nested anonymous layouts.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Bytes } from '../../src/ctf/bytes.js';
import { CtfContainer } from '../../src/ctf/container.js';
import { typeText } from '../../src/ctf/declarator.js';
import { parseSymbols } from '../../src/ctf/elf.js';
import { aggregateLayout } from '../../src/ctf/layout.js';
import { sizeOf } from '../../src/ctf/resolve.js';
import { aggregateText } from '../../src/ctf/text.js';
import { ALL_MODULES, LAYOUT_MODULES, elfWithSymtab, fixture, fixtureLayouts, manifest, objcopyWithCtf, runLayout, tempDir, type FixtureAggregate, type FixtureMember } from './support.js';

interface Member extends Omit<FixtureMember, 'anon_layout' | 'dwarf_type'> {
  size?: number;
  anon_layout?: Aggregate;
}
interface Aggregate {
  kind?: string;
  size: number;
  members: Member[];
}
interface Report extends Aggregate {
  name: string;
  typedef?: string;
  type?: string;
}

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The fixture's shape: `dwarf_type` is the DWARF spelling, which CTF does not keep. */
function expected(layout: FixtureAggregate): Aggregate {
  return {
    size: layout.size,
    members: layout.members.map(({ dwarf_type: _, anon_layout, ...m }) => ({ ...m, ...(anon_layout ? { anon_layout: expected(anon_layout) } : {}) })),
  };
}

/** The reader's shape, without the fields the fixture does not carry (member size, kind). */
function comparable(layout: Aggregate): Aggregate {
  return {
    size: layout.size,
    members: layout.members.map(({ size: _, anon_layout, ...m }) => ({ ...m, ...(anon_layout ? { anon_layout: comparable(anon_layout) } : {}) })),
  };
}

describe.each(LAYOUT_MODULES)('%s: layout --format json reproduces the DWARF layouts', (module) => {
  const layouts = fixtureLayouts(module);
  const dropped = new Set(Object.keys(layouts.dropped.structs ?? {}));

  it('every struct and union (all definitions of each name)', () => {
    const elf = objcopyWithCtf(dir, module, fixture(module, 'ctf'));
    const specs = [...Object.keys(layouts.structs).map((n) => `struct ${n}`), ...Object.keys(layouts.unions).map((n) => `union ${n}`)];
    const run = runLayout(elf, specs);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const reports = JSON.parse(run.stdout) as Report[];
    for (const [kind, table] of [['struct', layouts.structs], ['union', layouts.unions]] as const) {
      for (const [name, want] of Object.entries(table)) {
        const got = reports.filter((r) => r.kind === kind && r.name === name);
        expect(got.length, `${kind} ${name}`).toBeGreaterThan(0);
        for (const g of got) expect(comparable(g), `${kind} ${name}`).toEqual(expected(want));
      }
    }
    expect(dropped.size).toBeLessThanOrEqual(1);
  });

  it("every typedef'd unnamed aggregate", () => {
    const names = Object.keys(layouts.typedef_layouts);
    if (names.length === 0) return expect(module).toMatch(/bridgestp|if_re|if_em/);
    const elf = objcopyWithCtf(dir, `${module}-td`, fixture(module, 'ctf'));
    const run = runLayout(elf, names.map((n) => `typedef:${n}`));
    expect(run.code, run.stderr).toBe(0);
    const reports = JSON.parse(run.stdout) as Report[];
    for (const [name, want] of Object.entries(layouts.typedef_layouts)) {
      const got = reports.filter((r) => r.typedef === name);
      expect(got.length, name).toBeGreaterThan(0);
      for (const g of got) {
        expect(g.kind).toBe(want.kind);
        expect(comparable(g), name).toEqual(expected(want));
      }
    }
  });

  it("every variable's type and size, through the object section and the module's .symtab", () => {
    const elf = elfWithSymtab(dir, module, fixture(module, 'ctf'), fixture(module, 'symtab'), fixture(module, 'strtab'));
    const names = Object.keys(layouts.variables);
    const run = runLayout(elf, names.map((n) => `var:${n}`));
    expect(run.code, run.stderr).toBe(0);
    const reports = JSON.parse(run.stdout) as Report[];
    expect(reports).toHaveLength(names.length);
    for (const [name, want] of Object.entries(layouts.variables)) {
      expect(reports.find((r) => r.name === name), name).toEqual({ kind: 'variable', name, type: want.type, size: want.size, file: elf });
    }
  });
});

describe('names defined twice in one module', () => {
  it('if_em: both definitions of struct adapter and both global_quad_port_a statics are reported, each from its own record', () => {
    const elf = elfWithSymtab(dir, 'if_em-dup', fixture('if_em', 'ctf'), fixture('if_em', 'symtab'), fixture('if_em', 'strtab'));
    const run = runLayout(elf, ['struct adapter', 'var:global_quad_port_a']);
    expect(run.code).toBe(0);
    const reports = JSON.parse(run.stdout) as Report[];
    expect(reports.filter((r) => r.name === 'adapter').map((r) => r.size).sort()).toEqual([11432, 11960]);
    expect(reports.filter((r) => r.kind === 'variable')).toHaveLength(2);
  });
});

describe.each(ALL_MODULES)('%s: the whole container', (module) => {
  it('decodes every type, prints every type and lays out every struct and union; the counts match the manifest', () => {
    const strtab = new Bytes(fixture(module, 'strtab'), module, '.strtab');
    const symbols = parseSymbols(new Bytes(fixture(module, 'symtab'), module, '.symtab'), strtab, true);
    const ctf = new CtfContainer(module, new Bytes(fixture(module, 'ctf'), module, '.SUNW_ctf'), { symtab: { symbols, strtab } });
    const kinds = new Map<string, number>();
    for (let id = 1; id <= ctf.typeCount; id++) {
      const type = ctf.type(id);
      kinds.set(type.kind, (kinds.get(type.kind) ?? 0) + 1);
      expect(typeText(ctf, id)).not.toBe('');
      expect(sizeOf(ctf, id)).toBeGreaterThanOrEqual(0);
      if (type.kind === 'struct' || type.kind === 'union') {
        expect(aggregateLayout(ctf, type).members).toHaveLength(type.memberCount);
        expect(aggregateText(ctf, type)).toContain(`/* size: ${type.size} */`);
      }
    }
    const decoded = manifest()[module]?.ctf_decoded;
    if (decoded) {
      expect(ctf.typeCount).toBe(decoded.type_count);
      const byKind = Object.fromEntries([...kinds].map(([k, n]) => [k.toUpperCase(), n]));
      expect(byKind).toEqual(decoded.types_by_kind);
    } else {
      expect(module).toMatch(/carp|aac|pf/);
    }
  });
});
