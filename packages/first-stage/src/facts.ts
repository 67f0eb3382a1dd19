/**
 * The enrollment body the agent POSTs to `<server>/enroll` (documented in docs/first-stage.md).
 * Values are reported as the hardware gives them (trimmed); deciding which serial is junk and
 * which identity a machine gets is the server's job, so every machine reports the same way.
 */
export interface NicFacts {
  /** Kernel interface name, e.g. "eno1". */
  name: string;
  /** Lower case, colon separated. */
  mac: string;
  /** Kernel driver bound to the device ("" when none). */
  driver: string;
  /** PCI address such as "0000:3b:00.0" ("" when the NIC is not on PCI). */
  pciAddress: string;
  /** The kernel's operstate: up, down, unknown, dormant, lowerlayerdown, notpresent, testing. */
  link: string;
  /** Negotiated speed; null when the link is down or the driver does not say. */
  speedMbps: number | null;
}

export interface DiskFacts {
  /** Block device name under /dev, e.g. "sda", "nvme0n1". */
  name: string;
  sizeBytes: number;
  rotational: boolean;
  removable: boolean;
  model: string;
  serial: string;
  /** World wide name / wwid as sysfs gives it ("" when absent). */
  wwn: string;
}

export interface CpuFacts {
  model: string;
  sockets: number;
  /** Physical cores over all sockets. */
  cores: number;
  /** Logical CPUs (hardware threads). */
  threads: number;
}

export interface AgentFacts {
  serial: { product: string; chassis: string; board: string };
  /** SMBIOS system UUID, lower case ("" when the firmware has none). */
  uuid: string;
  firmware: 'bios' | 'uefi';
  vendor: string;
  productName: string;
  board: string;
  biosVersion: string;
  nics: NicFacts[];
  /** The NIC carrying the default route ("" when there is none). */
  connectedNic: string;
  /** BMC address from `ipmitool lan print`; absent when there is no ipmitool or no BMC. */
  ipmiAddress?: string;
  cpu: CpuFacts;
  memoryBytes: number;
  disks: DiskFacts[];
  /** Running Linux kernel release (uname -r). */
  kernel: string;
  /** The serial the first-stage script was rendered for (iPXE's ${serial}); informational. */
  serialHint?: string;
}

/** Alias under the name the lifecycle module uses for what it receives. */
export type EnrollmentBody = AgentFacts;
