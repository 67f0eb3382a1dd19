import { CocoonError } from '../util/errors.js';
import { intToIp, ipToInt, isIPv4, networkBounds } from '../util/ipv4.js';

export interface IpAllocatorOptions {
  range: { start: string; end: string };
  /** Prefix length of the node network (config network.subnet_size). */
  prefix: number;
  /** Addresses never handed out: gateway, router, the provisioner's bind address, DNS… */
  reserved?: (string | undefined)[];
}

/**
 * Hands out node addresses from `ip_range`. Ownership is by serial, so asking twice for the same
 * machine gives the same address, and a reservation made under the store's allocation lock counts
 * before the record is written. A cursor walks the range once and freed addresses are reused
 * first: each allocation is O(1) amortised however large the fleet.
 */
export class IpAllocator {
  private readonly start: number;
  private readonly end: number;
  private readonly skip = new Set<number>();
  private readonly owner = new Map<number, string>();
  private readonly bySerial = new Map<string, number>();
  /** Addresses behind the cursor that became free again. */
  private readonly freed = new Set<number>();
  private cursor: number;

  constructor(private readonly opts: IpAllocatorOptions) {
    this.start = ipToInt(opts.range.start);
    this.end = ipToInt(opts.range.end);
    if (this.end < this.start) {
      throw new CocoonError('invalid', `network.ip_range: end ${opts.range.end} is before start ${opts.range.start}`, 'network.ip_range');
    }
    const { network, broadcast } = networkBounds(opts.range.start, opts.prefix);
    this.skip.add(network).add(broadcast);
    for (const r of opts.reserved ?? []) if (r && isIPv4(r)) this.skip.add(ipToInt(r));
    this.cursor = this.start;
  }

  inRange(ip: string): boolean {
    if (!isIPv4(ip)) return false;
    const n = ipToInt(ip);
    return n >= this.start && n <= this.end;
  }

  isReserved(ip: string): boolean {
    return isIPv4(ip) && this.skip.has(ipToInt(ip));
  }

  addressOf(serial: string): string | undefined {
    const n = this.bySerial.get(serial);
    return n === undefined ? undefined : intToIp(n);
  }

  ownerOf(ip: string): string | undefined {
    return isIPv4(ip) ? this.owner.get(ipToInt(ip)) : undefined;
  }

  /** Addresses in use (inside or outside the range). */
  get used(): number {
    return this.owner.size;
  }

  /** The machine's address, allocating the next free one in the range if it has none. */
  allocate(serial: string): string {
    const have = this.bySerial.get(serial);
    if (have !== undefined) return intToIp(have);
    for (const n of this.freed) {
      this.freed.delete(n);
      if (!this.owner.has(n)) {
        this.take(serial, n);
        return intToIp(n);
      }
    }
    while (this.cursor <= this.end) {
      const n = this.cursor++;
      if (this.skip.has(n) || this.owner.has(n)) continue;
      this.take(serial, n);
      return intToIp(n);
    }
    throw new CocoonError(
      'exhausted',
      `network.ip_range ${this.opts.range.start}-${this.opts.range.end} has no free address left for machine ${JSON.stringify(serial)} (${this.used} addresses in use); widen the range or decommission machines`,
      'network.ip_range',
    );
  }

  /**
   * Gives `ip` to `serial` (a declared or operator-chosen address). Throws 'conflict' if another
   * machine holds it, 'invalid' for a reserved address.
   */
  assign(serial: string, ip: string, field = 'InternalAddr'): void {
    if (!isIPv4(ip)) throw new CocoonError('invalid', `${field}: ${JSON.stringify(ip)} is not an IPv4 address`, field);
    const n = ipToInt(ip);
    if (this.skip.has(n)) throw new CocoonError('invalid', `${field}: ${ip} is reserved (network, broadcast, gateway or provisioner address)`, field);
    const other = this.owner.get(n);
    if (other !== undefined && other !== serial) {
      throw new CocoonError('conflict', `${field}: ${ip} is already used by machine ${JSON.stringify(other)}`, field);
    }
    this.release(serial);
    this.take(serial, n);
  }

  /** Makes the allocator agree with a stored record (no checks: the store is the truth). */
  sync(serial: string, ip: string | undefined): void {
    const cur = this.bySerial.get(serial);
    const n = ip && isIPv4(ip) ? ipToInt(ip) : undefined;
    if (cur === n) return;
    this.release(serial);
    if (n !== undefined) {
      const other = this.owner.get(n);
      if (other !== undefined) this.bySerial.delete(other);
      this.take(serial, n);
    }
  }

  release(serial: string): void {
    const n = this.bySerial.get(serial);
    if (n === undefined) return;
    this.bySerial.delete(serial);
    if (this.owner.get(n) === serial) this.owner.delete(n);
    if (n < this.cursor && n >= this.start && n <= this.end) this.freed.add(n);
  }

  private take(serial: string, n: number): void {
    this.owner.set(n, serial);
    this.bySerial.set(serial, n);
  }
}
