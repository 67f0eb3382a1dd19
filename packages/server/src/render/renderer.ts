import { readFileSync } from 'node:fs';
import nunjucks from 'nunjucks';
import type { BootImage, CocoonConfig, Profile } from '../config/types.js';
import type { MachineRecord } from '../store/types.js';
import {
  buildContext,
  imageEntry,
  isMachineRecord,
  frozenProfile,
  type BootEntry,
  type InstallFiles,
  type RenderContext,
  type RenderRequest,
  type RenderTarget,
} from './context.js';
import { BUILTIN_TEMPLATES_DIR, createTemplateEnvironment, templateFile, type TemplateEnvironment } from './environment.js';
import { fromNunjucksError, RenderError } from './errors.js';
import { failsafeIpxe } from './failsafe.js';
import { ignitionFromYaml, InvalidConfigError, type ConfigProblem } from './ignition.js';
import { installFilesFor } from './install-files.js';
import { mergeTemplatesEnv } from './templates-env.js';
import { bootBaseUrl, machineUrls } from './urls.js';
import { parseConfigYaml, YamlSyntaxError } from './yaml.js';
import { runSelfTest, type SelfTestReport } from './self-test.js';

export interface RendererOptions {
  config: CocoonConfig;
  /** Built-in templates (default: the repository's templates/). */
  builtinDir?: string;
  /** Operator overrides, searched first (default: config.paths.templates_dir). */
  overrideDir?: string;
}

/** What the per-machine iPXE script does. */
export type IpxeFlow = 'install' | 'live' | 'local-disk' | 'rescue';

export const IPXE_TEMPLATES: Readonly<Record<IpxeFlow | 'chain', string>> = Object.freeze({
  chain: 'ipxe/chain.ipxe',
  install: 'ipxe/install.ipxe',
  live: 'ipxe/live.ipxe',
  'local-disk': 'ipxe/local-disk.ipxe',
  rescue: 'ipxe/rescue.ipxe',
});
/** The first-stage script and the Flatcar first-stage Ignition (docs/first-stage.md). */
export const FIRST_STAGE_TEMPLATE = 'first-stage/install.sh.njk';
export const FIRST_STAGE_IGNITION_TEMPLATE = 'ignition/first-stage-flatcar.yaml';

export interface RenderedConfig {
  format: 'ignition' | 'cloud-config';
  contentType: string;
  body: string;
  /** The template that produced it, e.g. "ignition/default.yaml". */
  template: string;
}

export const IGNITION_CONTENT_TYPE = 'application/vnd.coreos.ignition+json; charset=utf-8';
export const CLOUD_CONFIG_CONTENT_TYPE = 'text/cloud-config; charset=utf-8';

/**
 * What a machine boots now: rescue when one is pending (and a rescue image is configured), the
 * live image for live profiles, its own disk once installed, else the first-stage environment
 * (unknown, configured = reinstall, installing = a retry after a reboot, failed = a retry).
 */
export function ipxeFlow(config: Pick<CocoonConfig, 'rescue'>, target: RenderTarget, profile: Pick<Profile, 'boot'>): IpxeFlow {
  if (!isMachineRecord(target)) return 'install';
  if (target.RescuePending && config.rescue) return 'rescue';
  if (profile.boot === 'live') return 'live';
  if (target.State === 'installed' || target.State === 'running') return 'local-disk';
  return 'install';
}

export class Renderer {
  readonly config: CocoonConfig;
  private readonly t: TemplateEnvironment;
  /** Compiled kernel-argument templates from the config (live/rescue/image args), by source. */
  private readonly argTemplates = new Map<string, nunjucks.Template>();
  /** Deep-frozen copies of the config's profiles: every render shares them instead of copying. */
  private readonly profiles: ReadonlyMap<string, Readonly<Profile>>;

  constructor(opts: RendererOptions) {
    this.config = opts.config;
    this.profiles = new Map(opts.config.profiles.map((p) => [p.name, frozenProfile(p)]));
    const overrideDir = opts.overrideDir ?? opts.config.paths.templates_dir;
    this.t = createTemplateEnvironment(opts.builtinDir ?? BUILTIN_TEMPLATES_DIR, overrideDir);
  }

  /** Folders templates are looked up in, operator's first. */
  get searchPaths(): readonly string[] {
    return this.t.searchPaths;
  }

  /** The machine's profile; a record naming a profile the config no longer has is an error. */
  profileOf(target: RenderTarget): Readonly<Profile> {
    const name = isMachineRecord(target) && target.Profile ? target.Profile : 'default';
    const p = this.profiles.get(name);
    if (!p) {
      throw new RenderError({
        template: '(profile)',
        reason: `machine ${JSON.stringify(isMachineRecord(target) ? target.Serial : target.serial)} has profile ${JSON.stringify(name)}, which the config does not define (profiles: ${this.config.profiles.map((x) => x.name).join(', ')})`,
      });
    }
    return p;
  }

