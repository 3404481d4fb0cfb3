/**
 * `kvm_exporter layout` as a user runs it: pahole-like text by default,
 * JSON on request, and clear errors for a file without CTF, a name CTF does
 * not have, and a corrupt section.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSimKernelFile } from '../../sim/image/kernel-ctf.js';
import { makeKernel } from '../support/sim.js';
import { objcopyWithCtf, runLayout } from './support.js';

const kernel = makeKernel();
const execfile = join(kernel.dir, 'kernel');
writeSimKernelFile(execfile, kernel.manifest);
afterAll(() => kernel.remove());

describe('kvm_exporter layout', () => {
  it('prints a struct as C with offset comments, unnamed members expanded in place', () => {
    const run = runLayout(execfile, ['vnet'], 'text');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('struct vnet {\n\tstruct {\n\t\tstruct vnet *le_next;');
    expect(run.stdout).toMatch(/\tstruct vnet \*\*le_prev; +\/\* +8 +8 \*\//);
    expect(run.stdout).toMatch(/\tuintptr_t vnet_data_base; +\/\* +40 +8 \*\/\n\t\/\* size: 64 \*\/\n\};/);
  });

  it('prints variables and structs as JSON', () => {
    const run = runLayout(execfile, ['var:vm_cnt', 'struct pcpu']);
    expect(run.code, run.stderr).toBe(0);
    const [vmCnt, pcpu] = JSON.parse(run.stdout) as [{ type: string; size: number }, { size: number; members: { name: string; offset: number; type: string }[] }];
    expect(vmCnt).toMatchObject({ kind: 'variable', type: 'struct vmmeter', size: 328 });
    expect(pcpu.size).toBe(4096);
    expect(pcpu.members.find((m) => m.name === 'pc_cp_time')).toMatchObject({ offset: 80, type: 'long [5]' });
  });

  it('exits 1 naming what it could not find, and prints what it found', () => {
    const run = runLayout(execfile, ['vmmeter', 'no_such_struct'], 'text');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('struct vmmeter {');
    expect(run.stderr).toBe(`kvm_exporter: ${execfile}: no struct, union, typedef or variable "no_such_struct" in its CTF\n`);
  });

  it('says so for a file without CTF and for a corrupt section', () => {
    const bare = join(kernel.dir, 'bare');
    writeFileSync(bare, Buffer.alloc(100));
    expect(runLayout(bare, ['vmmeter']).stderr).toBe(`kvm_exporter: ${bare}: ELF header: not an ELF file (no \\x7fELF magic)\n`);
    const corrupt = objcopyWithCtf(kernel.dir, 'corrupt', Buffer.from('\xf1\xcf\x03\x01 not a container', 'latin1'));
    const run = runLayout(corrupt, ['vmmeter']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^kvm_exporter: .*corrupt\.o: \.SUNW_ctf: \d+ bytes is shorter than the 36-byte CTF header\n$/);
  });
});
