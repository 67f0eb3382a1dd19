import type { AgentFacts } from '../facts.js';
import { collectCpu, collectKernel, collectMemoryBytes } from './cpu-memory.js';
import { collectDisks } from './disks.js';
import { collectDmi, collectFirmware } from './dmi.js';
import { collectIpmiAddress } from './ipmi.js';
import { collectConnectedNic, collectNics } from './nics.js';
import { SysRoot } from './sysfs.js';

export interface CollectOptions {
  /** Directory holding sys/ and proc/ (default "/"). */
  root: string;
  /** The ipmitool command; false skips the BMC query. */
  ipmitool?: string | false;
  serialHint?: string;
}

export async function collectFacts(opts: CollectOptions): Promise<AgentFacts> {
  const sys = new SysRoot(opts.root);
  const dmi = await collectDmi(sys);
  const nics = await collectNics(sys);
  const ipmiAddress = opts.ipmitool === false ? undefined : await collectIpmiAddress(opts.ipmitool ?? 'ipmitool');
  const facts: AgentFacts = {
    serial: dmi.serial,
    uuid: dmi.uuid,
    firmware: await collectFirmware(sys),
    vendor: dmi.vendor,
    productName: dmi.productName,
    board: dmi.board,
    biosVersion: dmi.biosVersion,
    nics,
    connectedNic: await collectConnectedNic(sys),
    cpu: await collectCpu(sys),
    memoryBytes: await collectMemoryBytes(sys),
    disks: await collectDisks(sys),
    kernel: await collectKernel(sys),
  };
  if (ipmiAddress !== undefined) facts.ipmiAddress = ipmiAddress;
  if (opts.serialHint) facts.serialHint = opts.serialHint;
  return facts;
}
