/** What was read back from Redis is not what this version stored: a corrupt or foreign value. */
export class StoredDataError extends Error {
  override readonly name = 'StoredDataError';
}

/** Parses JSON read from Redis; a value that is not JSON is a {@link StoredDataError} naming `what`. */
export function parseStored(raw: string, what: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new StoredDataError(`${what}: stored value is not JSON`);
  }
}
