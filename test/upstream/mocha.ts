/**
 * Runs a mocha-style suite (globals `describe`, `it`, `before`, `after`, `beforeEach`,
 * `afterEach`; `done` callbacks; `this` shared by a suite's hooks and tests) under node:test,
 * so that the frameworks' own test files run unchanged in `npm test`.
 */
import * as nodeTest from 'node:test';

type MochaFn = (this: object, done?: (error?: unknown) => void) => unknown;

const contexts: object[] = [{}];
const current = (): object => contexts.at(-1)!;

/** A node:test body that calls `fn` as mocha would: with `done` when it takes one, `this` the suite's context. */
function adapt(fn: MochaFn, context: () => object): nodeTest.TestFn & nodeTest.HookFn {
  if (fn.length === 0) return (() => fn.call(context())) as nodeTest.TestFn & nodeTest.HookFn;
  return ((_t: unknown, done: (error?: unknown) => void) => void fn.call(context(), (error?: unknown) => done(error ?? undefined))) as nodeTest.TestFn & nodeTest.HookFn;
}

export const mocha = {
  describe(name: string, body: () => void): void {
    const context = Object.create(current()) as object;
    nodeTest.describe(name, () => {
      contexts.push(context);
      try {
        body();
      } finally {
        contexts.pop();
      }
    });
  },
  it(name: string, fn: MochaFn): void {
    const context = current();
    nodeTest.it(name, adapt(fn, () => context));
  },
  before(fn: MochaFn): void {
    const context = current();
    nodeTest.before(adapt(fn, () => context));
  },
  after(fn: MochaFn): void {
    const context = current();
    nodeTest.after(adapt(fn, () => context));
  },
  beforeEach(fn: MochaFn): void {
    const context = current();
    nodeTest.beforeEach(adapt(fn, () => context));
  },
  afterEach(fn: MochaFn): void {
    const context = current();
    nodeTest.afterEach(adapt(fn, () => context));
  },
};

/** Installs the mocha globals for the suites required after this call. */
export function installMochaGlobals(): void {
  Object.assign(globalThis, mocha);
}
