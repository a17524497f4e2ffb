/**
 * Public ids of job results (`audit-…`, `analysis-…`): a triggered job's id is its public id; a
 * scheduled run's job id (`repeat:<scheduler>:<ms>`) is written with dots after the prefix.
 */
export function publicIdOf(prefix: string, jobId: string): string {
  return jobId.startsWith(`${prefix}-`) ? jobId : `${prefix}-${jobId.replaceAll(':', '.')}`;
}

/** The job id behind a public id, or null when it is not one of `prefix`. */
export function jobIdOfPublic(prefix: string, id: string): string | null {
  if (!new RegExp(`^${prefix}-[A-Za-z0-9._-]{1,120}$`).test(id)) {
    return null;
  }
  const rest = id.slice(prefix.length + 1);
  return rest.startsWith('repeat.') ? rest.replaceAll('.', ':') : id;
}
