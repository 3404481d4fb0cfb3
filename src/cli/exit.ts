/**
 * Ending a command while a kernel thread is blocked in a kernel read: Node
 * joins every thread at exit, so the process would wait for the read to
 * return. Standard output and error are flushed first, then the process
 * ends at once (kvm/process-exit.ts).
 */
import { exitNow } from '../kvm/index.js';

export async function exitAtOnce(code: number): Promise<never> {
  const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  return exitNow(code);
}

/** Returns `code`, or ends the process with it at once if a kernel thread is stuck. */
export async function exitCode(code: number, exporter: { readonly holdsStuckThread: boolean }): Promise<number> {
  return exporter.holdsStuckThread ? exitAtOnce(code) : code;
}
