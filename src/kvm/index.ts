/** The kernel access layer: everything above imports from here. */
export { loadLibKvm } from './binding.js';
export { exitNow } from './process-exit.js';
export { KvmSession, DEFAULT_COREFILE, DEFAULT_LIBRARY, type KernelSymbol, type OpenOptions } from './session.js';
export {
  clearPcpuCache,
  refreshPcpuCache,
  ZPCPU_STRIDE,
  counterU64Fetch,
  getMaxCpu,
  getNcpus,
  getPcpu,
  DpcpuOffsets,
  readTopology,
  readZpcpu,
  readZpcpuCopies,
  readZpcpuEach,
  readZpcpuRun,
  type CpuTopology,
} from './pcpu.js';
export { getProcs } from './proc.js';
export { getLoadavg, type LoadAverages } from './loadavg.js';
export { getSwapInfo, type SwapDeviceSpace, type SwapInfo, type SwapSpace } from './swap.js';
export { KERN_PROC, KI, KINFO_PROC_SIZE, KinfoProcList, PROC_STATES, procStateName, type ProcState } from './kinfo-proc.js';
export {
  HOST_JAIL,
  HOST_JID,
  VNET_MAGIC_N,
  readJailNames,
  stackStillValid,
  walkNetworkStacks,
  type NetworkStack,
  type VnetLayouts,
  type VnetWalk,
} from './vnet.js';
