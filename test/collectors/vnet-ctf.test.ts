/**
 * Where the walks of vnet_head and allprison get their offsets: a kernel
 * whose struct prison differs from the preset's (the simulator lays it out
 * as main does, pr_vnet 176 after pr_proclist; the 13 preset has 13.x's
 * pr_vnet 168) is walked right when its CTF is read, with the preset when
 * `kvm.ctf: off`, and with a config layout over either. `check` names each
 * offset's source and warns where CTF contradicts the preset.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSimKernelFile } from '../../sim/image/kernel-ctf.js';
import { parseExposition } from '../support/parse.js';
import { makeKernel, runCli } from '../support/sim.js';

const kernel = makeKernel({ cpus: [0, 1], jails: [
  { jid: 1, name: 'web', vnet: true },
  { jid: 2, name: 'app', vnet: true },
  { jid: 3, name: 'build', vnet: false },
] });
const execfile = join(kernel.dir, 'kernel');
writeSimKernelFile(execfile, kernel.manifest);
afterAll(() => kernel.remove());

const ONLY_VNET = 'collectors: { counters: false, variables: false, dpcpu: false, pcpu: false, processes: false, cpus: false, loadavg: false, swap: false }\n';
const CTF_ORIGIN = `CTF of ${execfile}`;

/** A config on the 13 preset; `kvm` lines continue the kvm section writeConfig opens. */
function config(name: string, kvm: string, rest = ''): string {
  return kernel.writeConfig(`  execfile: ${JSON.stringify(execfile)}\n${kvm}preset: freebsd-13-amd64\n${ONLY_VNET}${rest}`, name);
}

async function udpStacks(file: string): Promise<{ code: number | null; stacks: string[]; stderr: string }> {
  const result = await runCli(['once', '--config.file', file]);
  const parsed = parseExposition(result.stdout, 'text');
  const stacks = parsed.samples.filter((s) => s.name === 'kvm_udp_ipackets_total').map((s) => `${s.labels.jid}:${s.labels.jail}`);
  return { code: result.code, stacks, stderr: result.stderr };
}

async function checkLines(file: string): Promise<string[]> {
  const result = await runCli(['check', '--config.file', file]);
  return result.stdout.split('\n').filter((line) => line.includes(' vnets '));
}

describe('vnet and prison offsets', () => {
  it('come from the kernel CTF over the preset: the right jails and labels, and check warns about the preset', async () => {
    const file = config('ctf.yml', '');
    const { stacks, stderr } = await udpStacks(file);
    expect(stacks, stderr).toEqual(['0:host', '1:web', '2:app']);
    const lines = await checkLines(file);
    expect(lines).toContain(`     vnets prison.pr_vnet: offset 176 from ${CTF_ORIGIN}`);
    expect(lines).toContain(`     vnets vnet.vnet_le.le_next: offset 0 from ${CTF_ORIGIN}`);
    expect(lines).toContain(`     vnets prison.pr_list.tqe_next: offset 0 from ${CTF_ORIGIN}`);
    const warnings = lines.filter((line) => line.startsWith('WARN'));
    expect(warnings).toEqual([expect.stringMatching(/^WARN {3}vnets prison\.pr_vnet: the preset layout prison \(.*freebsd-13-amd64\.yml\) says offset 168; CTF of .* says 176$/)]);
  });

  it('with kvm.ctf off come from the preset, and check says so', async () => {
    const file = config('off.yml', '  ctf: off\n');
    // The preset's pr_vnet (168) points past this kernel's: no jail owns a vnet, so only the host's stack is labelled.
    expect((await udpStacks(file)).stacks).toEqual(['0:host']);
    const lines = await checkLines(file);
    expect(lines).toContainEqual(expect.stringMatching(/^ {5}vnets prison\.pr_vnet: offset 168 from preset layout prison \(.*freebsd-13-amd64\.yml\)$/));
    expect(lines.filter((line) => line.includes(' from '))).toHaveLength(7);
    expect(lines.filter((line) => line.includes('CTF') || line.startsWith('WARN'))).toEqual([]);
  });

  it('come from a layout written in the config over CTF', async () => {
    const layout = 'layouts:\n  prison: { size: 2176, checked: "13.5 jail.h", fields: { pr_list: 0, pr_id: 16, pr_vnet: 168, pr_name: 288 } }\n';
    const file = config('layout.yml', '', layout);
    expect((await udpStacks(file)).stacks).toEqual(['0:host']);
    const lines = await checkLines(file);
    expect(lines).toContain(`     vnets prison.pr_vnet: offset 168 from config layout prison (${file})`);
    expect(lines).toContain(`     vnets vnet.vnet_magic_n: offset 16 from ${CTF_ORIGIN}`);
    expect(lines.filter((line) => line.startsWith('WARN'))).toEqual([]);
  });
});
