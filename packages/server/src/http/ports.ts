import type { CocoonConfig, DeclaredMachine } from '../config/types.js';
import type { MachineState } from '../lifecycle/states.js';
import type { MachineRecord, MachineStore } from '../store/types.js';

/**
 * What the HTTP layer needs from the services built elsewhere (docs/architecture.md contracts),
 * stated narrowly: the composition root passes the real services, tests may pass the same.
 */

export type Machine = Readonly<MachineRecord>;

export interface OperatorAudit {
  operator: string;
  reason?: string;
}

/** Operator-settable fields (PATCH /api/v1/machines/:serial and mayu's set_* routes). */
export interface OperatorPatch {
  ProviderId?: string;
  IPMIAddr?: string;
  FleetMetadata?: string[];
  Cabinet?: number;
  MachineOnCabinet?: number;
  EtcdClusterToken?: string;
  Profile?: string;
  Hostname?: string;
  InternalAddr?: string;
  OSName?: string;
  OSVersion?: string;
}

export interface ProvisionerPort {
  enroll(report: never): Promise<Machine>;
  reportProgress(serial: string, message: string): void;
  reportInstalled(serial: string, info?: Record<string, unknown>): Promise<Machine>;
  reportFailed(serial: string, reason: string): Promise<Machine>;
  bootComplete(serial: string, versions: Record<string, string>): Promise<Machine>;
  setState(serial: string, state: MachineState, audit: OperatorAudit): Promise<Machine>;
  patch(serial: string, fields: OperatorPatch, audit: OperatorAudit): Promise<Machine>;
  setOverride(serial: string, key: string, value: unknown, audit: OperatorAudit): Promise<Machine>;
  decommission(serial: string, audit: OperatorAudit): Promise<void>;
  declare(decl: DeclaredMachine, audit: OperatorAudit): Promise<Machine>;
  requestRescue(serial: string, audit: OperatorAudit): Promise<Machine>;
  rescueServed(serial: string): Promise<Machine>;
}

export interface DnsmasqHealth {
  running: boolean;
  restarts: number;
  pid?: number;
  lastError?: string;
  [more: string]: unknown;
}

export interface HttpServices {
  config: CocoonConfig;
  store: MachineStore;
  version: string;
}
