/** The machine lifecycle. `configured` means "reinstall requested"; `failed` carries a reason. */
export const MACHINE_STATES = ['unknown', 'configured', 'installing', 'installed', 'running', 'failed'] as const;
export type MachineState = (typeof MACHINE_STATES)[number];

/** Transitions a machine may make by itself (boot events). Operators may force any state with a reason. */
export const ALLOWED_TRANSITIONS: Readonly<Record<MachineState, readonly MachineState[]>> = {
  unknown: ['installing', 'running', 'configured', 'failed'],
  configured: ['installing', 'failed', 'running'],
  installing: ['installing', 'installed', 'failed', 'configured'],
  installed: ['running', 'configured', 'installing', 'failed'],
  running: ['running', 'configured', 'installing', 'failed'],
  failed: ['installing', 'configured'],
};

export function isMachineState(value: unknown): value is MachineState {
  return typeof value === 'string' && (MACHINE_STATES as readonly string[]).includes(value);
}

export function canTransition(from: MachineState, to: MachineState): boolean {
  return ALLOWED_TRANSITIONS[from].includes(to);
}
