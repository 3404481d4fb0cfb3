/** The kernel access layer: everything above imports from here. */
export { KvmSession, DEFAULT_COREFILE, DEFAULT_LIBRARY, type KernelSymbol, type OpenOptions } from './session.js';
export {
  clearPcpuCache,
  refreshPcpuCache,
  ZPCPU_STRIDE,
  counterU64Fetch,
  getMaxCpu,
  getNcpus,
  getPcpu,
  readDpcpu,
  readTopology,
  readZpcpu,
  readZpcpuSpan,
  type CpuTopology,
} from './pcpu.js';
export { getProcs } from './proc.js';
export { getLoadavg, type LoadAverages } from './loadavg.js';
export { getSwapInfo, type SwapDeviceSpace, type SwapInfo, type SwapSpace } from './swap.js';
export { KERN_PROC, KI, KINFO_PROC_SIZE, KinfoProcList, PROC_STATES, procStateName, type ProcState } from './kinfo-proc.js';
