/** Events: what happened to which machine, from dnsmasq's log, the server or the agent. */

export type EventSource = 'dnsmasq' | 'server' | 'agent';

/**
 * Known event types. `raw` is a dnsmasq line the parser did not recognise (kept, never dropped);
 * `dnsmasq-info` is a recognised informational dnsmasq line (start-up, hosts files read, …).
 */
export const EVENT_TYPES = [
  'dhcp-discover',
  'dhcp-offer',
  'dhcp-request',
  'dhcp-ack',
  'dhcp-nak',
  'dhcp-ignored',
  'dhcp-release',
  'dhcp-decline',
  'dhcp-inform',
  'pxe',
  'tftp-sent',
  'tftp-failed',
  'tftp-aborted',
  'dnsmasq-error',
  'dnsmasq-info',
  'dnsmasq-exit',
  'raw',
  'state-change',
  'enrolled',
  'progress',
  'installed',
  'failed',
  'boot-complete',
  'http-boot',
  'declared',
  'decommissioned',
  'rescue-served',
  'failsafe',
  'failsafe-cleared',
] as const;

export type KnownEventType = (typeof EVENT_TYPES)[number];

export interface CocoonEvent {
  /** Monotonic per process; SSE uses it as the event id (Last-Event-ID replay). */
  id: number;
  /** ISO 8601 time the event was published. */
  time: string;
  source: EventSource;
  type: KnownEventType | (string & {});
  mac?: string;
  serial?: string;
  ip?: string;
  message: string;
  data?: Record<string, unknown>;
}

/** What a publisher supplies; the bus assigns id and time (and the serial, from the MAC). */
export type EventInput = Omit<CocoonEvent, 'id' | 'time'> & { time?: string };

export interface EventFilter {
  mac?: string;
  serial?: string;
  /** One type or any of several. */
  type?: string | readonly string[];
  source?: EventSource;
}

/** Lets the bus attach MAC-only events (dnsmasq) to machines, and find a machine's MACs. */
export interface MachineResolver {
  serialForMac(mac: string): string | undefined;
  macsForSerial(serial: string): readonly string[];
}
