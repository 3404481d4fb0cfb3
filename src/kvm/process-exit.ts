/**
 * Ending the process while a thread is stuck inside a libkvm call. Node
 * joins every worker thread before the process ends (process.exit too), and
 * a thread blocked in a native call cannot be stopped from JavaScript, so a
 * normal exit would wait for the kernel read to return, however long that
 * is. _exit(2) ends the process at once, as the kernel would at a signal.
 */
import koffi from 'koffi';

export function exitNow(code: number): never {
  const exit = koffi.load(null).func('void _exit(int)') as (status: number) => void;
  exit(code);
  throw new Error(`_exit(${code}) returned`);
}
