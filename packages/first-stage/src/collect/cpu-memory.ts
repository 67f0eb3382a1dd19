import type { CpuFacts } from '../facts.js';
import type { SysRoot } from './sysfs.js';

/**
 * /proc/cpuinfo lists one block per logical CPU. Sockets are distinct "physical id"s, cores are
 * distinct (physical id, core id) pairs; VMs often omit both, then every logical CPU counts as a
 * core on one socket.
 */
export async function collectCpu(sys: SysRoot): Promise<CpuFacts> {
  const text = (await sys.text('proc/cpuinfo')) ?? '';
  let model = '';
  let threads = 0;
  const sockets = new Set<string>();
  const cores = new Set<string>();
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) fields.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    if (!fields.has('processor')) continue;
    threads++;
    if (!model) model = fields.get('model name') ?? fields.get('Model') ?? '';
    const socket = fields.get('physical id');
    const core = fields.get('core id');
    if (socket !== undefined) sockets.add(socket);
    if (core !== undefined) cores.add(`${socket ?? '0'}/${core}`);
  }
  return {
    model,
    sockets: Math.max(sockets.size, threads > 0 ? 1 : 0),
    cores: cores.size > 0 ? cores.size : threads,
    threads,
  };
}

export async function collectMemoryBytes(sys: SysRoot): Promise<number> {
  const text = (await sys.text('proc/meminfo')) ?? '';
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

export async function collectKernel(sys: SysRoot): Promise<string> {
  return (await sys.text('proc/sys/kernel/osrelease')) ?? '';
}
