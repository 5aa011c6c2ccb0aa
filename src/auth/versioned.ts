/** A value that may be replaced while in use (a reloaded file), and a count of its versions for caches. */
export interface Versioned<T> {
  current(): T;
  /** Counts successful loads, so caches can tell a reloaded value from the old one. */
  version(): number;
}

/** A value that never changes: the edge entry's users and permissions, read from settings once. */
export function fixed<T>(value: T): Versioned<T> {
  return { current: () => value, version: () => 1 };
}
