/**
 * Dropping root after the kernel is open (`--runas user[:group]`), the
 * pattern drgn uses for /proc/kcore: the descriptor on /dev/mem stays usable
 * after setuid, and nothing that parses network input runs as root. A
 * reopen after the drop needs the user to be in group kmem, which the README
 * explains.
 */
import type { Logger } from '../log.js';

export interface RunAs {
  readonly user: string;
  readonly group?: string;
}

/** Node has process.initgroups on POSIX; @types/node does not declare it. */
type ProcessWithInitgroups = NodeJS.Process & { initgroups(user: string, extraGroup: string): void };

export function parseRunAs(text: string): RunAs {
  const match = /^([A-Za-z0-9_][A-Za-z0-9_.-]*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]*))?$/.exec(text);
  if (!match) throw new Error(`--runas expects USER or USER:GROUP, got ${JSON.stringify(text)}`);
  return match[2] ? { user: match[1]!, group: match[2] } : { user: match[1]! };
}

/** Switches to `runas` (supplementary groups, then group, then user), or throws saying why not. */
export function dropPrivileges(runas: RunAs, logger: Logger): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`--runas ${runas.user} needs the exporter to start as root (it is uid ${process.getuid?.()})`);
  }
  const group = runas.group ?? runas.user;
  // initgroups(3) gives the user its supplementary groups, kmem among them.
  (process as ProcessWithInitgroups).initgroups(runas.user, group);
  process.setgid!(group);
  process.setuid!(runas.user);
  if (process.getuid!() === 0 || process.geteuid!() === 0) throw new Error('still root after setuid: refusing to serve');
  logger.info('dropped privileges', { user: runas.user, group, uid: process.getuid!(), gid: process.getgid!() });
}

/** node_exporter's warning: an exporter needs no root to serve. */
export function warnIfRoot(logger: Logger): void {
  if (process.getuid?.() === 0) {
    logger.warn('serving HTTP as root: use --runas USER[:GROUP] to drop privileges after opening the kernel, or run as a user in group kmem');
  }
}