  /** The context a template sees for this machine: a fresh copy every call. */
  context(target: RenderTarget, request: RenderRequest = {}): RenderContext {
    return buildContext(this.config, this.profileOf(target), target, request);
  }

  /**
   * The machine's first-stage files and install image from its OS version's manifest, to pass as
   * `request.install` to ipxeMachine / firstStageScript (the only asynchronous step of a render).
   */
  installFiles(target: RenderTarget): Promise<InstallFiles> {
    return installFilesFor(this.config, target);
  }

  flow(target: RenderTarget): IpxeFlow {
    return ipxeFlow(this.config, target, this.profileOf(target));
  }

  /** The generic script behind GET /ipxe: it chains to the per-machine script with iPXE's identity. */
  ipxeChain(request: RenderRequest = {}): string {
    const urls = machineUrls(request.baseUrl ?? bootBaseUrl(this.config), '');
    return this.renderFile(IPXE_TEMPLATES.chain, { urls, env: mergeTemplatesEnv(this.config.templates_env) });
  }

  /** The per-machine iPXE script for its state and profile. */
  ipxeMachine(target: RenderTarget, request: RenderRequest = {}): string {
    const ctx = this.context(target, request);
    const flow = ipxeFlow(this.config, target, ctx.profile);
    const vars: Record<string, unknown> = { ...ctx, flow };
    if (flow === 'install') {
      ctx.install.entry.args = this.renderArgs('install environment args', ctx.install.entry.args, ctx);
    } else if (flow === 'live') {
      vars['live'] = this.liveEntry(ctx);
    } else if (flow === 'rescue') {
      const rescue = imageEntry(ctx.urls, this.config.rescue as BootImage);
      rescue.args = this.renderArgs('rescue.args', rescue.args, ctx);
      vars['rescue'] = rescue;
    }
    return this.renderFile(IPXE_TEMPLATES[flow], vars);
  }

  /**
   * The failsafe per-machine script, for when ipxeMachine threw: the rescue image if one is
   * configured, else the reason on the console and a retry loop. Uses no template.
   */
  ipxeFailsafe(target: RenderTarget, reason: string, request: RenderRequest = {}): string {
    return failsafeIpxe(this.config, target, reason, request.baseUrl);
  }

  /** The first-stage script (POSIX sh) for a machine, enrolled or not. */
  firstStageScript(target: RenderTarget, request: RenderRequest = {}): string {
    return this.renderFile(FIRST_STAGE_TEMPLATE, { ...this.context(target, request) });
  }

  /** Ignition for a Flatcar PXE first-stage environment: runs the first-stage bootstrap. */
  firstStageIgnition(target: RenderTarget, request: RenderRequest = {}): RenderedConfig {
    const ctx = this.context(target, request);
    return { format: 'ignition', contentType: IGNITION_CONTENT_TYPE, body: this.renderIgnition(FIRST_STAGE_IGNITION_TEMPLATE, ctx), template: FIRST_STAGE_IGNITION_TEMPLATE };
  }

  /** The machine's final config: validated Ignition JSON, or cloud-config, per its profile. */
  finalConfig(machine: Readonly<MachineRecord>, request: RenderRequest = {}): RenderedConfig {
    const ctx = this.context(machine, request);
    if (ctx.profile.config_format === 'cloud-config') {
      const template = `cloud-config/${ctx.profile.template}.yaml`;
      return { format: 'cloud-config', contentType: CLOUD_CONFIG_CONTENT_TYPE, body: this.renderCloudConfig(template, ctx), template };
    }
    const template = `ignition/${ctx.profile.template}.yaml`;
    return { format: 'ignition', contentType: IGNITION_CONTENT_TYPE, body: this.renderIgnition(template, ctx), template };
  }

  /** Render any template by name with a machine's context (previews, operator tooling). */
  renderTemplate(name: string, target: RenderTarget, request: RenderRequest = {}): string {
    return this.renderFile(name, { ...this.context(target, request) });
  }

  /** Render every template for every profile once; throws the first RenderError (start-up check). */
  selfTest(profiles?: readonly Profile[]): SelfTestReport {
    return runSelfTest(this, profiles);
  }

  // --- internals ---

  private liveEntry(ctx: RenderContext): BootEntry & { from_os: boolean } {
    const live = ctx.profile.live;
    if (live) {
      const entry = imageEntry(ctx.urls, live);
      entry.args = this.renderArgs(`profiles.${ctx.profile.name}.live.args`, entry.args, { ...ctx, assets: entry.assets });
      return { ...entry, from_os: false };
    }
    // No live image of its own: the OS's network-boot kernel and initrd (Flatcar's PXE image is
    // exactly that), with the OS's live arguments from templates/ipxe/args/<os>-live.args.
    const entry = { ...ctx.install.entry, initrds: [...ctx.install.entry.initrds] };
    entry.args = this.renderArgs('install environment args', entry.args, ctx);
    return { ...entry, from_os: true };
  }

