import type { Profile } from '../config/types.js';
import { CocoonError } from '../util/errors.js';

export const DEFAULT_PROFILE = 'default';

/**
 * Profile membership counts. A machine gets the first profile (in config order) with a quantity
 * that is not yet full, else `default`; profiles without a quantity are only given explicitly
 * (declared machines, operators), as in mayu. Membership is keyed by serial and taken under the
 * store's allocation lock, so concurrent enrollments can never overfill a profile.
 */
export class ProfileQuota {
  private readonly members = new Map<string, string>();
  private readonly counts = new Map<string, number>();
  private readonly byName: Map<string, Profile>;

  constructor(private readonly profiles: readonly Profile[]) {
    this.byName = new Map(profiles.map((p) => [p.name, p]));
  }

  has(name: string): boolean {
    return name === DEFAULT_PROFILE || this.byName.has(name);
  }

  count(name: string): number {
    return this.counts.get(name) ?? 0;
  }

  profileOf(serial: string): string | undefined {
    return this.members.get(serial);
  }

  /** The machine's profile, choosing (and taking a place in) one if it has none. */
  choose(serial: string): string {
    const have = this.members.get(serial);
    if (have !== undefined) return have;
    for (const p of this.profiles) {
      if (p.name === DEFAULT_PROFILE || p.quantity === undefined) continue;
      if (this.count(p.name) < p.quantity) {
        this.set(serial, p.name);
        return p.name;
      }
    }
    this.set(serial, DEFAULT_PROFILE);
    return DEFAULT_PROFILE;
  }

  /**
   * Puts the machine into `name` explicitly. With `enforce`, a full profile is refused
   * ('exhausted'); declarations by the operator in the config pass enforce=false.
   */
  assign(serial: string, name: string, enforce: boolean, field = 'Profile'): void {
    if (!this.has(name)) {
      const known = [...new Set([...this.byName.keys(), DEFAULT_PROFILE])].join(', ');
      throw new CocoonError('invalid', `${field}: profile ${JSON.stringify(name)} does not exist (known: ${known})`, field);
    }
    if (this.members.get(serial) === name) return;
    const quantity = this.byName.get(name)?.quantity;
    if (enforce && quantity !== undefined && this.count(name) >= quantity) {
      throw new CocoonError('exhausted', `${field}: profile ${JSON.stringify(name)} is full (${this.count(name)} of ${quantity} machines)`, field);
    }
    this.set(serial, name);
  }

  /** Makes the counts agree with a stored record. */
  sync(serial: string, name: string | undefined): void {
    if (this.members.get(serial) === (name || undefined)) return;
    if (name) this.set(serial, name);
    else this.release(serial);
  }

  release(serial: string): void {
    const old = this.members.get(serial);
    if (old === undefined) return;
    this.members.delete(serial);
    this.counts.set(old, this.count(old) - 1);
  }

  private set(serial: string, name: string): void {
    this.release(serial);
    this.members.set(serial, name);
    this.counts.set(name, this.count(name) + 1);
  }
}
