import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CocoonConfig } from '../config/types.js';
import { storeResolver, type EventBus } from '../events/index.js';
import type { MachineStore } from '../store/types.js';
import { CocoonError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { HostsDir } from './hosts-dir.js';
import { LeaseCounter } from './lease-file.js';
import { DnsmasqLogParser } from './log-parser.js';
import { dnsmasqPaths, type DnsmasqPaths } from './paths.js';
import { renderDnsmasqConfig } from './render-config.js';
import { DnsmasqSupervisor, type SupervisorOptions, type SupervisorState, type SupervisorStatus } from './supervisor.js';
import { prepareTftpRoot } from './tftp-root.js';
import { testDnsmasqConfig } from './validate.js';

/** dnsmasq's health for /healthz, /api/v1/status and metrics (compatible with http's DnsmasqHealth). */
export interface DnsmasqStatus extends Omit<SupervisorStatus, 'state'> {
  enabled: boolean;
  /** The supervisor's state, or disabled when dnsmasq is turned off. */
  state: SupervisorState | 'disabled';
  /** The reason of the last exit, for the HTTP layer's `lastError`. */
  lastError?: string;
  /** Leases in the lease file (counted in the background; undefined until first counted). */
  leases?: number;
  hostEntries: number;
  configFile: string;
  [more: string]: unknown;
}

export interface DnsmasqService {
  /** Check the TFTP root, render + test + install the config, write the hosts dir, spawn dnsmasq. */
  start(): Promise<void>;
  /** SIGTERM, then SIGKILL after the grace period. */
  stop(): Promise<void>;
  /**
   * A new Cocoon configuration: the rendered dnsmasq.conf is tested first; if dnsmasq refuses it
   * this throws `CocoonError` (kind invalid, dnsmasq's message) and the running dnsmasq keeps
   * serving. A changed dnsmasq.conf restarts dnsmasq; host entries are reconciled without restart.
   */
  reload(config: CocoonConfig): Promise<{ restarted: boolean }>;
  status(): DnsmasqStatus;
  /** Register the dnsmasq gauges/counters (cocoon_dnsmasq_*) on a registry. */
  registerMetrics(registry: Registry): void;
  readonly paths: DnsmasqPaths;
  /** Exposed for tests and diagnostics. */
  readonly hostsDir: HostsDir;
}

export interface DnsmasqServiceOptions {
  /** Supervisor tuning (tests use short back-off). */
  supervisor?: Pick<SupervisorOptions, 'backoff' | 'stopGraceMs'>;
  /** Where to copy missing iPXE binaries from (default Debian's /usr/lib/ipxe). */
  ipxeSourceDir?: string;
  /** Count leases this often in the background. */
  leaseCountIntervalMs?: number;
  /** Also hand every raw dnsmasq line here (diagnostics, fixture capture). */
  onLine?: (line: string) => void;
}

export function createDnsmasqService(
  config: CocoonConfig,
  store: MachineStore,
  events: EventBus,
  logger: Logger,
  options: DnsmasqServiceOptions = {},
): DnsmasqService {
  return new DnsmasqServiceImpl(config, store, events, logger, options);
}

class DnsmasqServiceImpl implements DnsmasqService {
  readonly paths: DnsmasqPaths;
  readonly hostsDir: HostsDir;
  private readonly supervisor: DnsmasqSupervisor;
  private readonly parser: DnsmasqLogParser;
  private readonly leases: LeaseCounter;
  private leaseCount: number | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private started = false;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(
    private config: CocoonConfig,
    store: MachineStore,
    private readonly events: EventBus,
    private readonly logger: Logger,
    private readonly options: DnsmasqServiceOptions,
  ) {
    this.paths = dnsmasqPaths(config);
    if (!events.hasMachineResolver()) events.setMachineResolver(storeResolver(store));
    this.parser = new DnsmasqLogParser((e) => events.publish(e), { idleFlushMs: 50 });
    this.leases = new LeaseCounter(this.paths.leaseFile);
    this.supervisor = new DnsmasqSupervisor({
      binary: config.dnsmasq.binary,
      confFile: this.paths.confFile,
      pidFile: this.paths.pidFile,
      ...(config.dnsmasq.netns !== undefined && { netns: config.dnsmasq.netns }),
      logger,
      onLine: (line) => {
        options.onLine?.(line);
        this.parser.line(line);
      },
      onExit: (exit) => {
        this.parser.flush();
        this.events.publish({ source: 'dnsmasq', type: 'dnsmasq-exit', message: `dnsmasq exited: ${exit.reason}`, data: { ...exit } });
      },
      ...options.supervisor,
    });
    this.hostsDir = new HostsDir({
      dir: this.paths.hostsDir,
      config,
      store,
      logger,
      requestReload: () => {
        if (this.supervisor.sighup()) logger.info('dnsmasq: SIGHUP after host entry removal', { pid: this.supervisor.pid });
      },
    });
  }

  start(): Promise<void> {
    return this.serial(() => this.startNow());
  }

  private async startNow(): Promise<void> {
    if (!this.config.dnsmasq.enabled || this.started) return;
    await mkdir(this.config.paths.state_dir, { recursive: true });
    const text = await this.renderAndTest(this.config);
    await rename(this.paths.candidateFile, this.paths.confFile);
    this.logger.info('dnsmasq configuration installed', { file: this.paths.confFile, bytes: text.length });
    await this.hostsDir.reconcile();
    this.hostsDir.follow();
    await this.supervisor.start();
    this.hostsDir.setLive(true);
    this.started = true;
    this.startLeaseCounting();
  }

  stop(): Promise<void> {
    return this.serial(() => this.stopNow());
  }

  private async stopNow(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.hostsDir.setLive(false);
    this.hostsDir.close();
    this.stopLeaseCounting();
    await this.supervisor.stop();
    this.parser.flush();
  }

  reload(config: CocoonConfig): Promise<{ restarted: boolean }> {
    return this.serial(async () => {
      if (config.paths.state_dir !== this.config.paths.state_dir) {
        throw new CocoonError('invalid', `paths.state_dir cannot change while the server runs (${this.config.paths.state_dir} -> ${config.paths.state_dir}); restart the server`, 'paths.state_dir');
      }
      if (!config.dnsmasq.enabled) {
        // Turned off by the new configuration (or still off).
        const wasRunning = this.started;
        await this.stopNow();
        this.config = config;
        return { restarted: wasRunning };
      }
      const processChanged = config.dnsmasq.binary !== this.config.dnsmasq.binary || config.dnsmasq.netns !== this.config.dnsmasq.netns;
      const configureProcess = (): void =>
        this.supervisor.configure({ binary: config.dnsmasq.binary, ...(config.dnsmasq.netns !== undefined && { netns: config.dnsmasq.netns }) });
      if (!this.started) {
        this.config = config;
        this.hostsDir.updateConfig(config);
        configureProcess();
        await this.startNow();
        return { restarted: true };
      }
      const text = await this.renderAndTest(config);
      const current = await readFile(this.paths.confFile, 'utf8').catch(() => '');
      this.config = config;
      let restarted = false;
      if (text !== current || processChanged) {
        await rename(this.paths.candidateFile, this.paths.confFile);
        configureProcess();
        await this.supervisor.restart();
        restarted = true;
        this.logger.info('dnsmasq restarted with a new configuration', { pid: this.supervisor.pid });
      } else {
        await unlink(this.paths.candidateFile).catch(() => undefined);
      }
      await this.hostsDir.setConfig(config);
      return { restarted };
    });
  }

  status(): DnsmasqStatus {
    const s = this.supervisor.status();
    const enabled = this.config.dnsmasq.enabled;
    return {
      enabled,
      ...s,
      state: enabled ? s.state : 'disabled',
      ...(s.lastExit && { lastError: s.lastExit.reason }),
      ...(this.leaseCount !== undefined && { leases: this.leaseCount }),
      hostEntries: this.hostsDir.entryCount,
      configFile: this.paths.confFile,
    };
  }

  registerMetrics(registry: Registry): void {
    const has = (name: string): boolean => registry.getSingleMetric(name) !== undefined;
    const status = (): DnsmasqStatus => this.status();
    if (!has('cocoon_dnsmasq_up')) {
      new Gauge({ name: 'cocoon_dnsmasq_up', help: '1 when the supervised dnsmasq is running', registers: [registry], collect() { this.set(status().running ? 1 : 0); } });
    }
    const counterFrom = (name: string, help: string, read: () => number): void => {
      if (has(name)) return;
      let seen = 0;
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          const now = read();
          if (now > seen) this.inc(now - seen);
          seen = now;
        },
      });
    };
    counterFrom('cocoon_dnsmasq_restarts_total', 'dnsmasq restarts after unexpected exits', () => status().restarts);
    counterFrom('cocoon_dnsmasq_reloads_total', 'dnsmasq restarts for a new configuration', () => status().reloads);
    counterFrom('cocoon_dnsmasq_sighups_total', 'SIGHUPs sent to dnsmasq after host entry removals', () => status().sighups);
    if (!has('cocoon_dnsmasq_leases')) {
      new Gauge({ name: 'cocoon_dnsmasq_leases', help: 'Leases in the dnsmasq lease file', registers: [registry], collect() { this.set(status().leases ?? 0); } });
    }
    if (!has('cocoon_dnsmasq_host_entries')) {
      new Gauge({ name: 'cocoon_dnsmasq_host_entries', help: 'Per-MAC entries in the dhcp hosts dir', registers: [registry], collect() { this.set(status().hostEntries); } });
    }
  }

  /** Render into the candidate file and have dnsmasq test it; throws CocoonError when refused. */
  private async renderAndTest(config: CocoonConfig): Promise<string> {
    const tftp = await prepareTftpRoot(config, this.options.ipxeSourceDir);
    if (tftp.populated.length > 0) this.logger.info('TFTP root populated', { root: tftp.root, files: tftp.populated });
    const text = renderDnsmasqConfig(config, this.paths, tftp.root, tftp.boot);
    await mkdir(config.paths.state_dir, { recursive: true });
    await writeFile(this.paths.candidateFile, text);
    try {
      await testDnsmasqConfig(config.dnsmasq.binary, this.paths.candidateFile);
    } catch (err) {
      await unlink(this.paths.candidateFile).catch(() => undefined);
      if (err instanceof CocoonError) this.logger.error('dnsmasq configuration refused; the running dnsmasq keeps its configuration', { reason: err.message });
      throw err;
    }
    return text;
  }

  private startLeaseCounting(): void {
    const refresh = (): void => {
      this.leases.count().then(
        (n) => {
          this.leaseCount = n;
        },
        (err: unknown) => this.logger.warn('cannot count dnsmasq leases', { file: this.paths.leaseFile, err: String(err) }),
      );
    };
    refresh();
    this.leaseTimer = setInterval(refresh, this.options.leaseCountIntervalMs ?? 10_000);
    this.leaseTimer.unref();
    // A new lease shows up in /healthz within a second, however many ACKs arrive at once.
    let pending: NodeJS.Timeout | undefined;
    const off = this.events.subscribe({ source: 'dnsmasq', type: ['dhcp-ack', 'dhcp-release'] }, () => {
      pending ??= setTimeout(() => {
        pending = undefined;
        refresh();
      }, 1000).unref();
    });
    this.stopLeaseCounting = () => {
      off();
      if (pending) clearTimeout(pending);
      if (this.leaseTimer) clearInterval(this.leaseTimer);
      this.leaseTimer = undefined;
    };
  }

  private stopLeaseCounting: () => void = () => undefined;

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }
}
