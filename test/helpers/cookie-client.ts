/**
 * A client that keeps cookies, as a browser does, for tests through the proxy or against
 * a node: every reply gives its status, JSON body and the node that served it.
 */
export interface Reply<T = any> {
  readonly status: number;
  readonly body: T;
  readonly node: string | null;
  readonly headers: Headers;
}

/** Keeps what `Set-Cookie` lines say in `cookies`, as a browser does (an empty value or Max-Age=0 deletes). */
export function rememberCookies(cookies: Map<string, string>, setCookies: readonly string[]): void {
  for (const line of setCookies) {
    const [pair] = line.split(';');
    const at = pair!.indexOf('=');
    const [name, value] = [pair!.slice(0, at).trim(), pair!.slice(at + 1).trim()];
    if (value === '' || /;\s*Max-Age=0/i.test(line)) cookies.delete(name);
    else cookies.set(name, value);
  }
}

export class CookieClient {
  readonly cookies = new Map<string, string>();

  constructor(private base: string) {}

  /** Sends later requests elsewhere, with the same cookies. */
  retarget(base: string): void {
    this.base = base;
  }

  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request<T = any>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (this.cookies.size > 0) headers.cookie = this.cookieHeader;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
    rememberCookies(this.cookies, response.headers.getSetCookie());
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (the page)
    }
    return { status: response.status, body: parsed as T, node: response.headers.get('x-castmirror-node'), headers: response.headers };
  }

  get<T = any>(path: string): Promise<Reply<T>> {
    return this.request<T>('GET', path);
  }

  post<T = any>(path: string, body: unknown): Promise<Reply<T>> {
    return this.request<T>('POST', path, body);
  }

  put<T = any>(path: string, body: unknown): Promise<Reply<T>> {
    return this.request<T>('PUT', path, body);
  }
}
