/**
 * What the HTTP layer needs from services built elsewhere, stated narrowly so the apps can be
 * composed (and tested) with the real services and nothing more.
 */
export interface DnsmasqHealth {
  running: boolean;
  restarts: number;
  pid?: number;
  lastError?: string;
  [more: string]: unknown;
}
