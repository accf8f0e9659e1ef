/**
 * Logical references: a small canonical value from which an object can be rebuilt (a
 * product id instead of the product; {query, pageSize, page} instead of 40 result rows).
 * Sessions store and mirror the reference; the live object is rebuilt with `fromRef` only
 * where it is needed (on the primary, after a takeover or fetch).
 *
 * On the wire a reference is the CBOR tag 40501 around [kind, ref].
 */
import { addExtension } from 'cbor-x';
import { InvalidArgumentError } from '../errors.js';

export const REFERENCE_TAG = 40501;

/** A stored reference: `kind` names its definition, `ref` is plain data. */
export class LogicalRef {
  constructor(
    readonly kind: string,
    readonly ref: unknown,
  ) {}
}

addExtension({
  Class: LogicalRef,
  tag: REFERENCE_TAG,
  encode(instance: LogicalRef, encode: (value: unknown) => Uint8Array) {
    return encode([instance.kind, instance.ref]);
  },
  decode(data: unknown) {
    // Shape-checked again where sessions are decoded; here only what the tag needs.
    if (!Array.isArray(data) || data.length !== 2 || typeof data[0] !== 'string') return new LogicalRef('', undefined);
    return new LogicalRef(data[0], data[1]);
  },
});

export interface ReferenceDefinition<T = unknown, R = unknown, C = unknown> {
  /** True for values this definition stores as references. */
  match(value: unknown): value is T;
  /** The canonical, small, plain-data form. */
  toRef(value: T): R;
  /** Rebuilds the object; may be async (a database read). */
  fromRef(ref: R, context: C): T | Promise<T>;
}

const KIND = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;

/** The reference kinds known to one application; every node must define the same kinds. */
export class ReferenceRegistry<C = unknown> {
  private readonly definitions = new Map<string, ReferenceDefinition<unknown, unknown, C>>();

  define<T, R>(kind: string, definition: ReferenceDefinition<T, R, C>): this {
    if (!KIND.test(kind)) throw new InvalidArgumentError(`reference kind must be a name of 1-64 letters, digits, ".", "_" or "-", not "${kind}"`);
    if (this.definitions.has(kind)) throw new InvalidArgumentError(`reference kind "${kind}" is already defined`);
    this.definitions.set(kind, definition as unknown as ReferenceDefinition<unknown, unknown, C>);
    return this;
  }

  /** The reference for `value`, or undefined when no definition matches it. */
  toRef(value: unknown): LogicalRef | undefined {
    for (const [kind, definition] of this.definitions) {
      if (definition.match(value)) return new LogicalRef(kind, definition.toRef(value));
    }
    return undefined;
  }

  async fromRef(stored: LogicalRef, context: C): Promise<unknown> {
    const definition = this.definitions.get(stored.kind);
    if (!definition) throw new InvalidArgumentError(`no reference kind "${stored.kind}" is defined on this node`);
    return definition.fromRef(stored.ref, context);
  }

  has(kind: string): boolean {
    return this.definitions.has(kind);
  }
}
