/**
 * A copy of `o` without its undefined fields, so spreading it over defaults keeps the defaults
 * (`{ ...DEFAULTS, ...stripUndefined(options) }`): under exactOptionalPropertyTypes an explicit
 * `undefined` would otherwise overwrite them.
 */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
