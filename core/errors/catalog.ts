/**
 * The catalog mechanism. Each domain declares its codes next to its code
 * (`services/<name>/errors.ts`, `image/errors.ts`, `core/errors/coreErrors.ts`)
 * with defineErrors(), which registers them at run time and, through the
 * module augmentation of ErrorCodeMap, makes them valid ErrorCodes at compile
 * time. appliance/errors/catalog.ts imports every domain to form the whole
 * catalog and docs/errors.md.
 */
export interface ErrorEntry {
  /** HTTP status when the error ends a request. */
  status: number;
  /** What the error means, for docs/errors.md and as the default message. */
  description: string;
  /** What the user can do about it, when there is something to do. */
  hint?: string;
}

/** One member per code; each domain's errors.ts adds its own (declaration merging). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ErrorCodeMap {}

export type ErrorCode = Extract<keyof ErrorCodeMap, string>;

/** The shape a domain adds to ErrorCodeMap: `interface ErrorCodeMap extends CodesOf<typeof myErrors> {}`. */
export type CodesOf<T> = { readonly [K in keyof T]: true };

export interface RegisteredError extends ErrorEntry {
  domain: string;
}

const registry = new Map<string, RegisteredError>();

/** Registers a domain's codes; a code may belong to one domain only. */
export function defineErrors<const T extends Record<string, ErrorEntry>>(domain: string, entries: T): T {
  for (const [code, entry] of Object.entries(entries)) {
    const known = registry.get(code);
    if (known && known.domain !== domain) throw new Error(`error code ${code} is defined by both ${known.domain} and ${domain}`);
    registry.set(code, { ...entry, domain });
  }
  return entries;
}

export function errorEntry(code: string): RegisteredError | undefined {
  return registry.get(code);
}

/** Every registered code, in registration order. */
export function registeredErrors(): ReadonlyMap<string, RegisteredError> {
  return registry;
}
