import { CocoonError } from '../util/errors.js';
import { normalizeMac } from '../util/mac.js';

/**
 * A machine's identity is its DMI serial, lower-cased, or a fallback when the vendor left a
 * placeholder there. Identities become directory names in the cluster dir, so they are checked
 * against a strict character set; anything path-like is refused outright.
 */

export type IdentitySource = 'product' | 'chassis' | 'board' | 'uuid' | 'mac';

export interface IdentityCandidates {
  product?: string | undefined;
  chassis?: string | undefined;
  board?: string | undefined;
  uuid?: string | undefined;
  /** The primary MAC (the one that PXE-booted, else the first). */
  mac?: string | undefined;
}

export interface Identity {
  serial: string;
  source: IdentitySource;
}

/** Placeholders firmware vendors leave in DMI serial fields (compared lower case, trimmed). */
const JUNK_SERIALS = new Set([
  '',
  '0',
  '00000000',
  '0123456789',
  '1234567890',
  'not specified',
  'not applicable',
  'not available',
  'to be filled by o.e.m.',
  'to be filled by oem',
  'none',
  'n/a',
  'na',
  'system serial number',
  'chassis serial number',
  'base board serial number',
  'default string',
  'serial',
  'unknown',
  'invalid',
  'oem',
  'x',
]);

/** UUIDs firmware reports when it has none (all zeros, all ones, the well-known test pattern). */
const JUNK_UUIDS = new Set([
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '03000200-0400-0500-0006-000700080009',
  '01234567-89ab-cdef-0123-456789abcdef',
]);

/** The identity alphabet: lower-case letters, digits, dot, dash, underscore; starts alphanumeric. */
const IDENTITY = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isValidIdentity(serial: string): boolean {
  return IDENTITY.test(serial) && serial !== 'cluster.json';
}

/** Path separators, parent references and control characters mean a hostile or corrupt report. */
function looksLikePath(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[/\\\u0000-\u001f\u007f]/.test(value) || value.includes('..');
}

export function isJunkSerial(value: string | undefined): boolean {
  if (value === undefined) return true;
  const v = value.trim().toLowerCase();
  if (JUNK_SERIALS.has(v)) return true;
  if (v.startsWith('vmware-')) return true; // VMware puts the UUID bytes with spaces here
  if (/^(.)\1*$/.test(v)) return true; // "00000", "xxxxxxx", "........"
  return false;
}

export function isJunkUuid(value: string | undefined): boolean {
  if (value === undefined) return true;
  const v = value.trim().toLowerCase();
  return !UUID.test(v) || JUNK_UUIDS.has(v);
}

/** The MAC as an identity: hex pairs joined by dashes (colons do not belong in directory names). */
export function macIdentity(mac: string): string | undefined {
  const m = normalizeMac(mac);
  return m?.replaceAll(':', '-');
}

/**
 * Picks the identity: product, chassis, board serial, then SMBIOS UUID, then primary MAC.
 * Throws CocoonError 'invalid' (naming the field and value) for a path-like candidate, and when
 * no usable identity is left.
 */
export function resolveIdentity(c: IdentityCandidates): Identity {
  const serialFields: ['product' | 'chassis' | 'board', string | undefined][] = [
    ['product', c.product],
    ['chassis', c.chassis],
    ['board', c.board],
  ];
  for (const [field, raw] of serialFields) {
    if (raw === undefined) continue;
    if (looksLikePath(raw)) {
      throw new CocoonError('invalid', `serial.${field}: ${JSON.stringify(raw)} contains path characters and is refused`, `serial.${field}`);
    }
    if (isJunkSerial(raw)) continue;
    const v = raw.trim().toLowerCase();
    // A real serial outside the alphabet (spaces, '#', …) cannot name a directory: fall through.
    if (isValidIdentity(v)) return { serial: v, source: field };
  }
  if (c.uuid !== undefined && looksLikePath(c.uuid)) {
    throw new CocoonError('invalid', `uuid: ${JSON.stringify(c.uuid)} contains path characters and is refused`, 'uuid');
  }
  if (!isJunkUuid(c.uuid)) return { serial: (c.uuid as string).trim().toLowerCase(), source: 'uuid' };
  const mac = c.mac === undefined ? undefined : macIdentity(c.mac);
  if (mac) return { serial: mac, source: 'mac' };
  throw new CocoonError(
    'invalid',
    `no usable identity: serials ${JSON.stringify([c.product, c.chassis, c.board])} are placeholders, uuid ${JSON.stringify(c.uuid)} is not usable and mac ${JSON.stringify(c.mac)} is not a MAC address`,
    'serial',
  );
}

/** Validates an identity that arrives in a URL or API call (already resolved by enrollment). */
export function assertIdentity(serial: unknown, field = 'serial'): asserts serial is string {
  if (typeof serial !== 'string' || !isValidIdentity(serial)) {
    throw new CocoonError('invalid', `${field}: ${JSON.stringify(serial)} is not a valid machine serial (a-z 0-9 . _ -, starting with a letter or digit)`, field);
  }
}
