import { formatBytes } from './output.js';

/**
 * A few summary lines from the agent's hardware facts. The facts are the agent's document (issue 6);
 * only what an operator scans for is picked out, and missing parts are skipped rather than guessed.
 */
export function summarizeHardware(hw: Record<string, unknown> | undefined): [string, string][] {
  if (!hw || typeof hw !== 'object') return [];
  const out: [string, string][] = [];
  const obj = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : typeof v === 'number' ? String(v) : undefined);
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const list = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.map(obj).filter((x): x is Record<string, unknown> => !!x) : []);

  // The agent reports vendor/productName at the top level (packages/first-stage/src/facts.ts).
  const dmi = obj(hw.dmi) ?? obj(hw.system) ?? hw;
  const system = [str(dmi.vendor), str(dmi.productName) ?? str(dmi.product)].filter(Boolean).join(' ');
  const firmware = str(hw.firmware) ?? str(obj(hw.firmware)?.mode);
  const bios = str(dmi.biosVersion);
  if (system || firmware) out.push(['System', [system, firmware ? `(${firmware}${bios ? ` ${bios}` : ''})` : ''].filter(Boolean).join(' ')]);

  const cpu = obj(hw.cpu);
  if (cpu) {
    const parts = [str(cpu.model)];
    const counts = ([['socket', cpu.sockets], ['core', cpu.cores], ['thread', cpu.threads]] as const)
      .map(([k, n]) => [k, num(n)] as const)
      .filter(([, n]) => n !== undefined)
      .map(([k, n]) => `${n} ${k}${n === 1 ? '' : 's'}`);
    if (counts.length) parts.push(counts.join(', '));
    out.push(['CPU', parts.filter(Boolean).join(', ')]);
  }

  const mem = obj(hw.memory);
  const memBytes = num(hw.memoryBytes) ?? num(mem?.totalBytes) ?? num(hw.memory);
  if (memBytes !== undefined) out.push(['Memory', formatBytes(memBytes)]);

  const disks = list(hw.disks);
  if (disks.length) {
    out.push([
      'Disks',
      disks
        .map((d) => {
          const size = formatBytes(num(d.sizeBytes) ?? num(d.size));
          const kind = d.rotational === true ? 'hdd' : d.rotational === false ? 'ssd' : undefined;
          return [str(d.name) ?? '?', size, kind, d.removable === true ? 'removable' : undefined, str(d.model)].filter(Boolean).join(' ');
        })
        .join('; '),
    ]);
  }

  const nics = list(hw.nics);
  if (nics.length) {
    out.push([
      'NICs',
      nics
        .map((n) => {
          const speed = num(n.speedMbps);
          const connected = str(hw.connectedNic) === str(n.name) ? '(connected)' : undefined;
          return [str(n.name) ?? '?', str(n.mac), str(n.link), speed !== undefined && speed > 0 ? `${speed}Mb/s` : undefined, connected].filter(Boolean).join(' ');
        })
        .join('; '),
    ]);
  }
  const kernel = str(hw.kernel);
  if (kernel) out.push(['Kernel', kernel]);
  return out;
}
