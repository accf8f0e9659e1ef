/**
 * A thin, position-aware reader over @xmldom/xmldom elements.
 *
 * Every getter records what it consumed, so that after reading, `reportUnknown()` can name
 * each element and attribute nobody asked for. Problems are collected as diagnostics with
 * the line and column of the offending element or attribute; nothing throws, so one run
 * reports every error in the file.
 */
import { DOMParser, type Element, type Attr, type Node } from '@xmldom/xmldom';
import type { ConfigDiagnostic } from '../errors.js';
import { closest } from '../util/suggest.js';

const ELEMENT_NODE = 1;
const ATTRIBUTE_NODE = 2;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;

export interface Position {
  readonly line: number;
  readonly column: number;
}

export class Diagnostics {
  readonly list: ConfigDiagnostic[] = [];
  constructor(readonly file: string) {}

  add(at: Position, message: string): void {
    this.list.push({ file: this.file, line: at.line, column: at.column, message });
  }
}

export interface IntRule {
  readonly min: number;
  readonly max: number;
}

function positionOf(node: Node | Attr): Position {
  const line = node.lineNumber ?? 1;
  const column = node.columnNumber ?? 1;
  // xmldom positions an attribute at its value; point at its name (name="value").
  if (node.nodeType === ATTRIBUTE_NODE) return { line, column: Math.max(1, column - (node as Attr).name.length - 1) };
  return { line, column };
}

/**
 * xmldom reports a malformed construct where it stopped reading: just after the previous
 * token, often the end of the line before. The construct itself is at the next character
 * that is not white space.
 */
function nextTokenAt(text: string, at: Position): Position {
  let offset = 0;
  for (let line = 1; line < at.line && offset >= 0; line++) offset = text.indexOf('\n', offset) + 1;
  if (offset < 0) return at;
  offset += at.column - 1;
  let { line, column } = at;
  while (offset < text.length && /\s/.test(text[offset]!)) {
    if (text[offset] === '\n') {
      line += 1;
      column = 1;
    } else {
      column += 1;
    }
    offset += 1;
  }
  return { line, column };
}

/** Parses XML text; returns the root element, or undefined after recording why it could not. */
export function parseXml(text: string, diagnostics: Diagnostics): ElementReader | undefined {
  let failed = false;
  let document;
  try {
    document = new DOMParser({
      onError(level, message, context) {
        if (level === 'warning') return;
        // Non-fatal errors carry the parser's locator in their context.
        const locator = (context as { locator?: { lineNumber?: number; columnNumber?: number } } | undefined)?.locator;
        failed = true;
        if (level === 'error') {
          diagnostics.add(nextTokenAt(text, { line: locator?.lineNumber ?? 1, column: locator?.columnNumber ?? 1 }), `malformed XML: ${message}`);
        }
      },
    }).parseFromString(text, 'text/xml');
  } catch (error) {
    const locator = (error as { locator?: { lineNumber?: number; columnNumber?: number } }).locator;
    const message = (error as Error).message.split('\n')[0] ?? 'unreadable XML';
    diagnostics.add(nextTokenAt(text, { line: Math.max(1, locator?.lineNumber ?? 1), column: Math.max(1, locator?.columnNumber ?? 1) }), `malformed XML: ${message}`);
    return undefined;
  }
  const root = document.documentElement;
  if (failed || !root) return undefined;
  return new ElementReader(root, diagnostics);
}

export class ElementReader {
  readonly name: string;
  readonly position: Position;
  private readonly consumedAttributes = new Set<string>();
  private readonly consumedChildren = new Set<string>();
  private readonly checkedSingles = new Set<string>();

  constructor(
    private readonly element: Element,
    private readonly diagnostics: Diagnostics,
  ) {
    this.name = element.tagName;
    this.position = positionOf(element);
  }

  error(message: string, at: Position = this.position): void {
    this.diagnostics.add(at, message);
  }

  /** All child elements with this name. */
  children(name: string): ElementReader[] {
    this.consumedChildren.add(name);
    const found: ElementReader[] = [];
    for (let node = this.element.firstChild; node; node = node.nextSibling) {
      if (node.nodeType === ELEMENT_NODE && (node as Element).tagName === name) {
        found.push(new ElementReader(node as Element, this.diagnostics));
      }
    }
    return found;
  }

  /** The single child with this name; a second one is reported. */
  child(name: string, options: { required?: boolean } = {}): ElementReader | undefined {
    const found = this.children(name);
    if (!this.checkedSingles.has(name)) {
      this.checkedSingles.add(name);
      for (const extra of found.slice(1)) extra.error(`<${name}> may appear only once in <${this.name}>`);
    }
    if (found.length === 0 && options.required) this.error(`<${this.name}> is missing <${name}>`);
    return found[0];
  }

