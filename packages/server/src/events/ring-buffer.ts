/** Slots a new buffer starts with; most machines' timelines hold a handful of events. */
const INITIAL_SLOTS = 4;

/**
 * Bounded FIFO: pushing into a full buffer drops the oldest item. The backing array starts small
 * and doubles up to `capacity`, so thousands of short timelines do not each hold `capacity` slots.
 */
export class RingBuffer<T> {
  private items: (T | undefined)[];
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring buffer capacity must be a positive integer, got ${capacity}`);
    this.items = new Array<T | undefined>(Math.min(INITIAL_SLOTS, capacity));
  }

  get length(): number {
    return this.size;
  }

  /** Slots currently allocated (grows to `capacity` as items arrive, never shrinks). */
  get allocated(): number {
    return this.items.length;
  }

  push(item: T): void {
    if (this.size === this.items.length && this.size < this.capacity) this.grow();
    const slots = this.items.length;
    this.items[(this.start + this.size) % slots] = item;
    if (this.size < slots) this.size++;
    else this.start = (this.start + 1) % slots;
  }

  /** The newest `limit` items (all by default), oldest first. */
  toArray(limit = this.size): T[] {
    const n = Math.max(0, Math.min(limit, this.size));
    const slots = this.items.length;
    const out: T[] = [];
    for (let i = this.size - n; i < this.size; i++) out.push(this.items[(this.start + i) % slots] as T);
    return out;
  }

  /** Unrolls the items into a larger array, oldest at index 0. */
  private grow(): void {
    const next = new Array<T | undefined>(Math.min(this.capacity, this.items.length * 2));
    for (let i = 0; i < this.size; i++) next[i] = this.items[(this.start + i) % this.items.length];
    this.items = next;
    this.start = 0;
  }
}
