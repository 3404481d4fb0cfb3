/**
 * Dropping root after the kernel is open (`--runas user[:group]`), the
 * pattern drgn uses for /proc/kcore: the descriptor on /dev/mem stays usable
 * after setuid, and nothing that parses network input runs as root. A
 * reopen after the drop needs the user to be in group kmem, which the README
 * explains.
 */
import { execFileSync } from 'node:child_process';
import { PrivilegesError } from '../errors.js';
import type { Logger } from '../log.js';

export interface RunAs {
  readonly user: string;
  readonly group?: string;
}

/** Node has process.initgroups on POSIX; @types/node does not declare it. */
type ProcessWithInitgroups = NodeJS.Process & { initgroups(user: string, extraGroup: string | number): void };

/** `USER` or `USER:GROUP` as the flag gives it, or undefined when the text is neither. */
export function parseRunAs(text: string): RunAs | undefined {
  const match = /^([A-Za-z0-9_][A-Za-z0-9_.-]*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]*))?$/.exec(text);
  if (!match) return undefined;
  return match[2] ? { user: match[1]!, group: match[2] } : { user: match[1]! };
}

/** Switches to `runas` (supplementary groups, then group, then user), or throws PrivilegesError saying why not. */
export function dropPrivileges(runas: RunAs, logger: Logger): void {
  const flag = runas.group === undefined ? runas.user : `${runas.user}:${runas.group}`;
  if (process.getuid?.() !== 0) {
    throw new PrivilegesError(flag, `the exporter must start as root to switch users (it is uid ${process.getuid?.()})`);
  }
  // Without GROUP the user's own primary group, as su(1) and daemon(8) -u do:
  // a group named like the user need not exist (Debian's nobody is in nogroup).
  const group = runas.group ?? primaryGroupOf(runas.user, flag);
  const step = (what: string, change: () => void) => {
    try {
      change();
    } catch (error) {
      throw new PrivilegesError(flag, `${what}: ${(error as Error).message}`, { cause: error });
    }
  };
  // initgroups(3) gives the user its supplementary groups, kmem among them.
  step(`no group ${JSON.stringify(group)} on this host, or initgroups failed`, () => (process as ProcessWithInitgroups).initgroups(runas.user, group));
  step(`setgid(${group}) failed`, () => process.setgid!(group));
  step(`setuid(${runas.user}) failed`, () => process.setuid!(runas.user));
  if (process.getuid!() === 0 || process.geteuid!() === 0) throw new PrivilegesError(flag, 'still root after setuid: refusing to serve');
  logger.info('dropped privileges', { user: runas.user, group: runas.group ?? group, uid: process.getuid!(), gid: process.getgid!() });
}

/**
 * The user's primary gid from the system's user database. Node has no
 * getpwnam(3); id(1) asks the same NSS sources (files, LDAP) on FreeBSD and
 * Linux alike.
 */
function primaryGroupOf(user: string, flag: string): number {
  let output: string;
  try {
    output = execFileSync('id', ['-g', '--', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const said = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new PrivilegesError(flag, `no user ${JSON.stringify(user)} on this host${said ? ` (id: ${said.replace(/^id:\s*/, '')})` : ''}`, { cause: error });
  }
  const gid = Number(output.trim());
  if (!Number.isInteger(gid) || gid < 0) throw new PrivilegesError(flag, `id -g ${user} answered ${JSON.stringify(output.trim())}, not a group id`);
  return gid;
}

/** node_exporter's warning: an exporter needs no root to serve. */
export function warnIfRoot(logger: Logger): void {
  if (process.getuid?.() === 0) {
    logger.warn('serving HTTP as root: use --runas USER[:GROUP] to drop privileges after opening the kernel, or run as a user in group kmem');
  }
}
