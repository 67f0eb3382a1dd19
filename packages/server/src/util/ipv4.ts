/** IPv4 arithmetic on 32-bit unsigned integers; no library in the stack does this. */

const OCTET = /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;

export function isIPv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => OCTET.test(p));
}

export function ipToInt(text: string): number {
  if (!isIPv4(text)) throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
  return text.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Network and broadcast address of `ip` in a /prefix network. */
export function networkBounds(ip: string, prefix: number): { network: number; broadcast: number } {
  const size = 2 ** (32 - prefix);
  const network = Math.floor(ipToInt(ip) / size) * size;
  return { network, broadcast: network + size - 1 };
}

export function prefixToNetmask(prefix: number): string {
  return intToIp(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
}

export function compareIp(a: string, b: string): number {
  return ipToInt(a) - ipToInt(b);
}
