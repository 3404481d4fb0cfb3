/**
 * Where the kernel's CTF comes from, by `kvm.ctf`:
 * - `off`: nowhere (presets only);
 * - a list of files: those, the first being the kernel, the rest modules;
 * - `auto`: the execfile when there is one (a crash dump's kernel); for the
 *   running kernel, the file `kern.bootfile` names, trusted only when its
 *   NT_GNU_BUILD_ID equals `kern.build_id` (a kernel installed but not yet
 *   booted has the same path and other offsets), and the loaded modules'
 *   files (kldstat), read only when a name is not in the kernel's CTF.
 * Every "no CTF" outcome carries the reason, for one log line and `check`.
 */
import { CtfError } from '../errors.js';
import { readCtfFile, type CtfFile } from './file.js';

export type CtfSetting = 'auto' | 'off' | readonly string[];

type Answer<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** What the running system says about its kernel files (src/kvm/system.ts on FreeBSD). */
export interface RunningKernelFacts {
  sysctlString(name: string): Answer<string>;
  loadedFiles(): Answer<readonly { readonly name: string; readonly path: string }[]>;
}

export interface LocatedCtf {
  /** The kernel's CTF, or undefined with `reason` saying why there is none. */
  readonly kernel: CtfFile | undefined;
  readonly reason?: string;
  /** Modules' CTF, read on first call (a config naming a type only a module has). */
  readonly modules: () => readonly CtfFile[];
}

export function locateCtf(setting: CtfSetting, execfile: string | null, facts: RunningKernelFacts): LocatedCtf {
  if (setting === 'off') return none('kvm.ctf is off');
  if (setting !== 'auto') return fromFiles(setting);
  if (execfile !== null) return fromKernelFile(execfile, () => []);
  const bootfile = facts.sysctlString('kern.bootfile');
  if (!bootfile.ok) return none(`kern.bootfile: ${bootfile.reason}`);
  const running = facts.sysctlString('kern.build_id');
  const located = fromKernelFile(bootfile.value, () => moduleFiles(facts, bootfile.value));
  if (!located.kernel) return located;
  if (!running.ok) return none(`kern.build_id: ${running.reason}; ${bootfile.value} cannot be checked against the running kernel`);
  if (located.kernel.buildId !== running.value.toLowerCase()) {
    return none(`${bootfile.value} is not the running kernel (its build id ${located.kernel.buildId ?? 'is missing'}, kern.build_id ${running.value})`);
  }
  return located;
}

function none(reason: string): LocatedCtf {
  return { kernel: undefined, reason, modules: () => [] };
}

function fromKernelFile(path: string, modules: () => readonly CtfFile[]): LocatedCtf {
  try {
    const kernel = readCtfFile(path);
    if (!kernel) return none(`${path} has no .SUNW_ctf section (a kernel built without WITH_CTF)`);
    return { kernel, modules: once(modules) };
  } catch (error) {
    if (error instanceof CtfError || (error as NodeJS.ErrnoException).code !== undefined) return none((error as Error).message);
    throw error;
  }
}

function fromFiles(paths: readonly string[]): LocatedCtf {
  const [kernel, ...modules] = paths;
  return fromKernelFile(kernel!, () => modules.flatMap((path) => readCtfFile(path) ?? []));
}

/** The loaded modules' files other than the kernel; one unreadable module is skipped, not fatal. */
function moduleFiles(facts: RunningKernelFacts, kernelPath: string): CtfFile[] {
  const loaded = facts.loadedFiles();
  if (!loaded.ok) return [];
  return loaded.value
    .filter((file) => file.path !== kernelPath && file.path !== '')
    .flatMap((file) => {
      try {
        return readCtfFile(file.path) ?? [];
      } catch {
        return [];
      }
    });
}

function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}
