import type { Provisioner } from '../lifecycle/provisioner.js';
import type { MachineRecord } from '../store/types.js';

/**
 * What the HTTP layer needs from the services built elsewhere (docs/architecture.md contracts),
 * stated narrowly so the apps depend on the operations they call and nothing more.
 */

export type Machine = Readonly<MachineRecord>;

export type { OperatorAudit, OperatorPatch } from '../lifecycle/provisioner.js';

export type ProvisionerPort = Pick<
  Provisioner,
  | 'enroll'
  | 'reportProgress'
  | 'reportInstalled'
  | 'reportFailed'
  | 'bootComplete'
  | 'setState'
  | 'patch'
  | 'setOverride'
  | 'decommission'
  | 'declare'
  | 'requestRescue'
  | 'rescueServed'
  | 'failsafeServed'
  | 'failsafeCleared'
>;

/** dnsmasq's health as /api/v1/status shows it (dnsmasq/service.ts DnsmasqStatus fits). */
export interface DnsmasqHealth {
  running: boolean;
  restarts: number;
  pid?: number;
  lastError?: string;
  [more: string]: unknown;
}
