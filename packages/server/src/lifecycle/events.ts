/**
 * What the lifecycle publishes. It has the shape of the event bus's CocoonEvent (docs/architecture.md)
 * minus the `id`, which the bus assigns; the lifecycle does not depend on the events module.
 */
export interface LifecycleEvent {
  source: 'server';
  /** state-change, enrolled, progress, installed, failed, boot-complete, decommissioned, declared,
   *  rescue-served, failsafe, failsafe-cleared */
  type: string;
  time: string;
  serial?: string;
  mac?: string;
  ip?: string;
  message: string;
  data?: Record<string, unknown>;
}

export type EventSink = (event: LifecycleEvent) => void;

/** A plain function, or anything with a `publish` method (the EventBus). */
export type EventTarget = EventSink | { publish(event: LifecycleEvent): unknown };

export function toSink(target: EventTarget | undefined): EventSink {
  if (!target) return () => undefined;
  if (typeof target === 'function') return target;
  return (e) => {
    target.publish(e);
  };
}
