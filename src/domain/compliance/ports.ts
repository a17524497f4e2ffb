/** Detections of PII by type, in total and per UTC day, for the compliance status. */
export interface PiiCounter {
  add(counts: Readonly<Record<string, number>>, at?: Date): Promise<void>;
  read(options?: { days?: number; now?: Date }): Promise<{ total: Record<string, number>; days: { day: string; counts: Record<string, number> }[] }>;
}
