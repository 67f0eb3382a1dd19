/**
 * One copy of each repeated string (a fleet's states, profile names, event messages): callers
 * keep the returned string instead of their own equal one. Bounded: when `capacity` distinct
 * strings are held it starts over, so a drifting set of values cannot grow it without end (the
 * strings already handed out stay valid, they are only no longer shared with later ones).
 */
export class Interner {
  private readonly known = new Map<string, string>();

  constructor(
    private readonly capacity: number,
    /** Longer strings are returned as they are: they rarely repeat and would crowd out the rest. */
    private readonly maxLength = 128,
  ) {}

  intern(value: string): string {
    if (value.length > this.maxLength) return value;
    const known = this.known.get(value);
    if (known !== undefined) return known;
    if (this.known.size >= this.capacity) this.known.clear();
    this.known.set(value, value);
    return value;
  }

  get size(): number {
    return this.known.size;
  }
}
