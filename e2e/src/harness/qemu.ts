import { accessSync, constants, copyFileSync, existsSync, readFileSync, writeFileSync, mkdirSync, closeSync, openSync, ftruncateSync } from 'node:fs';
import path from 'node:path';
import { spawnManaged, describeExit, type ManagedProcess } from './proc.js';
import { waitFor } from './wait.js';
import { CACHE_DIR } from './paths.js';
import type { Assets } from './assets.js';
import type { LabNetwork } from './netns.js';

export type Firmware = 'bios' | 'uefi';
export type Accel = 'tcg' | 'kvm';

export interface MachineSpec {
  /** Label for logs and files. */
  name: string;
  /** SMBIOS type 1 serial: the machine's identity (lower case, as Cocoon normalises it). */
  serial: string;
  uuid: string;
  mac: string;
  firmware: Firmware;
  diskMiB?: number;
  memoryMiB?: number;
  /** false: the NIC is not a boot device and has no option ROM (the firmware boots the disk). */
  netBoot?: boolean;
  /** true: no disk at all (diskless machines that boot into RAM). */
  diskless?: boolean;
}

const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

const ANSI_ESCAPE = new RegExp(String.fromCharCode(27) + '(\\[[0-9;?]*[A-Za-z]|[A-Za-z])', 'g');

let accelChoice: Promise<Accel> | undefined;

/**
 * TCG unless KVM demonstrably works: /dev/kvm can exist yet be unusable (nested
 * virtualisation: firmware dies with "KVM internal error", the kernel hangs in
 * decompression), so a direct kernel boot must print the canary marker in time. The verdict is
 * cached per host boot. E2E_ACCEL=tcg|kvm|auto overrides (default auto).
 */
export function chooseAccel(assets: Assets, scratchDir: string): Promise<Accel> {
  accelChoice ??= detectAccel(assets, scratchDir);
  return accelChoice;
}

async function detectAccel(assets: Assets, scratchDir: string): Promise<Accel> {
  const forced = process.env.E2E_ACCEL;
  if (forced === 'tcg' || forced === 'kvm') return forced;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return 'tcg';
  }
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const verdictFile = path.join(CACHE_DIR, `accel-${bootId}.json`);
  if (existsSync(verdictFile)) return (JSON.parse(readFileSync(verdictFile, 'utf8')) as { accel: Accel }).accel;
  mkdirSync(scratchDir, { recursive: true });
  const log = path.join(scratchDir, 'kvm-canary.log');
  const p = spawnManaged('kvm-canary', 'qemu-system-x86_64', [
    '-accel', 'kvm', '-cpu', 'host', '-m', '512', '-display', 'none', '-nodefaults', '-no-reboot',
    '-serial', `file:${log}`, '-kernel', assets.path('vmlinuz'), '-initrd', assets.path('first-stage.cpio.gz'),
    '-append', 'console=ttyS0 quiet panic=-1 cocoon.canary=1',
  ], { stdoutFile: path.join(scratchDir, 'kvm-canary.out') });
  let accel: Accel = 'tcg';
  try {
    await waitFor('the KVM canary', () => (serialText(log).includes('COCOON-E2E-CANARY') ? true : undefined), {
      timeoutMs: 20_000,
      abortIf: () => (p.exit() ? `qemu ${describeExit(p.exit()!)}` : undefined),
    });
    accel = 'kvm';
  } catch {
    accel = 'tcg';
  } finally {
    await p.stop(1000);
  }
  writeFileSync(verdictFile, JSON.stringify({ accel }) + '\n');
  return accel;
}

