/**
 * Privilege drop of the built CLI (`--runas`), as a root-started service
 * uses it: the kernel is opened as root, then the process becomes the
 * given user before it serves HTTP. The image is readable by root only
 * (mode 0600, as /dev/mem is to anyone outside group kmem), so a served
 * kernel proves the open happened before the drop, and /proc/<pid>/status
 * proves the serving process holds no root id. Without --runas, a root
 * start logs node_exporter's warning.
 *
 * The test runs as root (the CI container) and creates a throwaway system
 * user with its own group, removed afterwards.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KernelImage } from '../../sim/image/image.js';
import { parseExposition, valueOf } from '../support/parse.js';
import { CLI, makeKernel, runCli, type TestKernel } from '../support/sim.js';
import { startCli, type CliServer } from './cli-process.js';
import { compareWithImage, imageTruth } from './oracle.js';
import { FULL_CONFIG, httpGet, until } from './served.js';
import { loadConfig } from '../../src/config/load.js';

const USER = `kvmx${process.pid}`;
/** A group for `--runas USER:GROUP`, which the user is no member of. */
const GROUP = `kvmxg${process.pid}`;
/** A supplementary group the user is a member of, as kmem would be. */
const MEMBER_OF = `kvmxs${process.pid}`;
let uid = -1;
let gid = -1;

beforeAll(() => {
  expect(process.getuid!()).toBe(0);
  execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
  execFileSync('groupadd', ['--system', GROUP]);
  execFileSync('groupadd', ['--system', MEMBER_OF]);
  execFileSync('usermod', ['--append', '--groups', MEMBER_OF, USER]);
  uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }));
  gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }));
});

afterAll(() => {
  spawnSync('userdel', [USER]);
  spawnSync('groupdel', [GROUP]);
  spawnSync('groupdel', [MEMBER_OF]);
});

/** A group's id from the group database. */
function groupId(name: string): number {
  return Number(execFileSync('getent', ['group', name], { encoding: 'utf8' }).split(':')[2]);
}

let kernel: TestKernel | undefined;
let image: KernelImage | undefined;
let cli: CliServer | undefined;

afterEach(async () => {
  await cli?.stop();
  image?.close();
  kernel?.remove();
  cli = undefined;
});

/**
 * A kernel whose image only root may open, in a folder anyone may enter.
 * The control file is the simulator's fault channel, not kernel memory:
 * readable by all, so the open fails on the image itself.
 */
function rootOnlyKernel(): { config: string } {
  kernel = makeKernel({ cpus: [0, 1, 2, 3] });
  image = kernel.open();
  const config = kernel.writeConfig(FULL_CONFIG);
  chmodSync(kernel.dir, 0o755);
  chmodSync(config, 0o644);
  chmodSync(kernel.image, 0o600);
  chmodSync(`${kernel.image}.ctl`, 0o644);
  return { config };
}

/** Uid/Gid lines of /proc/<pid>/status: real, effective, saved, filesystem. */
function idsOf(pid: number): { uids: number[]; gids: number[]; groups: number[] } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const numbers = (field: string) => (new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return { uids: numbers('Uid'), gids: numbers('Gid'), groups: numbers('Groups') };
}

