import { CocoonError } from '../util/errors.js';
import { isIPv4 } from '../util/ipv4.js';
import { normalizeMac } from '../util/mac.js';

/**
 * What the hardware agent POSTs to /enroll: the facts the server needs to identify, address and
 * configure the machine. `hardware` is free-form (CPU, memory, disks, …) and stored as reported.
 */
export interface EnrollmentReport {
  /** DMI serials: product (system), chassis, board; placeholders are fine, enrollment skips them. */
  serial: { product?: string; chassis?: string; board?: string };
  /** SMBIOS system UUID. */
  uuid?: string;
  /** Network interfaces with their MAC addresses. */
  macs: { name: string; mac: string }[];
  /** Name of the interface the machine booted from (one of `macs`). */
  connectedNic?: string;
  /** BMC address, if the agent could read it. */
  ipmiAddr?: string;
  hardware?: Record<string, unknown>;
}

const MAX_TEXT = 256;
const MAX_MACS = 64;
const MAX_HARDWARE_BYTES = 256 * 1024;
const NIC_NAME = /^[A-Za-z0-9._:@-]{1,64}$/;

function fail(field: string, value: unknown, allowed: string): never {
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  if (shown.length > 120) shown = `${shown.slice(0, 117)}...`;
  throw new CocoonError('invalid', `${field}: ${shown} is not allowed; expected ${allowed}`, field);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optText(obj: Record<string, unknown>, key: string, field: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > MAX_TEXT) fail(field, v, `a string of at most ${MAX_TEXT} characters`);
  return v;
}

/**
 * Checks an untrusted body and returns a clean EnrollmentReport (MACs normalised to lower case
 * with colons). Every error is a CocoonError 'invalid' naming the field, the value and what is
 * allowed. Unknown top-level fields are ignored so newer agents still enroll.
 */
export function validateEnrollmentReport(input: unknown): EnrollmentReport {
  if (!isObject(input)) fail('(body)', input, 'a JSON object');
  const agentShape = Array.isArray(input.nics) && input.macs === undefined;
  const body = agentShape ? fromAgentFacts(input) : input;
  const list = agentShape ? 'nics' : 'macs';
  const serialIn = body.serial ?? {};
  if (!isObject(serialIn)) fail('serial', serialIn, 'an object {product?, chassis?, board?}');
  const serial: EnrollmentReport['serial'] = {};
  for (const k of ['product', 'chassis', 'board'] as const) {
    const v = optText(serialIn, k, `serial.${k}`);
    if (v !== undefined) serial[k] = v;
  }
  const uuid = optText(body, 'uuid', 'uuid') || undefined;

  const macsIn = body.macs;
  if (!Array.isArray(macsIn) || macsIn.length === 0 || macsIn.length > MAX_MACS) {
    fail(list, macsIn, `a list of 1 to ${MAX_MACS} {name, mac} objects`);
  }
  const macs: EnrollmentReport['macs'] = [];
  const names = new Set<string>();
  macsIn.forEach((m: unknown, i: number) => {
    if (!isObject(m)) fail(`${list}[${i}]`, m, 'an object {name, mac}');
    if (typeof m.name !== 'string' || !NIC_NAME.test(m.name)) fail(`${list}[${i}].name`, m.name, 'an interface name (1-64 of A-Z a-z 0-9 . _ : @ -)');
    const mac = typeof m.mac === 'string' ? normalizeMac(m.mac) : undefined;
    if (!mac) fail(`${list}[${i}].mac`, m.mac, 'a MAC address like 52:54:00:12:34:56');
    if (names.has(m.name)) fail(`${list}[${i}].name`, m.name, 'a name not used by another entry');
    names.add(m.name);
    macs.push({ name: m.name, mac });
  });

  // The agent names the interface with the default route; a bond or VLAN on top of a NIC is
  // not in `macs`, so an unknown name is kept but does not choose the primary MAC.
  const connectedNic = optText(body, 'connectedNic', 'connectedNic') || undefined;
  if (connectedNic !== undefined && !NIC_NAME.test(connectedNic)) fail('connectedNic', connectedNic, 'an interface name (1-64 of A-Z a-z 0-9 . _ : @ -)');

  const ipmiAddr = optText(body, 'ipmiAddr', 'ipmiAddr');
  if (ipmiAddr !== undefined && ipmiAddr !== '' && !isIPv4(ipmiAddr)) fail('ipmiAddr', ipmiAddr, 'an IPv4 address or ""');

  let hardware: Record<string, unknown> | undefined;
  if (body.hardware !== undefined && body.hardware !== null) {
    if (!isObject(body.hardware)) fail('hardware', body.hardware, 'an object of hardware facts');
    const size = Buffer.byteLength(JSON.stringify(body.hardware));
    if (size > MAX_HARDWARE_BYTES) fail('hardware', `${size} bytes`, `at most ${MAX_HARDWARE_BYTES} bytes of facts`);
    hardware = body.hardware;
  }

  const out: EnrollmentReport = { serial, macs };
  if (uuid !== undefined) out.uuid = uuid;
  if (connectedNic !== undefined) out.connectedNic = connectedNic;
  if (ipmiAddr !== undefined && ipmiAddr !== '') out.ipmiAddr = ipmiAddr;
  if (hardware !== undefined) out.hardware = hardware;
  return out;
}

/**
 * The first-stage agent posts its facts as they come from the hardware (packages/first-stage,
 * AgentFacts: `nics` with driver/link details, `ipmiAddress`, cpu/memory/disks at top level).
 * They map onto the report; everything that is not identity or addressing is kept as hardware.
 */
function fromAgentFacts(facts: Record<string, unknown>): Record<string, unknown> {
  const nics = facts.nics as unknown[];
  const { serial, uuid, connectedNic, ipmiAddress, serialHint: _hint, ...hardware } = facts;
  return {
    serial,
    uuid,
    connectedNic,
    ipmiAddr: ipmiAddress,
    macs: nics.map((n, i) => {
      if (!isObject(n)) fail(`nics[${i}]`, n, 'an object {name, mac, ...}');
      return { name: n.name, mac: n.mac };
    }),
    hardware,
  };
}

/** The MAC of the interface that booted, else the first reported one. */
export function primaryMac(report: EnrollmentReport): string | undefined {
  const booted = report.connectedNic ? report.macs.find((m) => m.name === report.connectedNic) : undefined;
  return (booted ?? report.macs[0])?.mac;
}