  private attributeNode(name: string): Attr | undefined {
    this.consumedAttributes.add(name);
    return this.element.getAttributeNode(name) ?? undefined;
  }

  hasAttribute(name: string): boolean {
    return this.element.hasAttribute(name);
  }

  attribute(name: string, options: { required?: boolean } = {}): { value: string; position: Position } | undefined {
    const node = this.attributeNode(name);
    if (!node) {
      if (options.required) this.error(`<${this.name}> is missing the ${name} attribute`);
      return undefined;
    }
    const value = node.value.trim();
    if (value === '') {
      this.error(`${name} on <${this.name}> is empty`, positionOf(node));
      return undefined;
    }
    return { value, position: positionOf(node) };
  }

  stringAttribute(name: string, options: { required?: boolean; pattern?: RegExp; what?: string } = {}): string | undefined {
    const found = this.attribute(name, options);
    if (!found) return undefined;
    if (options.pattern && !options.pattern.test(found.value)) {
      this.error(`${name}="${found.value}" on <${this.name}> is not ${options.what ?? `of the form ${options.pattern}`}`, found.position);
      return undefined;
    }
    return found.value;
  }

  intAttribute(name: string, rule: IntRule, options: { required?: boolean } = {}): number | undefined {
    const found = this.attribute(name, options);
    if (!found) return undefined;
    return checkInt(found.value, rule, `${name} on <${this.name}>`, found.position, this.diagnostics);
  }

  enumAttribute<T extends string>(name: string, allowed: readonly T[], options: { required?: boolean } = {}): T | undefined {
    const found = this.attribute(name, options);
    if (!found) return undefined;
    if (!(allowed as readonly string[]).includes(found.value)) {
      this.error(`${name}="${found.value}" on <${this.name}> must be one of ${allowed.join(', ')}`, found.position);
      return undefined;
    }
    return found.value as T;
  }

  /** Text content, trimmed; reports child elements inside a text-only element. */
  text(options: { required?: boolean } = {}): string | undefined {
    let text = '';
    for (let node = this.element.firstChild; node; node = node.nextSibling) {
      if (node.nodeType === TEXT_NODE || node.nodeType === CDATA_SECTION_NODE) text += node.nodeValue ?? '';
    }
    text = text.trim();
    if (text === '') {
      if (options.required) this.error(`<${this.name}> is empty`);
      return undefined;
    }
    return text;
  }

  intText(rule: IntRule): number | undefined {
    const text = this.text({ required: true });
    if (text === undefined) return undefined;
    return checkInt(text, rule, `<${this.name}>`, this.position, this.diagnostics);
  }

  /** Reports every attribute and child element that no getter asked for. */
  reportUnknown(): void {
    const attributes = this.element.attributes;
    for (let i = 0; i < attributes.length; i++) {
      const attribute = attributes.item(i);
      if (!attribute || this.consumedAttributes.has(attribute.name) || attribute.name.startsWith('xmlns')) continue;
      const known = [...this.consumedAttributes];
      this.error(`unknown attribute ${attribute.name} on <${this.name}>${suggest(attribute.name, known)}`, positionOf(attribute));
    }
    for (let node = this.element.firstChild; node; node = node.nextSibling) {
      if (node.nodeType === ELEMENT_NODE) {
        const tag = (node as Element).tagName;
        if (this.consumedChildren.has(tag)) continue;
        this.error(`unknown element <${tag}> in <${this.name}>${suggest(tag, [...this.consumedChildren], '<', '>')}`, positionOf(node));
      } else if ((node.nodeType === TEXT_NODE || node.nodeType === CDATA_SECTION_NODE) && this.consumedChildren.size > 0) {
        const text = (node.nodeValue ?? '').trim();
        if (text !== '') this.error(`unexpected text "${truncate(text)}" in <${this.name}>`, positionOf(node));
      }
    }
  }
}

function checkInt(text: string, rule: IntRule, what: string, at: Position, diagnostics: Diagnostics): number | undefined {
  if (!/^-?\d+$/.test(text)) {
    diagnostics.add(at, `${what} must be a whole number, not "${truncate(text)}"`);
    return undefined;
  }
  const value = Number(text);
  if (value < rule.min || value > rule.max) {
    diagnostics.add(at, `${what} must be between ${rule.min} and ${rule.max}, not ${text}`);
    return undefined;
  }
  return value;
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function suggest(name: string, known: readonly string[], open = '', close = ''): string {
  const best = closest(name, known);
  return best ? ` (did you mean ${open}${best}${close}?)` : '';
}
