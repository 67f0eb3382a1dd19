import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MachineStore } from '../store/types.js';

export type RenderKind = 'ipxe-chain' | 'ipxe-machine' | 'first-stage' | 'final-config';

/**
 * The Prometheus registry of one server. Machine counts are read from the store when scraped
 * (it keeps them per state and profile), so nothing here has to be kept in step with it. The event bus and the
 * dnsmasq service register their own metrics (cocoon_events_total, cocoon_dnsmasq_*) here too.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly renders: Counter<'kind'>;
  private readonly renderErrors: Counter<'kind'>;
  private readonly latency: Histogram<'route' | 'method' | 'status'>;

  constructor(store: Pick<MachineStore, 'counts'>) {
    collectDefaultMetrics({ register: this.registry, prefix: 'cocoon_' });
    new Gauge({
      name: 'cocoon_machines',
      help: 'Machines in the store by state and profile',
      labelNames: ['state', 'profile'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const c of store.counts()) this.set({ state: c.state, profile: c.profile }, c.count);
      },
    });
    this.renders = new Counter({ name: 'cocoon_renders_total', help: 'Rendered artefacts served, by kind', labelNames: ['kind'], registers: [this.registry] });
    this.renderErrors = new Counter({ name: 'cocoon_render_errors_total', help: 'Render failures, by kind', labelNames: ['kind'], registers: [this.registry] });
    this.latency = new Histogram({
      name: 'cocoon_http_request_duration_seconds',
      help: 'HTTP request latency by route template, method and status',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [this.registry],
    });
  }

  rendered(kind: RenderKind): void {
    this.renders.inc({ kind });
  }

  renderFailed(kind: RenderKind): void {
    this.renderErrors.inc({ kind });
  }

  observe(route: string, method: string, status: number, seconds: number): void {
    this.latency.observe({ route, method, status: String(status) }, seconds);
  }
}

/** The route table's per-request callback: latency histogram, and an access log line at debug level. */
export function requestObserver(metrics: Metrics, log: { debug(message: string, meta: Record<string, unknown>): void }) {
  return (route: string, method: string, status: number, seconds: number): void => {
    metrics.observe(route, method, status, seconds);
    log.debug('request', { route, method, status, ms: Math.round(seconds * 1e4) / 10 });
  };
}
