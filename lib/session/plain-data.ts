/**
 * What a session may hold as raw data: values that survive CBOR unchanged. Checked at
 * `set()`, so that a value that cannot be mirrored fails where it is stored, naming its pool
 * and key, and never later at mirroring time.
 */

const MAX_DEPTH = 32;

/** Returns a description of the first problem, or undefined when `value` is plain data. */
export function plainDataProblem(value: unknown): string | undefined {
  return check(value, '', 0, new Set());
}

function check(value: unknown, path: string, depth: number, seen: Set<object>): string | undefined {
  const at = path === '' ? '' : ` at ${path}`;
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'bigint':
    case 'number':
      return undefined;
    case 'undefined':
      return depth === 0 ? 'undefined cannot be stored (delete the key instead)' : undefined;
    case 'function':
      return `a function${at} cannot be stored`;
    case 'symbol':
      return `a symbol${at} cannot be stored`;
  }
  if (value === null) return undefined;
  if (depth > MAX_DEPTH) return `nesting deeper than ${MAX_DEPTH}${at}`;
  const object = value as object;
  if (seen.has(object)) return `a circular reference${at}`;
  if (value instanceof Date || ArrayBuffer.isView(value)) return undefined;
  seen.add(object);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const problem = check(value[i], `${path}[${i}]`, depth + 1, seen);
        if (problem) return problem;
      }
      return undefined;
    }
    if (value instanceof Map) {
      for (const [k, v] of value) {
        const problem = check(k, `${path}<key>`, depth + 1, seen) ?? check(v, `${path}.get(${String(k)})`, depth + 1, seen);
        if (problem) return problem;
      }
      return undefined;
    }
    if (value instanceof Set) {
      for (const v of value) {
        const problem = check(v, `${path}<item>`, depth + 1, seen);
        if (problem) return problem;
      }
      return undefined;
    }
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      return `an instance of ${name}${at} would lose its class: store plain data, or define a logical reference for it`;
    }
    for (const [k, v] of Object.entries(object)) {
      const problem = check(v, path === '' ? k : `${path}.${k}`, depth + 1, seen);
      if (problem) return problem;
    }
    return undefined;
  } finally {
    seen.delete(object);
  }
}
