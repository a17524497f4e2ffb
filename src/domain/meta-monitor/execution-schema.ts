/** The schema of an execution record that agents post, and of a record as stored. */
import { z } from 'zod';

/** Records one batch may hold. */
export const maxBatchRecords = 5_000;

export const executionStatuses = ['success', 'failure', 'timeout', 'error'] as const;

const text = (max: number) => z.string().min(1).max(max);

/** One execution as an agent posts it. */
export const executionRecordSchema = z
  .object({
    executionId: text(200),
    timestamp: z.union([z.iso.datetime({ offset: true }), z.number().int().min(0).max(8.64e15)]),
    operation: text(200),
    status: z.enum(executionStatuses),
    latencyMs: z.number().min(0),
    correlationId: text(200).optional(),
    context: z
      .object({
        userId: text(200).optional(),
        taskType: text(200).optional(),
        /** The model the execution called (an OTLP span's `gen_ai.request.model`). */
        model: text(200).optional(),
        complexity: z.union([z.string().max(200), z.number()]).optional(),
        metadata: z.record(z.string().max(200), z.union([z.string().max(4_000), z.number(), z.boolean()])).optional(),
      })
      .optional(),
    error: z
      .object({ type: z.string().max(200).optional(), message: z.string().max(8_000).optional(), code: z.union([z.string().max(200), z.number()]).optional(), stack: z.string().max(32_000).optional() })
      .optional(),
    performance: z
      .object({
        memoryUsage: z.number().optional(),
        cpuUsage: z.number().optional(),
        networkLatency: z.number().optional(),
        /** Tokens the model read and wrote (an OTLP span's `gen_ai.usage.input_tokens`, `…output_tokens`). */
        inputTokens: z.number().int().min(0).optional(),
        outputTokens: z.number().int().min(0).optional(),
      })
      .optional(),
  })
  .strict();

export type ExecutionRecordInput = z.infer<typeof executionRecordSchema>;

/** A record as stored: timestamp in epoch ms, free text redacted, `userId` replaced by its HMAC. */
export type ExecutionRecord = Omit<ExecutionRecordInput, 'timestamp'> & { timestamp: number };

/** A stored record read back (the store parses it through this). */
export const storedExecutionSchema = executionRecordSchema.extend({ timestamp: z.number() });
