import { execFile } from 'node:child_process';

/**
 * The BMC's address from `ipmitool lan print`. Machines without ipmitool, without a BMC or
 * without the kernel IPMI driver simply have none: every failure reads as undefined.
 */
export function collectIpmiAddress(command = 'ipmitool', timeoutMs = 15_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, ['lan', 'print'], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout) => {
      if (err) return resolve(undefined);
      resolve(parseLanPrint(stdout));
    });
  });
}

export function parseLanPrint(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^IP Address\s*:\s*(\d{1,3}(?:\.\d{1,3}){3})\s*$/.exec(line.trim());
    if (m && m[1] !== '0.0.0.0') return m[1];
  }
  return undefined;
}
