/**
 * Time as the protocol logic sees it. Injected so that failure detection and timeouts can
 * be tested with a fake clock; production uses the monotonic clock (never the wall clock,
 * which may jump).
 */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer): void;
  setInterval(fn: () => void, ms: number): Timer;
  clearInterval(timer: Timer): void;
}

/** An opaque handle; Node's timers have `unref`, which the clock's users call when present. */
export type Timer = object & { unref?(): unknown };

export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (timer: Timer) => clearTimeout(timer as NodeJS.Timeout),
  setInterval: (fn: () => void, ms: number) => setInterval(fn, ms),
  clearInterval: (timer: Timer) => clearInterval(timer as NodeJS.Timeout),
});
