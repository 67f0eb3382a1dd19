import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { EventBus } from '../events/bus.js';
import type { CocoonEvent } from '../events/types.js';
import type { CocoonConfig } from '../config/types.js';
import { createTestNetwork, canUseNetns, dhcpRequest, tftpGet, type TestNetwork } from '../testing/netns.js';
import { emptyRecord } from '../store/record.js';
import type { ClusterStore } from '../store/cluster-store.js';
import { labConfig } from '../testing/lab-config.js';
import { openTestStore } from '../testing/store-fixtures.js';
import { CocoonError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { createDnsmasqService, type DnsmasqService } from './service.js';
import { BUILTIN_DNSMASQ_TEMPLATE } from './render-config.js';
import { waitFor } from '../testing/wait.js';

// Real dnsmasq in a network namespace this test creates, real busybox clients in another one.
// COCOON_CAPTURE_FIXTURES=1 stores dnsmasq's output as the log parser's fixture.

const M1 = '52:54:00:c0:c0:01';
const AUDIT = { what: 'test' };
const skip = !canUseNetns() ? 'needs root and iproute2 (network namespaces)' : !existsSync('/usr/lib/ipxe/undionly.kpxe') ? 'needs Debian ipxe' : false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('dnsmasq supervised in a network namespace', { skip }, () => {
  let net: TestNetwork;
  let dir: string;
  let cfg: CocoonConfig;
  let store: ClusterStore;
  let bus: EventBus;
  let service: DnsmasqService;
  const events: CocoonEvent[] = [];
  const lines: string[] = [];
  const registry = new Registry();

  before(async () => {
    net = await createTestNetwork({ purpose: 'dnsmasq', clientMacs: [M1], ipv6: 'fd77::1/64' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'cocoon-dnsmasq-'));
    cfg = labConfig(dir, { fast_test_network: true, lease_time: '2m', host_policy: 'ignore-installed' }, { dnsmasq: { netns: net.ns } });
    store = await openTestStore(path.join(dir, 'cluster'));
    await store.mutate('vm-1', () => ({ ...emptyRecord('vm-1'), MacAddresses: [M1], State: 'installing' }), AUDIT);
    bus = new EventBus();
    bus.subscribe({}, (e) => events.push(e));
    const logger = createLogger({ level: 'error', format: 'json', silent: true });
    service = createDnsmasqService(cfg, store, bus, logger, {
      supervisor: { backoff: { initialMs: 100 }, stopGraceMs: 2000 },
      leaseCountIntervalMs: 200,
      onLine: (l) => lines.push(l),
    });
    service.registerMetrics(registry);
    await service.start();
  });

  after(async () => {
    const pid = service?.status().pid;
    await service?.stop();
    if (pid !== undefined) assert.equal(alive(pid), false, 'dnsmasq is gone after stop()');
    await net?.destroy();
    await store?.close();
    if (process.env.COCOON_CAPTURE_FIXTURES === '1' && lines.length > 0) {
      const out = fileURLToPath(new URL('../../src/dnsmasq/fixtures/integration-session.log', import.meta.url));
      writeFileSync(out, `${lines.join('\n')}\n`);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('starts with a PID, the TFTP root populated and the config installed', async () => {
    const s = service.status();
    assert.equal(s.running, true);
    assert.equal(typeof s.pid, 'number');
    assert.ok(readFileSync(path.join(dir, 'tftp', 'undionly.kpxe')).equals(readFileSync('/usr/lib/ipxe/undionly.kpxe')));
    assert.match(readFileSync(s.configFile, 'utf8'), new RegExp(`^interface=br0$`, 'm'));
    await waitFor('dnsmasq start-up line', () => events.find((e) => e.type === 'dnsmasq-info' && e.data?.kind === 'started'));
  });

  test('an ordinary client gets a lease from the bootstrap range and no boot file; DISCOVER→ACK on the bus', async () => {
    const r = await dhcpRequest(net, net.clients[0]!);
    assert.ok(r, 'no lease');
    const n = Number(r.ip.split('.')[3]);
    assert.ok(r.ip.startsWith('10.77.0.') && n >= 100 && n <= 150, `lease ${r.ip} outside the bootstrap range`);
    assert.equal(r.bootFile, '');
    assert.equal(r.router, '', 'no router configured: none announced');
    const ack = await waitFor('DHCPACK event', () => events.find((e) => e.type === 'dhcp-ack' && e.mac === M1));
    const types = events.filter((e) => e.mac === M1 && e.id <= ack.id).map((e) => e.type);
    assert.deepEqual(types.slice(-4), ['dhcp-discover', 'dhcp-offer', 'dhcp-request', 'dhcp-ack']);
    assert.equal(ack.serial, 'vm-1', 'attached to the machine by MAC');
    assert.equal(ack.ip, r.ip);
    assert.deepEqual(bus.timeline('vm-1').slice(-4).map((e) => e.type), ['dhcp-discover', 'dhcp-offer', 'dhcp-request', 'dhcp-ack']);
  });

  test('PXE clients get the boot file of their architecture; iPXE gets the /ipxe URL', async () => {
    const bios = await dhcpRequest(net, net.clients[0]!, { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', clientArch: 0 });
    assert.equal(bios?.bootFile, 'undionly.kpxe');
    assert.equal(bios?.siaddr, '10.77.0.1');
    const efi = await dhcpRequest(net, net.clients[0]!, { vendorClass: 'PXEClient:Arch:00007:UNDI:003016', clientArch: 7 });
    assert.equal(efi?.bootFile, 'ipxe.efi');
    const ipxe = await dhcpRequest(net, net.clients[0]!, { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', clientArch: 0, options: ['175:0101'] });
    assert.equal(ipxe?.bootFile, `${cfg.http.boot.public_url}/ipxe`);
    // Architecture without vendor class PXEClient: an ordinary client, no boot file.
    const plain = await dhcpRequest(net, net.clients[0]!, { clientArch: 7 });
    assert.equal(plain?.bootFile, '');
    const ack = await waitFor('ACK with ipxe.efi', () => events.find((e) => e.type === 'dhcp-ack' && e.data?.bootFile === 'ipxe.efi'));
    assert.equal(ack.data?.clientArch, 7);
  });

  test('TFTP serves undionly.kpxe byte-identical', async () => {
    const local = path.join(dir, 'fetched.kpxe');
    await tftpGet(net, net.clients[0]!, '10.77.0.9', 'undionly.kpxe', local);
    assert.ok(readFileSync(local).equals(readFileSync('/usr/lib/ipxe/undionly.kpxe')));
    const sent = await waitFor('tftp-sent event', () => events.find((e) => e.type === 'tftp-sent'));
    assert.equal(sent.data?.name, 'undionly.kpxe');
  });

  test('an installed machine is ignored, and answered again after un-ignoring, without a restart', async () => {
    const pid = service.status().pid;
    await store.mutate('vm-1', (cur) => ({ ...cur!, State: 'installed' }), AUDIT);
    await service.hostsDir.idle();
    await waitFor('inotify pick-up', () => events.find((e) => e.data?.kind === 'file-read' && String(e.data?.file).endsWith('52-54-00-c0-c0-01')));
    assert.equal(await dhcpRequest(net, net.clients[0]!, { tries: 2 }), undefined, 'an ignored MAC gets no answer');
    await waitFor('dhcp-ignored event', () => events.find((e) => e.type === 'dhcp-ignored' && e.mac === M1));

    const hupsBefore = service.status().sighups;
    await store.mutate('vm-1', (cur) => ({ ...cur!, State: 'configured' }), AUDIT);
    await service.hostsDir.idle();
    await waitFor('SIGHUP', () => service.status().sighups > hupsBefore);
    const again = await dhcpRequest(net, net.clients[0]!);
    assert.ok(again, 'answered again after un-ignoring');
    assert.equal(service.status().pid, pid, 'same dnsmasq process');
    assert.equal(service.status().restarts, 0);
  });

  test('leases are counted', async () => {
    await waitFor('lease count', () => (service.status().leases ?? 0) >= 1);
  });

  test('an invalid template is refused with dnsmasq’s message and the running dnsmasq keeps its PID', async () => {
    const pid = service.status().pid;
    const tpl = path.join(dir, 'broken.conf.njk');
    writeFileSync(tpl, `${readFileSync(BUILTIN_DNSMASQ_TEMPLATE, 'utf8')}\nthis-is-not-an-option=1\n`);
    const broken: CocoonConfig = { ...cfg, dnsmasq: { ...cfg.dnsmasq, template: tpl } };
    await assert.rejects(service.reload(broken), (err: unknown) => err instanceof CocoonError && err.kind === 'invalid' && /bad option at line \d+/.test(err.message));
    assert.equal(service.status().pid, pid);
    assert.equal(service.status().running, true);
    assert.equal(alive(pid!), true);
    // The same config again changes nothing: no restart.
    assert.deepEqual(await service.reload(cfg), { restarted: false });
    assert.equal(service.status().pid, pid);
  });

  test('a valid config change restarts dnsmasq with the new configuration', async () => {
    const pid = service.status().pid;
    const changed: CocoonConfig = { ...cfg, network: { ...cfg.network, router: '10.77.0.254' } };
    assert.deepEqual(await service.reload(changed), { restarted: true });
    const newPid = service.status().pid;
    assert.notEqual(newPid, pid);
    assert.equal(alive(pid!), false);
    const r = await dhcpRequest(net, net.clients[0]!);
    assert.equal(r?.router, '10.77.0.254');
    cfg = changed;
  });

  test('SIGKILL of dnsmasq: a new one within 2 s, the exit recorded', async () => {
    const pid = service.status().pid!;
    const restarts = service.status().restarts;
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const s = await waitFor('a new dnsmasq', () => {
      const st = service.status();
      return st.running && st.pid !== pid && st;
    }, { timeoutMs: 2000 });
    assert.ok(Date.now() - killedAt <= 2000);
    assert.equal(s.restarts, restarts + 1);
    assert.match(s.lastExit?.reason ?? '', /SIGKILL/);
    assert.ok(events.some((e) => e.type === 'dnsmasq-exit'));
    const r = await dhcpRequest(net, net.clients[0]!);
    assert.ok(r, 'the new dnsmasq answers');
    const metrics = await registry.metrics();
    assert.match(metrics, /^cocoon_dnsmasq_up 1$/m);
    assert.match(metrics, /^cocoon_dnsmasq_restarts_total 1$/m);
  });

  test('a config reload can turn dnsmasq off and on again', async () => {
    const pid = service.status().pid!;
    const off: CocoonConfig = { ...cfg, dnsmasq: { ...cfg.dnsmasq, enabled: false } };
    assert.deepEqual(await service.reload(off), { restarted: true });
    assert.equal(alive(pid), false);
    assert.equal(service.status().state, 'disabled');
    assert.equal(await dhcpRequest(net, net.clients[0]!, { tries: 1 }), undefined);
    assert.deepEqual(await service.reload(cfg), { restarted: true });
    assert.equal(service.status().running, true);
    assert.ok(await dhcpRequest(net, net.clients[0]!), 'answers again');
  });
});

describe('dnsmasq in proxy-DHCP mode', { skip }, () => {
  let net: TestNetwork;
  let dir: string;
  let store: ClusterStore;
  let service: DnsmasqService;
  const events: CocoonEvent[] = [];
  const lines: string[] = [];

  before(async () => {
    net = await createTestNetwork({ purpose: 'dnsproxy', clientMacs: [M1] });
    dir = mkdtempSync(path.join(os.tmpdir(), 'cocoon-dnsproxy-'));
    const cfg = labConfig(dir, { proxy_dhcp: true }, { dnsmasq: { netns: net.ns } });
    store = await openTestStore(path.join(dir, 'cluster'), false);
    const bus = new EventBus();
    bus.subscribe({}, (e) => events.push(e));
    service = createDnsmasqService(cfg, store, bus, createLogger({ level: 'error', format: 'json', silent: true }), { onLine: (l) => lines.push(l) });
    await service.start();
  });

  after(async () => {
    await service?.stop();
    await net?.destroy();
    await store?.close();
    if (process.env.COCOON_CAPTURE_FIXTURES === '1' && lines.length > 0) {
      writeFileSync(fileURLToPath(new URL('../../src/dnsmasq/fixtures/proxy-session.log', import.meta.url)), `${lines.join('\n')}\n`);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('hands out no address; answers PXE clients by architecture and iPXE with the URL, ignores others', async () => {
    const client = net.clients[0]!;
    assert.equal(await dhcpRequest(net, client, { tries: 1 }), undefined, 'proxy mode gives no address');
    await dhcpRequest(net, client, { tries: 1, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', clientArch: 0 });
    await dhcpRequest(net, client, { tries: 1, vendorClass: 'PXEClient:Arch:00007:UNDI:003016', clientArch: 7 });
    await dhcpRequest(net, client, { tries: 1, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', clientArch: 0, options: ['175:0101'] });
    await waitFor('PXE replies', () => events.filter((e) => e.type === 'pxe').length >= 3);
    const pxe = events.filter((e) => e.type === 'pxe');
    assert.ok(pxe.every((e) => e.mac === M1 && e.data?.detail === 'proxy'));
    assert.deepEqual(pxe.map((e) => e.data?.clientArch), [0, 7, 0]);
    assert.ok((pxe[0]!.data?.tags as string[]).includes('bios'));
    assert.ok((pxe[1]!.data?.tags as string[]).includes('efi64'));
    assert.equal(pxe[2]!.data?.bootFile, 'http://10.77.0.1:4081/ipxe');
    assert.equal(events.filter((e) => e.type.startsWith('dhcp-')).length, 0, 'no address messages at all');
  });
});
