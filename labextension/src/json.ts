/** Narrowing untrusted JSON (payloads from saved notebooks and the kernel). */

/** Whether `value` is a JSON object (not null, not a list). */
export function isObject(value: unknown): value is { [key: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
