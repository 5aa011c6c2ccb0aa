import type http from "node:http";
import { inspect, type InspectOptionsStylized } from "node:util";

/**
 * Headers' operations as methods: undici-types declares them as readonly
 * function properties, which TypeScript will not let a subclass override
 * with methods (it is the same prototype method at run time).
 */
interface HeadersMethods {
  append(name: string, value: string): void;
  delete(name: string): void;
  get(name: string): string | null;
  has(name: string): boolean;
  set(name: string, value: string): void;
  getSetCookie(): string[];
  forEach(callbackfn: (value: string, key: string, iterable: Headers) => void, thisArg?: unknown): void;
  keys(): ReturnType<Headers["keys"]>;
  values(): ReturnType<Headers["values"]>;
  entries(): ReturnType<Headers["entries"]>;
  [Symbol.iterator](): ReturnType<Headers["entries"]>;
}

const OverridableHeaders: new () => HeadersMethods = Headers;

/** undici's own inspect hook, called on the filled list so the output is the eager Headers' output. */
const inspectHeaders = (Headers.prototype as unknown as Record<typeof inspect.custom, (depth: number, options: InspectOptionsStylized) => string>)[
  inspect.custom
];

/**
 * A request's Headers that answers `get` and `has` from Node's header object
 * until something else is asked of it; then it becomes what `webHeaders`
 * builds, and undici answers everything. Building the Headers up front costs
 * several microseconds per call (undici checks every name and value) when an
 * interceptor reads one header.
 *
 * Reading Node's object directly gives undici's answer because Node's
 * parsers only produce lowercase token names and values without NUL, CR or
 * LF (latin1 decoded), so no append `webHeaders` makes could throw or drop
 * anything; a name that is not a plain token (a pseudo-header, a wrong type,
 * anything undici would reject or convert) is left to undici.
 */
export class LazyRequestHeaders extends OverridableHeaders implements Headers {
  /** Node's headers until the list is filled; undefined after, when undici holds the truth. */
  #node: http.IncomingHttpHeaders | undefined;

  constructor(node: http.IncomingHttpHeaders) {
    super();
    this.#node = node;
  }

  override get(...args: [name: string]): string | null {
    const [name] = args;
    if (this.#node !== undefined && typeof name === "string" && PLAIN_TOKEN.test(name)) return headerValue(this.#node, name.toLowerCase());
    this.#fill();
    return super.get(...args);
  }

  override has(...args: [name: string]): boolean {
    const [name] = args;
    if (this.#node !== undefined && typeof name === "string" && PLAIN_TOKEN.test(name)) return headerValue(this.#node, name.toLowerCase()) !== null;
    this.#fill();
    return super.has(...args);
  }

  // Everything else fills first; the argument lists pass through as given so undici's own arity and type checks apply.
  override append(...args: [name: string, value: string]): void {
    this.#fill();
    super.append(...args);
  }

  override delete(...args: [name: string]): void {
    this.#fill();
    super.delete(...args);
  }

  override set(...args: [name: string, value: string]): void {
    this.#fill();
    super.set(...args);
  }

  override getSetCookie(): string[] {
    this.#fill();
    return super.getSetCookie();
  }

  override forEach(...args: Parameters<Headers["forEach"]>): void {
    this.#fill();
    super.forEach(...args);
  }

  override keys(): ReturnType<Headers["keys"]> {
    this.#fill();
    return super.keys();
  }

  override values(): ReturnType<Headers["values"]> {
    this.#fill();
    return super.values();
  }

  override entries(): ReturnType<Headers["entries"]> {
    this.#fill();
    return super.entries();
  }

  // undici copies a Headers init (new Headers(h), fetch, Response) through this iterator, so copies fill too.
  override [Symbol.iterator](): ReturnType<Headers["entries"]> {
    this.#fill();
    return super[Symbol.iterator]();
  }

  [inspect.custom](depth: number, options: InspectOptionsStylized): string {
    this.#fill();
    return inspectHeaders.call(this, depth, options);
  }

  #fill(): void {
    const node = this.#node;
    if (node === undefined) return;
    // Cleared first: were an append to throw, the next call must not append the same headers again.
    this.#node = undefined;
    appendNodeHeaders(node, (name, value) => super.append(name, value));
  }
}

/** The eager equivalent: every header of Node's object appended to a new Headers, pseudo-headers left out. */
export function webHeaders(headers: http.IncomingHttpHeaders): Headers {
  const web = new Headers();
  appendNodeHeaders(headers, (name, value) => web.append(name, value));
  return web;
}

function appendNodeHeaders(headers: http.IncomingHttpHeaders, append: (name: string, value: string) => void): void {
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (typeof value === "string") append(name, value);
    else for (const item of value) append(name, item);
  }
}

/**
 * What `Headers.get` would answer for a request header (a lowercase name),
 * without building the Headers: undici trims each appended value, then joins
 * them. Only own strings and arrays count: HTTP/1.1's header object inherits
 * from Object.prototype, so `constructor` would otherwise be found.
 */
export function headerValue(headers: http.IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];
  if (typeof value === "string") return trimmed(value);
  if (!Array.isArray(value) || value.length === 0) return null;
  let joined = trimmed(value[0]!);
  for (let i = 1; i < value.length; i++) joined += (name === "cookie" ? "; " : ", ") + trimmed(value[i]!);
  return joined;
}

function trimmed(value: string): string {
  return HTTP_WHITESPACE_AT_ENDS.test(value) ? value.replace(HTTP_WHITESPACE_TRIM, "") : value;
}

// A header name undici takes as it is: a non-empty RFC 9110 token, which ASCII lowercasing cannot change the validity of.
const PLAIN_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// What the fetch standard strips from both ends of a header value.
const HTTP_WHITESPACE_AT_ENDS = /^[\t\n\r ]|[\t\n\r ]$/;
const HTTP_WHITESPACE_TRIM = /^[\t\n\r ]+|[\t\n\r ]+$/g;