describe('--runas', () => {
  it('opens the root-only kernel as root, then serves it as the user with no root id left', async () => {
    const { config } = rootOnlyKernel();
    // As the user, the same command cannot open the kernel at all.
    const denied = spawnSync(process.execPath, [CLI, 'once', `--config.file=${config}`], { uid, gid, encoding: 'utf8' });
    expect(denied.status).toBe(1);
    expect(denied.stdout).toMatch(/^kvm_up 0$/m);

    cli = await startCli([`--config.file=${config}`, `--runas=${USER}`]);
    const dropped = cli.log.find((l) => l.msg === 'dropped privileges')!;
    expect(dropped).toMatchObject({ level: 'info', user: USER, uid, gid });
    const order = cli.log.map((l) => l.msg);
    expect(order.indexOf('kernel opened')).toBeLessThan(order.indexOf('dropped privileges'));
    expect(order.indexOf('dropped privileges')).toBeLessThan(order.indexOf('listening'));
    expect(cli.log.some((l) => l.level === 'warn' && String(l.msg).startsWith('serving HTTP as root'))).toBe(false);

    const ids = idsOf(cli.pid);
    expect(ids.uids).toEqual([uid, uid, uid, uid]);
    expect(ids.gids).toEqual([gid, gid, gid, gid]);
    expect(ids.groups).not.toContain(0);

    const reply = await httpGet(cli.url, '/metrics');
    expect(reply.status).toBe(200);
    const scrape = parseExposition(reply.text);
    expect(valueOf(scrape, 'kvm_up')).toBe(1);
    expect(compareWithImage(scrape, imageTruth(image!, kernel!.manifest, loadConfig(config)))).toMatchObject({ wrong: [], absent: [] });
  });

  it('with USER:GROUP, takes that group as its primary group and keeps the user\'s supplementary groups', async () => {
    const { config } = rootOnlyKernel();
    cli = await startCli([`--config.file=${config}`, `--runas=${USER}:${GROUP}`]);
    const group = groupId(GROUP);
    expect(cli.log.find((l) => l.msg === 'dropped privileges')).toMatchObject({ user: USER, group: GROUP, uid, gid: group });
    const ids = idsOf(cli.pid);
    expect(ids.uids).toEqual([uid, uid, uid, uid]);
    expect(ids.gids).toEqual([group, group, group, group]);
    // initgroups(3): the groups that list the user, plus GROUP; not root's, not the user's own primary group.
    expect([...ids.groups].sort((a, b) => a - b)).toEqual([group, groupId(MEMBER_OF)].sort((a, b) => a - b));
    const reply = await httpGet(cli.url, '/metrics');
    expect(reply.status).toBe(200);
    expect(valueOf(parseExposition(reply.text), 'kvm_up')).toBe(1);
  });

  it('refuses a group that does not exist before it serves anything', async () => {
    const { config } = rootOnlyKernel();
    const result = await runCli(['serve', '--web.listen-address=127.0.0.1:0', `--config.file=${config}`, `--runas=${USER}:nosuchgroup${process.pid}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`nosuchgroup${process.pid}`);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toMatch(/listening/);
  });

  it('without GROUP, takes the user\'s primary group from the user database, not a group named after the user', async () => {
    // Debian's nobody has primary group nogroup; no group is called nobody.
    const nobodyGid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }));
    expect(spawnSync('getent', ['group', 'nobody']).status).not.toBe(0);
    const { config } = rootOnlyKernel();
    cli = await startCli([`--config.file=${config}`, '--runas=nobody']);
    expect(cli.log.find((l) => l.msg === 'dropped privileges')).toMatchObject({ user: 'nobody', gid: nobodyGid });
    expect(idsOf(cli.pid).gids).toEqual([nobodyGid, nobodyGid, nobodyGid, nobodyGid]);
  });

  it('refuses a user that does not exist with one line naming it, and no stack trace', async () => {
    const { config } = rootOnlyKernel();
    const result = await runCli(['serve', '--web.listen-address=127.0.0.1:0', `--config.file=${config}`, `--runas=nosuchuser${process.pid}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^kvm_exporter: --runas nosuchuser${process.pid}: no user "nosuchuser${process.pid}" on this host`, 'm'));
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toMatch(/listening/);
  });

  it('refuses a malformed USER:GROUP as a command-line mistake (exit 2)', async () => {
    const { config } = rootOnlyKernel();
    const result = await runCli(['serve', `--config.file=${config}`, '--runas=a:b:c']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--runas expects USER or USER:GROUP, got "a:b:c"');
  });

  it('after the drop, a reopen meets the kernel\'s real permissions and says so', async () => {
    const { config } = rootOnlyKernel();
    cli = await startCli([`--config.file=${config}`, `--runas=${USER}`]);
    const table = image!.symbol('cpuid_to_pcpu').value;
    image!.setEfault(table, table + 8n);
    expect(valueOf(parseExposition((await httpGet(cli.url, '/metrics')).text), 'kvm_up')).toBe(0);
    image!.setEfault(0n, 0n);
    // The next open(2) runs as the user: the real EACCES, not a simulated one.
    await until('the reopen to be refused', async () => {
      await httpGet(cli!.url, '/metrics');
      return cli!.log.some((l) => l.msg === 'cannot open the kernel');
    });
    const refused = cli.log.find((l) => l.msg === 'cannot open the kernel')!;
    expect(refused.err).toBe(`kvm_openfiles(NULL, ${kernel!.image}) failed: ${kernel!.image}: Permission denied`);
    const ready = await httpGet(cli.url, '/-/ready');
    expect(ready.status).toBe(503);
  });
});

describe('started as root without --runas', () => {
  it('serves, and warns that HTTP is served as root', async () => {
    const { config } = rootOnlyKernel();
    cli = await startCli([`--config.file=${config}`]);
    const warning = cli.log.filter((l) => l.level === 'warn' && String(l.msg).startsWith('serving HTTP as root'));
    expect(warning).toHaveLength(1);
    expect(warning[0]!.msg).toContain('--runas');
    expect(idsOf(cli.pid).uids).toEqual([0, 0, 0, 0]);
  });
});
