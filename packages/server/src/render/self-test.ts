import type { CocoonConfig, Profile } from '../config/types.js';
import type { MachineState } from '../lifecycle/states.js';
import type { MachineRecord } from '../store/types.js';
import { RenderError } from './errors.js';
import type { Renderer } from './renderer.js';

export const SELF_TEST_SERIAL = 'cocoon-self-test';

/** A plausible enrolled machine of `profile`, for rendering every template once at start-up. */
export function sampleMachine(config: CocoonConfig, profile: Profile, state: MachineState = 'installing'): MachineRecord {
  const mac = '02:00:00:00:00:01';
  return {
    Serial: SELF_TEST_SERIAL,
    MacAddresses: [mac],
    InternalAddr: config.network.ip_range.start,
    Hostname: SELF_TEST_SERIAL,
    MachineID: '0123456789abcdef0123456789abcdef',
    ConnectedNIC: 'eth0',
    IPMIAddr: '',
    ProviderId: '',
    Cabinet: 0,
    MachineOnCabinet: 0,
    Profile: profile.name,
    FleetMetadata: [],
    FleetDisableEngine: false,
    EtcdClusterToken: '',
    Overrides: {},
    State: state,
    LastBoot: '0001-01-01T00:00:00Z',
    CoreOSVersion: '',
    IdentitySource: 'product',
    Hardware: { nics: [{ name: 'eth0', mac }] },
    BootCount: 0,
  };
}

export interface SelfTestReport {
  profiles: number;
  renders: number;
}

/**
 * Render every template once for every profile with a sample machine: the chain script, the
 * per-machine iPXE script of every flow the profile can take, the first stage (enrolled and not),
 * the first-stage Ignition and the final config. The first failure is thrown as a RenderError
 * naming the profile, file, line and reason, so a broken template stops the start.
 */
export function runSelfTest(renderer: Renderer, profiles: readonly Profile[] = renderer.config.profiles): SelfTestReport {
  const config = renderer.config;
  let renders = 0;
  const run = (profile: string, fn: () => unknown): void => {
    try {
      fn();
      renders++;
    } catch (err) {
      if (err instanceof RenderError) throw err.forProfile(profile);
      throw err;
    }
  };
  run('(none)', () => renderer.ipxeChain());
  for (const profile of profiles) {
    const unknown = { serial: SELF_TEST_SERIAL, mac: '02:00:00:00:00:01', uuid: '00000000-0000-4000-8000-000000000001' };
    const installing = sampleMachine(config, profile, 'installing');
    const running = sampleMachine(config, profile, 'running');
    run(profile.name, () => renderer.ipxeMachine(installing, { arch: 'x86_64', platform: 'pcbios' }));
    run(profile.name, () => renderer.ipxeMachine(running, { arch: 'x86_64', platform: 'efi' }));
    if (config.rescue) run(profile.name, () => renderer.ipxeMachine({ ...running, RescuePending: true }, { arch: 'x86_64', platform: 'pcbios' }));
    run(profile.name, () => renderer.firstStageScript(installing));
    run(profile.name, () => renderer.finalConfig(installing));
    if (profile.name === 'default') {
      // Machines not enrolled yet render with the default profile.
      run(profile.name, () => renderer.ipxeMachine(unknown, { arch: 'x86_64', platform: 'efi' }));
      run(profile.name, () => renderer.firstStageScript(unknown));
      run(profile.name, () => renderer.firstStageIgnition(unknown));
    }
  }
  return { profiles: profiles.length, renders };
}
