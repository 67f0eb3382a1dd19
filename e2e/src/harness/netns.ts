import { run } from './exec.js';
import { onEmergency, deleteNetnsNow } from './cleanup.js';

/**
 * A private L2 network for guests: one network namespace holding a bridge with the
 * provisioner's address and one tap device per guest. No uplink, no veth to the host
 * namespace, no forwarding: nothing in it can reach the host's networks, and a DHCP server
 * bound to its bridge cannot answer anyone else. Addresses can be the same in every
 * namespace (each has its own stack); only the namespace name must be unique.
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

export const NETNS_PREFIX = 'cocoon-e2e-';

export interface NetworkOptions {
  /** Short purpose, part of the namespace name (letters, digits, -). */
  purpose: string;
  /** Default 10.77.0.1/24 (the example config's network). */
  address?: string;
  prefix?: number;
  /** Full namespace name instead of cocoon-e2e-<purpose>-<pid>-<n> (the lab uses a fixed one). */
  name?: string;
}

let counter = 0;

async function namespaces(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out.split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes namespaces an earlier run left behind (killed with SIGKILL, so its exit handlers
 * never ran): only ours by name, and only those whose creating process is gone.
 */
export async function removeStaleNamespaces(): Promise<string[]> {
  const removed: string[] = [];
  for (const ns of await namespaces()) {
    if (!ns.startsWith(NETNS_PREFIX)) continue;
    const m = /-(\d+)-\d+$/.exec(ns);
    if (!m || pidAlive(Number(m[1]))) continue;
    deleteNetnsNow(ns);
    removed.push(ns);
  }
  return removed;
}

export async function createNetwork(opts: NetworkOptions): Promise<LabNetwork> {
  if (!/^[a-z0-9-]{1,16}$/.test(opts.purpose)) throw new Error(`netns purpose ${JSON.stringify(opts.purpose)}: use 1-16 of a-z, 0-9, -`);
  const name = opts.name ?? `${NETNS_PREFIX}${opts.purpose}-${process.pid}-${counter++}`;
  const address = opts.address ?? '10.77.0.1';
  const prefix = opts.prefix ?? 24;
  const bridge = 'br0';
  if ((await namespaces()).includes(name)) {
    if (opts.name) deleteNetnsNow(name); // a fixed name (the lab) left over from an earlier run
    else throw new Error(`network namespace ${name} exists already`);
  }
  await run('ip', ['netns', 'add', name]);
  const unregister = onEmergency(() => deleteNetnsNow(name));
  const ipn = (...args: string[]) => run('ip', ['-n', name, ...args]);
  try {
    await ipn('link', 'set', 'lo', 'up');
    await ipn('link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
    await ipn('addr', 'add', `${address}/${prefix}`, 'dev', bridge);
    // dnsmasq's router adverts need an IPv6 address on the bridge; iPXE then stops waiting for
    // IPv6 autoconfiguration at once instead of after ~10 s (fast_test_network).
    await ipn('addr', 'add', 'fd77::1/64', 'dev', bridge, 'nodad');
    await ipn('link', 'set', bridge, 'up');
  } catch (err) {
    deleteNetnsNow(name);
    unregister();
    throw err;
  }
  let taps = 0;
  let destroyed = false;
  return {
    name,
    bridge,
    address,
    prefix,
    async addTap() {
      const tap = `tap${taps++}`;
      await ipn('tuntap', 'add', 'dev', tap, 'mode', 'tap');
      await ipn('link', 'set', tap, 'master', bridge);
      await ipn('link', 'set', tap, 'up');
      return tap;
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      // Anything still inside (a process that ignored SIGTERM) is killed with the namespace.
      deleteNetnsNow(name);
      unregister();
      if ((await namespaces()).includes(name)) throw new Error(`network namespace ${name} could not be deleted`);
    },
  };
}
