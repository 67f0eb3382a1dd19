import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { CocoonConfig } from './config/types.js';
import { createDnsmasqService, type DnsmasqService } from './dnsmasq/index.js';
import { EventBus, storeResolver } from './events/index.js';
import { createApiApp } from './http/api-app.js';
import { Artefacts } from './http/artefacts.js';
import { Authenticator } from './http/auth.js';
import { bootRoutes, createBootApp } from './http/boot-app.js';
import { Metrics } from './http/metrics.js';
import { Provisioner } from './lifecycle/provisioner.js';
import { createRenderer } from './render/index.js';
import { openClusterStore } from './store/cluster-store.js';
import type { MachineStore } from './store/types.js';
import { createLogger, type Logger } from './util/logger.js';

export const SERVER_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface StartOptions {
  /** Default: a winston logger as the config says. */
  logger?: Logger;
  /** Stop waiting for open connections (image downloads, SSE) this long after stop() began. */
  drainMs?: number;
}

export interface RunningServer {
  config: CocoonConfig;
  store: MachineStore;
  provisioner: Provisioner;
  events: EventBus;
  dnsmasq: DnsmasqService | undefined;
  /** Where the listeners actually are (port 0 in the config = an ephemeral port). */
  bootUrl: string;
  apiUrl: string;
  stop(): Promise<void>;
}

function listen(server: http.Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

function urlOf(scheme: string, a: AddressInfo): string {
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `${scheme}://${host}:${a.port}`;
}

/** Sockets per server, so a stop can end idle keep-alive connections and, after a grace, all. */
function trackSockets(server: http.Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return sockets;
}

/**
 * The composition root: config -> logger -> store -> events -> provisioner -> renderer (self-test)
 * -> dnsmasq (unless disabled) -> the two listeners. Anything that fails on the way is undone.
 */
export async function startServer(config: CocoonConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.logger ?? createLogger({ level: config.log.level, format: config.log.format });
  const cleanups: (() => Promise<void> | void)[] = [];
  const undo = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.error('cleanup failed', { err: String(err) });
      }
    }
  };

  try {
    const store = await openClusterStore({
      dir: config.paths.cluster_dir,
      git: { enabled: config.git.enabled, authorName: config.git.author_name, authorEmail: config.git.author_email },
      logger: log.child({ component: 'store' }),
    });
    cleanups.push(() => store.close());
    log.info('machine store open', { dir: config.paths.cluster_dir, machines: store.count(), git: config.git.enabled });

    const metrics = new Metrics(store);
    const events = new EventBus({
      logger: log.child({ component: 'events' }),
      registry: metrics.registry,
      resolver: storeResolver(store),
      timelineSize: config.events.timeline_size,
      maxTimelines: config.events.max_timelines,
      maxEvents: config.events.max_events,
    });
    const provisioner = new Provisioner(store, config, events);
    cleanups.push(() => provisioner.close());
    // Machines declared in the config get their record now, so a live machine boots its profile
    // on first sight (it never enrolls); the ones already in the store are left as they are.
    const declared = await provisioner.applyConfigDeclarations();
    for (const e of declared.errors) log.warn('declared machine not filed', { mac: e.mac, err: e.message });
    if (declared.added) log.info('declared machines filed from the config', { added: declared.added });

    const renderer = createRenderer({ config });
    const report = renderer.selfTest();
    log.info('templates self-test passed', { profiles: report.profiles, renders: report.renders });

    let dnsmasq: DnsmasqService | undefined;
    if (config.dnsmasq.enabled) {
      dnsmasq = createDnsmasqService(config, store, events, log.child({ component: 'dnsmasq' }));
      dnsmasq.registerMetrics(metrics.registry);
      cleanups.push(() => dnsmasq?.stop());
      await dnsmasq.start();
    } else log.info('dnsmasq disabled: HTTP only');

    const auth = new Authenticator(config.auth);
    const artefacts = new Artefacts({ config, store, renderer, metrics });
    const streams = new Set<() => void>();
    const bootDeps = { config, store, provisioner, events, artefacts, metrics, auth, log: log.child({ component: 'boot-http' }) };
    const boot = bootRoutes(bootDeps);
    const bootApp = createBootApp(bootDeps, boot);
    const apiApp = createApiApp({
      config,
      store,
      provisioner,
      events,
      previewer: artefacts,
      metrics,
      auth,
      log: log.child({ component: 'api-http' }),
      version: SERVER_VERSION,
      startedAt: new Date(),
      ...(dnsmasq ? { dnsmasqHealth: () => dnsmasq.status() } : {}),
      bootRoutes: boot,
      streams,
    });

    const bootServer = http.createServer(bootApp);
    const tls = config.http.api.tls;
    const apiServer = tls ? https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, apiApp) : http.createServer(apiApp);
    for (const s of [bootServer, apiServer]) {
      // Firmware HTTP stacks are slow and keep connections; time out only what is truly stuck.
      s.keepAliveTimeout = 30_000;
      s.headersTimeout = 30_000;
      s.requestTimeout = 120_000;
    }
    const bootSockets = trackSockets(bootServer);
    const apiSockets = trackSockets(apiServer);
    const bootAddr = await listen(bootServer, config.http.boot.listen, config.http.boot.port);
    cleanups.push(() => new Promise<void>((r) => bootServer.close(() => r())));
    const apiAddr = await listen(apiServer, config.http.api.listen, config.http.api.port);
    const bootUrl = urlOf('http', bootAddr);
    const apiUrl = urlOf(tls ? 'https' : 'http', apiAddr);
    log.info('listening', { boot: bootUrl, api: apiUrl, publicBootUrl: config.http.boot.public_url, auth: config.auth.mode, compatAdmin: config.auth.compat_admin });

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopping ??= (async () => {
        log.info('stopping');
        const closed = Promise.all([
          new Promise<void>((r) => bootServer.close(() => r())),
          new Promise<void>((r) => apiServer.close(() => r())),
        ]);
        for (const end of [...streams]) end();
        bootServer.closeIdleConnections();
        apiServer.closeIdleConnections();
        const grace = setTimeout(() => {
          for (const s of [...bootSockets, ...apiSockets]) s.destroy();
        }, opts.drainMs ?? 5000);
        await closed;
        clearTimeout(grace);
        if (dnsmasq) await dnsmasq.stop();
        provisioner.close();
        await store.close();
        log.info('stopped');
      })());

    return { config, store, provisioner, events, dnsmasq, bootUrl, apiUrl, stop };
  } catch (err) {
    await undo();
    throw err;
  }
}

