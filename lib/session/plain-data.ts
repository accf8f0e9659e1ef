/**
 * What a session may hold as raw data: values that survive CBOR unchanged. Checked at
 * `set()`, so that a value that cannot be mirrored fails where it is stored, naming its pool
 * and key, and never later at mirroring time.
 *
 * The check runs on every `set()`, so plain data costs a walk and nothing else: the path to a
 * problem (`cart.items[3]`) is put together only once there is one.
 */

const MAX_DEPTH = 32;

/** One step from a value to what it contains, as the message names it. */
type Step = { readonly key: string } | { readonly index: number } | { readonly mapKey: true } | { readonly mapGet: string } | { readonly item: true };

interface Problem {
  /** Steps from the deepest up: reversed when the path is written. */
  readonly steps: Step[];
  readonly describe: (at: string) => string;
}

/** Returns a description of the first problem, or undefined when `value` is plain data. */
export function plainDataProblem(value: unknown): string | undefined {
  const problem = check(value, 0, []);
  if (!problem) return undefined;
  const path = pathOf(problem.steps);
  return problem.describe(path === '' ? '' : ` at ${path}`);
}

function pathOf(steps: readonly Step[]): string {
  let path = '';
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!;
    if ('key' in step) path = path === '' ? step.key : `${path}.${step.key}`;
    else if ('index' in step) path = `${path}[${step.index}]`;
    else if ('mapKey' in step) path = `${path}<key>`;
    else if ('mapGet' in step) path = `${path}.get(${step.mapGet})`;
    else path = `${path}<item>`;
  }
  return path;
}

const problem = (describe: (at: string) => string): Problem => ({ steps: [], describe });

/** `inside`: the objects on the way here, for cycles (at most MAX_DEPTH of them). */
function check(value: unknown, depth: number, inside: object[]): Problem | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'bigint':
    case 'number':
      return undefined;
    case 'undefined':
      return depth === 0 ? problem(() => 'undefined cannot be stored (delete the key instead)') : undefined;
    case 'function':
      return problem((at) => `a function${at} cannot be stored`);
    case 'symbol':
      return problem((at) => `a symbol${at} cannot be stored`);
  }
  if (value === null) return undefined;
  if (depth > MAX_DEPTH) return problem((at) => `nesting deeper than ${MAX_DEPTH}${at}`);
  const object = value as object;
  if (inside.includes(object)) return problem((at) => `a circular reference${at}`);
  if (value instanceof Date || ArrayBuffer.isView(value)) return undefined;
  inside.push(object);
  try {
    return checkContents(object, depth, inside);
  } finally {
    inside.pop();
  }
}

function within(found: Problem | undefined, step: Step): Problem | undefined {
  found?.steps.push(step);
  return found;
}

function checkContents(value: object, depth: number, inside: object[]): Problem | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = check(value[i], depth + 1, inside);
      if (found) return within(found, { index: i });
    }
    return undefined;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      const inKey = check(k, depth + 1, inside);
      if (inKey) return within(inKey, { mapKey: true });
      const inValue = check(v, depth + 1, inside);
      if (inValue) return within(inValue, { mapGet: String(k) });
    }
    return undefined;
  }
  if (value instanceof Set) {
    for (const v of value) {
      const found = check(v, depth + 1, inside);
      if (found) return within(found, { item: true });
    }
    return undefined;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
    return problem((at) => `an instance of ${name}${at} would lose its class: store plain data, or define a logical reference for it`);
  }
  for (const key of Object.keys(value)) {
    const found = check((value as Record<string, unknown>)[key], depth + 1, inside);
    if (found) return within(found, { key });
  }
  return undefined;
}
