import { createTestNetwork } from '@cocoon/server/testing/netns';
import { run } from './exec.js';
import { onEmergency, deleteNetnsNow } from './cleanup.js';

/**
 * A private L2 network for guests: one network namespace holding a bridge with the
 * provisioner's address and one tap device per guest. No uplink, no veth to the host
 * namespace, no forwarding: nothing in it can reach the host's networks, and a DHCP server
 * bound to its bridge cannot answer anyone else. Addresses can be the same in every
 * namespace (each has its own stack); only the namespace name must be unique.
 * Built on the server's shared test-network helper (packages/server/src/testing/netns.ts).
 */
export interface LabNetwork {
  readonly name: string;
  readonly bridge: string;
  /** The provisioner's address on the bridge. */
  readonly address: string;
  readonly prefix: number;
  /** Creates the next tap device, attached to the bridge and up. */
  addTap(): Promise<string>;
  /** Deletes the namespace (and with it the bridge and taps). Processes must be stopped first. */
  destroy(): Promise<void>;
}

/** Namespace purposes of this package: cocoon-<purpose>-<pid>-<n>. */
const OUR_PURPOSES = /^cocoon-(e2e-[a-z0-9-]+|lab)-(\d+)-\d+$/;

export interface NetworkOptions {
  /** Part of the namespace name: cocoon-<purpose>-<pid>-<n> (e2e-install, lab …). */
  purpose: string;
  /** Default 10.77.0.1/24 (the example config's network). */
  address?: string;
  prefix?: number;
}

async function namespaces(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out.split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean);
}

/** Whether a process exists (EPERM means it does, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes namespaces an earlier e2e run or lab left behind (killed with SIGKILL, so its exit
 * handlers never ran): only ours by name, and only those whose creating process is gone.
 */
export async function removeStaleNamespaces(): Promise<string[]> {
  const removed: string[] = [];
  for (const ns of await namespaces()) {
    const m = OUR_PURPOSES.exec(ns);
    if (!m || pidAlive(Number(m[2]))) continue;
    deleteNetnsNow(ns);
    removed.push(ns);
  }
  return removed;
}

export async function createNetwork(opts: NetworkOptions): Promise<LabNetwork> {
  if (!/^[a-z0-9-]{1,24}$/.test(opts.purpose)) throw new Error(`netns purpose ${JSON.stringify(opts.purpose)}: use 1-24 of a-z, 0-9, -`);
  const address = opts.address ?? '10.77.0.1';
  const prefix = opts.prefix ?? 24;
  // The IPv6 address lets dnsmasq send router adverts (fast_test_network): iPXE then stops
  // waiting for IPv6 autoconfiguration at once instead of after ~10 s.
  const net = await createTestNetwork({ purpose: opts.purpose, serverIp: address, prefix, ipv6: 'fd77::1/64' });
  const name = net.ns;
  const unregister = onEmergency(() => deleteNetnsNow(name));
  let taps = 0;
  let destroyed = false;
  return {
    name,
    bridge: net.bridge,
    address,
    prefix,
    addTap: () => net.addTap(`tap${taps++}`),
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      // Anything still inside (a process that ignored SIGTERM) is killed with the namespace.
      await net.destroy();
      unregister();
      if ((await namespaces()).includes(name)) throw new Error(`network namespace ${name} could not be deleted`);
    },
  };
}