/**
 * SIGHUP: read the configuration file again and apply it to dnsmasq (network, dnsmasq, TFTP root,
 * declared machines): its config is re-rendered and tested, and dnsmasq restarts only if it
 * changed. A refused configuration is logged and everything keeps running as it was.
 */
async function reloadDnsmasq(server: RunningServer, load: () => CocoonConfig, log: ReturnType<typeof createLogger>): Promise<void> {
  let next: CocoonConfig;
  try {
    next = load();
  } catch (err) {
    log.error('configuration reload refused: the file is invalid; nothing changed', { reason: err instanceof Error ? err.message : String(err) });
    return;
  }
  if (!server.dnsmasq) {
    log.warn('configuration reload: dnsmasq was disabled at start; restart the server to run it');
    return;
  }
  try {
    const { restarted } = await server.dnsmasq.reload(next);
    log.info('configuration reloaded for dnsmasq (other sections take effect at the next start)', { dnsmasqRestarted: restarted });
  } catch (err) {
    log.error('configuration reload refused; dnsmasq keeps its configuration', { reason: err instanceof Error ? err.message : String(err) });
  }
}

/** main.ts: start, log, stop gracefully on SIGTERM / SIGINT, reload dnsmasq's part of the config on SIGHUP. */
export async function runServer(config: CocoonConfig, opts: { reloadConfig?: () => CocoonConfig } = {}): Promise<void> {
  const log = createLogger({ level: config.log.level, format: config.log.format });
  const server = await startServer(config, { logger: log });
  const reload = opts.reloadConfig;
  if (reload) {
    let reloading = Promise.resolve();
    process.on('SIGHUP', () => {
      log.info('signal received', { signal: 'SIGHUP' });
      reloading = reloading.then(() => reloadDnsmasq(server, reload, log));
    });
  }
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      log.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    signalled = true;
    log.info('signal received', { signal });
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('stop failed', { err: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A stray rejection in a background task must not take provisioning down: log it loudly.
  // An uncaught exception leaves unknown state behind: log it and exit for the supervisor.
  process.on('unhandledRejection', (reason: unknown) => {
    log.error('unhandled promise rejection', { err: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason) });
  });
  process.on('uncaughtException', (err: Error) => {
    log.error('uncaught exception; exiting', { err: err.stack ?? err.message });
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 200).unref();
  });
}
