import { randomBytes } from 'node:crypto';

/** A systemd-style machine-id: 32 lower-case hex digits, random. */
export function newMachineId(): string {
  return randomBytes(16).toString('hex');
}

export function isMachineId(value: string): boolean {
  return /^[0-9a-f]{32}$/.test(value);
}

/**
 * The hostname mayu-style: derived from the machine-id, so it is stable for the machine's life and
 * needs no naming scheme. Ten hex digits behind a fixed "00" prefix keep it a valid DNS label
 * that does not start with a letter-only word; collisions are checked by the caller.
 */
export function hostnameFromMachineId(machineId: string): string {
  return `00${machineId.slice(0, 10)}`;
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function isValidHostname(value: string): boolean {
  return HOSTNAME.test(value);
}
