/**
 * What the running FreeBSD kernel says about its own files, through the C
 * library: `kern.bootfile` and `kern.build_id` by sysctlbyname(3), and the
 * loaded modules' paths by kldnext(2)/kldstat(2). The CTF locator uses these
 * to find the booted kernel's file and to check that the file on disk is the
 * one that was booted. On a system whose C library has no sysctlbyname
 * (Linux, under the simulator) every answer is "unavailable" with the reason.
 */
import koffi from 'koffi';

/** MAXPATHLEN (sys/sys/param.h). */
const MAXPATHLEN = 1024;

/**
 * `struct kld_file_stat` (sys/sys/linker.h, FreeBSD 13+ amd64): version,
 * name[MAXPATHLEN], refs, id, address, size, pathname[MAXPATHLEN].
 */
const KLD_FILE_STAT = koffi.struct('kld_file_stat', {
  version: 'int',
  name: koffi.array('char', MAXPATHLEN, 'String'),
  refs: 'int',
  id: 'int',
  address: 'void *',
  size: 'size_t',
  pathname: koffi.array('char', MAXPATHLEN, 'String'),
});

export interface KernelModuleFile {
  readonly name: string;
  readonly path: string;
}

/** The running system's answers, or why there are none. */
export type Answer<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

interface SystemCalls {
  sysctlbyname(name: string, oldp: Buffer | null, oldlenp: [number], newp: null, newlen: number): number;
  kldnext(fileid: number): number;
  kldstat(fileid: number, stat: Record<string, unknown>): number;
}

export class RunningSystem {
  private constructor(private readonly calls: Answer<SystemCalls>) {}

  /** Declares the calls from the C library already in the process. */
  static open(): RunningSystem {
    try {
      const libc = koffi.load(null);
      return new RunningSystem({
        ok: true,
        value: {
          sysctlbyname: libc.func('int sysctlbyname(const char *name, _Out_ void *oldp, _Inout_ size_t *oldlenp, const void *newp, size_t newlen)'),
          kldnext: libc.func('int kldnext(int fileid)'),
          kldstat: libc.func('int kldstat(int fileid, _Inout_ kld_file_stat *stat)'),
        } as unknown as SystemCalls,
      });
    } catch (error) {
      return new RunningSystem({ ok: false, reason: `the C library has no sysctlbyname/kldstat (${(error as Error).message}); not FreeBSD` });
    }
  }

  /** A string sysctl such as kern.bootfile or kern.build_id. */
  sysctlString(name: string): Answer<string> {
    if (!this.calls.ok) return this.calls;
    const length: [number] = [0];
    if (this.calls.value.sysctlbyname(name, null, length, null, 0) !== 0) return { ok: false, reason: `sysctlbyname(${name}) failed` };
    const buffer = Buffer.alloc(length[0]);
    if (this.calls.value.sysctlbyname(name, buffer, length, null, 0) !== 0) return { ok: false, reason: `sysctlbyname(${name}) failed` };
    const end = buffer.indexOf(0);
    return { ok: true, value: buffer.toString('utf8', 0, end < 0 ? length[0] : end) };
  }

  /** Every loaded kernel file (the kernel first, then modules) with its path, from kldnext/kldstat. */
  loadedFiles(): Answer<KernelModuleFile[]> {
    if (!this.calls.ok) return this.calls;
    const files: KernelModuleFile[] = [];
    for (let id = this.calls.value.kldnext(0); id > 0; id = this.calls.value.kldnext(id)) {
      const stat: Record<string, unknown> = { version: koffi.sizeof(KLD_FILE_STAT) };
      if (this.calls.value.kldstat(id, stat) !== 0) continue;
      files.push({ name: String(stat.name), path: String(stat.pathname) });
    }
    return { ok: true, value: files };
  }
}