  private renderArgs(label: string, source: string, ctx: object): string {
    if (!source) return '';
    const key = `${label}\0${source}`;
    const failures = this.t.failures;
    failures.reset();
    let out: string;
    try {
      let tmpl = this.argTemplates.get(key);
      if (!tmpl) {
        tmpl = new nunjucks.Template(source, this.t.env, label, true);
        this.argTemplates.set(key, tmpl);
      }
      out = tmpl.render(ctx);
    } catch (err) {
      // The label is no file: it names the config value the arguments come from.
      throw new RenderError({ ...fromNunjucksError(label, err, failures.first).details(), file: undefined, template: label }, { cause: err });
    }
    if (failures.first !== undefined) throw fromNunjucksError(label, failures.first, failures.first);
    return out.replace(/\s+/g, ' ').trim();
  }

  private renderFile(name: string, vars: object): string {
    const failures = this.t.failures;
    failures.reset();
    let out: string;
    try {
      out = this.t.env.render(name, vars);
    } catch (err) {
      throw this.templateError(name, err, failures.first);
    }
    // A filter failed where nothing printed its result (an {% if %}, a default()): still an error.
    if (failures.first !== undefined) throw this.templateError(name, failures.first, failures.first);
    return out;
  }

  private templateError(name: string, err: unknown, failure: unknown): RenderError {
    const e = fromNunjucksError(name, err, failure);
    if (e.file !== undefined) return e;
    const file = templateFile(this.t, name);
    return file ? new RenderError({ ...e.details(), file }, { cause: e.cause }) : e;
  }

  private renderIgnition(template: string, ctx: RenderContext): string {
    const text = this.renderFile(template, { ...ctx });
    try {
      return ignitionFromYaml(text);
    } catch (err) {
      throw this.outputError(template, text, err);
    }
  }

  private renderCloudConfig(template: string, ctx: RenderContext): string {
    const text = this.renderFile(template, { ...ctx });
    try {
      if (!/^#cloud-config[ \t]*\r?\n/.test(text)) {
        throw new InvalidConfigError([{ path: '', line: 1, reason: 'a cloud-config must start with a "#cloud-config" line' }]);
      }
      const doc = parseConfigYaml(text);
      if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
        throw new InvalidConfigError([{ path: '', reason: 'a cloud-config must be a YAML mapping' }]);
      }
      return text;
    } catch (err) {
      throw this.outputError(template, text, err);
    }
  }

  /** A rendered config that failed a check: name the template and the line of the rendered text. */
  private outputError(template: string, text: string, err: unknown): RenderError {
    const lines = text.split('\n');
    const file = templateFile(this.t, template);
    // A rendered line that appears exactly once, as it is, in the template (no values put in)
    // tells the template line too; otherwise only the rendered line and its text are certain.
    let source: string[] = [];
    try {
      if (file) source = readFileSync(file, 'utf8').split('\n');
    } catch {
      source = [];
    }
    const show = (line: number | undefined): string => {
      const out = line !== undefined ? lines[line - 1]?.trim() : undefined;
      if (out === undefined) return '';
      const hits = out === '' ? [] : source.flatMap((l, i) => (l.trim() === out ? [i + 1] : []));
      return ` [line ${line}: ${JSON.stringify(out)}${hits.length === 1 ? `, template line ${hits[0]}` : ''}]`;
    };
    let problems: ConfigProblem[];
    if (err instanceof YamlSyntaxError) problems = [{ path: '', reason: err.reason, ...(err.line !== undefined ? { line: err.line } : {}) }];
    else if (err instanceof InvalidConfigError) problems = err.problems;
    else problems = [{ path: '', reason: err instanceof Error ? err.message : String(err) }];
    const first = problems[0];
    const reason = problems.length === 1 && first
      ? `${first.reason}${show(first.line)}`
      : `${problems.length} problems: ${problems.map((p) => `${p.reason}${show(p.line)}`).join('; ')}`;
    return new RenderError(
      { template, ...(file ? { file } : {}), ...(first?.line !== undefined ? { line: first.line, lineOf: 'output' as const } : {}), reason },
      { cause: err },
    );
  }
}

export function createRenderer(opts: RendererOptions): Renderer {
  return new Renderer(opts);
}

/** Build the renderer for `config` and self-test it: what the server does at start-up. */
export function selfTest(config: CocoonConfig, opts: Omit<RendererOptions, 'config'> = {}): { renderer: Renderer; report: SelfTestReport } {
  const renderer = createRenderer({ ...opts, config });
  return { renderer, report: renderer.selfTest() };
}