function serialText(file: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

/**
 * One virtual machine: its disk, firmware variables and serial log persist across power
 * cycles; each powerOn() is one QEMU process (the guest powering off ends it).
 */
export class Machine {
  readonly serialLog: string;
  readonly disk: string;
  private readonly vars: string;
  private proc: ManagedProcess | undefined;
  private boots = 0;

  constructor(
    readonly spec: MachineSpec,
    private readonly net: LabNetwork,
    readonly tap: string,
    readonly dir: string,
    private readonly accel: Accel,
  ) {
    mkdirSync(dir, { recursive: true });
    this.serialLog = path.join(dir, 'serial.log');
    this.disk = path.join(dir, 'disk.img');
    this.vars = path.join(dir, 'OVMF_VARS.fd');
    // An empty (sparse) disk: firmware finds nothing bootable on it until the install.
    const fd = openSync(this.disk, 'w');
    ftruncateSync(fd, (spec.diskMiB ?? 128) * 1024 * 1024);
    closeSync(fd);
    if (spec.firmware === 'uefi') copyFileSync(OVMF_VARS, this.vars);
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exit() === undefined;
  }

  /** The current QEMU process's exit, or undefined while it runs / before the first power-on. */
  lastExit(): string | undefined {
    const e = this.proc?.exit();
    return e ? describeExit(e) : undefined;
  }

  qemuArgs(): string[] {
    const s = this.spec;
    const accel = this.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'max'];
    const firmware =
      s.firmware === 'uefi'
        ? ['-machine', 'q35,graphics=off',
           '-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
           '-drive', `if=pflash,format=raw,file=${this.vars}`]
        : ['-machine', 'pc,graphics=off'];
    // UEFI guests get no NIC option ROM: OVMF's own PXE then takes the real TFTP path
    // (DHCP arch 7 -> TFTP ipxe.efi -> iPXE -> HTTP). BIOS guests use QEMU's iPXE ROM.
    const netBoot = s.netBoot ?? true;
    const rom = s.firmware === 'uefi' || !netBoot ? ',romfile=' : '';
    const nicBoot = netBoot ? ',bootindex=1' : '';
    return [
      '-name', s.name, ...accel, ...firmware,
      '-m', String(s.memoryMiB ?? 768), '-smp', '1',
      // -nodefaults: no user-mode NIC that would NAT to the host's network, no VGA.
      '-display', 'none', '-nodefaults',
      '-chardev', `file,id=console,path=${this.serialLog},append=on`, '-serial', 'chardev:console',
      '-netdev', `tap,id=n0,ifname=${this.tap},script=no,downscript=no`,
      '-device', `virtio-net-pci,netdev=n0,mac=${s.mac}${nicBoot}${rom}`,
      ...(s.diskless ? [] : ['-drive', `file=${this.disk},format=raw,if=none,id=d0,cache=unsafe`, '-device', 'virtio-blk-pci,drive=d0,bootindex=2']),
      '-smbios', `type=1,serial=${s.serial}`, '-uuid', s.uuid,
    ];
  }

  /** Starts QEMU (a new power cycle). The guest's own reboots stay within this process. */
  powerOn(): void {
    if (this.running) throw new Error(`${this.spec.name} is already running (pid ${this.proc?.pid})`);
    this.boots++;
    writeFileSync(this.serialLog, `\n===== cocoon-e2e: power on #${this.boots} at ${new Date().toISOString()} =====\n`, { flag: 'a' });
    this.proc = spawnManaged(`qemu ${this.spec.name}`, 'qemu-system-x86_64', this.qemuArgs(), {
      netns: this.net.name,
      stdoutFile: path.join(this.dir, 'qemu.log'),
    });
  }

  /** Resolves when the guest powered itself off; the time-out kills it. */
  async waitPoweredOff(timeoutMs: number): Promise<string> {
    const p = this.proc;
    if (!p) throw new Error(`${this.spec.name} was never powered on`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.spec.name} did not power off within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    try {
      return describeExit(await Promise.race([p.exited, timeout]));
    } finally {
      clearTimeout(timer);
    }
  }

  async powerOff(): Promise<void> {
    await this.proc?.stop(2000);
  }

  console(): string {
    return serialText(this.serialLog);
  }

  /** Serial output since the last power-on. */
  consoleSinceBoot(): string {
    const text = this.console();
    const mark = text.lastIndexOf('===== cocoon-e2e: power on #');
    return mark >= 0 ? text.slice(mark) : text;
  }

  consoleTail(lines = 40): string {
    // Firmware writes terminal escapes; strip them so the tail is readable in a test report.
    const clean = this.console().replace(ANSI_ESCAPE, '').replace(/\r/g, '');
    return clean.split('\n').slice(-lines).join('\n');
  }

  /** The last non-empty console line (what the machine is doing right now). */
  lastConsoleLine(): string {
    const lines = this.consoleTail(5).split('\n').map((l) => l.trim()).filter(Boolean);
    // iPXE appends percentages to one line ("... 16%     43%     57%"): keep the last.
    return (lines.at(-1) ?? '').replace(/(\d+%\s+)+(?=\d+%)/, '').trimEnd().slice(0, 100);
  }

  /** Waits until the console (this power cycle) matches; fails early if QEMU exits. */
  async waitForConsole(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return waitFor(`${this.spec.name} console to match ${pattern}`, () => this.consoleSinceBoot().match(pattern) ?? undefined, {
      timeoutMs,
      intervalMs: 200,
      abortIf: () => (this.lastExit() ? `${this.spec.name}: qemu ${this.lastExit()}` : undefined),
    });
  }
}
