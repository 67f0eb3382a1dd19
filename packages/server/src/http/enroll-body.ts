import type { JsonSchema } from './validate.js';
import type { EnrollmentReport } from '../lifecycle/enrollment-report.js';

/**
 * The enrollment bodies the boot port accepts and how they become the lifecycle's
 * EnrollmentReport: the agent's facts (packages/first-stage facts.ts) and mayu's infopusher body.
 */

const text = (max = 256): JsonSchema => ({ type: 'string', maxLength: max });

export const AGENT_FACTS_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['serial', 'nics'],
  properties: {
    serial: { type: 'object', properties: { product: text(), chassis: text(), board: text() } },
    uuid: text(64),
    firmware: { type: 'string', enum: ['bios', 'uefi'] },
    vendor: text(),
    productName: text(),
    board: text(),
    biosVersion: text(),
    nics: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      items: {
        type: 'object',
        required: ['name', 'mac'],
        properties: {
          name: text(64),
          mac: text(64),
          driver: text(),
          pciAddress: text(64),
          link: text(32),
          speedMbps: { type: ['integer', 'null'] },
        },
      },
    },
    connectedNic: text(64),
    ipmiAddress: text(64),
    cpu: { type: 'object' },
    memoryBytes: { type: 'number', minimum: 0 },
    disks: { type: 'array', maxItems: 256, items: { type: 'object' } },
    kernel: text(),
    serialHint: text(),
  },
};

export interface AgentFactsBody {
  serial: { product?: string; chassis?: string; board?: string };
  uuid?: string;
  nics: { name: string; mac: string; [k: string]: unknown }[];
  connectedNic?: string;
  ipmiAddress?: string;
  [fact: string]: unknown;
}

/** Identity and network facts go where the lifecycle reads them; everything is kept as Hardware. */
export function reportFromAgentFacts(f: AgentFactsBody): EnrollmentReport {
  const { serial, uuid, nics, connectedNic, ipmiAddress, serialHint: _hint, ...rest } = f;
  const report: EnrollmentReport = {
    serial,
    macs: nics.map((n) => ({ name: n.name, mac: n.mac })),
    hardware: { ...rest, nics },
  };
  if (uuid) report.uuid = uuid;
  if (connectedNic) report.connectedNic = connectedNic;
  if (ipmiAddress) report.ipmiAddr = ipmiAddress;
  return report;
}

export const INFOPUSHER_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['Serial', 'NetDevs'],
  properties: {
    Serial: text(),
    NetDevs: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      items: { type: 'object', required: ['Name', 'MacAddress'], properties: { Name: text(64), MacAddress: text(64) } },
    },
    IPMIAddress: { type: ['string', 'null'], maxLength: 64 },
    ConnectedNIC: text(64),
  },
};

export interface InfopusherBody {
  Serial: string;
  NetDevs: { Name: string; MacAddress: string }[];
  IPMIAddress?: string | null;
  ConnectedNIC?: string;
}

/** mayu's infopusher knows only the DMI serial, the NICs, the BMC address and the booted NIC. */
export function reportFromInfopusher(b: InfopusherBody): EnrollmentReport {
  const report: EnrollmentReport = {
    serial: { product: b.Serial },
    macs: b.NetDevs.map((n) => ({ name: n.Name, mac: n.MacAddress })),
  };
  if (b.ConnectedNIC) report.connectedNic = b.ConnectedNIC;
  // Go's net.IP marshals an absent address as null or "<nil>"; both mean none.
  if (b.IPMIAddress && b.IPMIAddress !== '<nil>') report.ipmiAddr = b.IPMIAddress;
  return report;
}
