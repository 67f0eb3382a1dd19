// Scenario 3: UEFI through the real TFTP path (OVMF's own PXE, no NIC ROM) up to enrollment.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { labSuite } from './harness/scenario.js';
import { PENDING } from './pending.js';

describe('UEFI through TFTP', () => {
  const suite = labSuite({ purpose: 'uefi' });

  test('3: OVMF PXE -> TFTP ipxe.efi -> iPXE -> HTTP -> enrollment', { skip: suite.skip, todo: PENDING.uefi, timeout: 600_000 }, suite.step(async (lab) => {
    const m = await lab.addMachine({ firmware: 'uefi' });
    m.powerOn();
    const enrolled = await lab.waitForState(m, 'installing', 420_000);
    await m.powerOff();
    assert.ok(enrolled.MacAddresses.map((x) => x.toLowerCase()).includes(m.spec.mac));
    assert.match(JSON.stringify(enrolled.Hardware ?? {}), /uefi/i, 'the agent saw UEFI firmware');
    const events = await lab.timeline(m.spec.serial);
    const tftp = events.filter((e) => e.type === 'tftp-sent');
    assert.ok(tftp.some((e) => /ipxe\.efi/.test(e.message ?? '')), `dnsmasq sent ipxe.efi over TFTP: ${JSON.stringify(tftp)}`);
    const acks = events.filter((e) => e.type === 'dhcp-ack');
    assert.ok(acks.length >= 2, 'two DHCP exchanges: the firmware, then iPXE');
  }));
});
