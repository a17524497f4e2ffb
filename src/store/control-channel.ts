import type { Redis } from 'ioredis';
import { z } from 'zod';
import { setTimeout as delay } from 'node:timers/promises';
import type { FleetControl, RestartAnswer as DomainRestartAnswer } from '../domain/fleet/ports.js';
import { queueNames } from '../domain/queue-names.js';
import { closeRedis } from '../redis.js';

const controlMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('cancel-running'), reason: z.string() }),
  z.object({ type: z.literal('restart-queue'), queue: z.enum(queueNames), requestId: z.string().min(1).max(100) }),
]);

/**
 * Messages every process of the fleet acts on: `cancel-running` cancels the running jobs of every
 * worker process; `restart-queue` has each one close its workers of a queue and start them again,
 * then answer ({@link ControlChannel.answer}).
 */
export type ControlMessage = z.infer<typeof controlMessageSchema>;

/** What a worker process answers to a `restart-queue`. */
export const restartAnswerSchema = z.object({ worker: z.string(), restarted: z.boolean(), tookMs: z.number(), error: z.string().nullable() });
export type RestartAnswer = z.infer<typeof restartAnswerSchema> & DomainRestartAnswer;

/** How long answers to a request are kept. */
const answersKeptMs = 120_000;

/**
 * Fleet-wide commands over Redis pub/sub. Each worker process subscribes; an emergency
 * shutdown publishes `cancel-running` and learns how many processes heard it.
 */
export interface ControlChannel {
  /** Publishes to every subscribed process; resolves with how many heard it. */
  publish(message: ControlMessage): Promise<number>;
  /** A process's answer to request `requestId`. */
  answer(requestId: string, reply: RestartAnswer): Promise<void>;
  /**
   * The answers to `requestId` once `expected` have come, or whatever came within `timeoutMs`;
   * answers that do not parse are dropped.
   */
  answers(requestId: string, expected: number, timeoutMs: number): Promise<RestartAnswer[]>;
  subscribe(onMessage: (message: ControlMessage) => void): Promise<void>;
  close(): Promise<void>;
}

/** `subscriber` must be a dedicated connection: a subscribed connection can do nothing else. */
export function createControlChannel(publisher: Redis, subscriber: Redis | null, keyPrefix: string): ControlChannel {
  const channel = `${keyPrefix}:control`;
  return {
    publish: (message) => publisher.publish(channel, JSON.stringify(message)),
    async answer(requestId, reply) {
      const key = `${channel}:answers:${requestId}`;
      await publisher.multi().rpush(key, JSON.stringify(reply)).pexpire(key, answersKeptMs).exec();
    },
    async answers(requestId, expected, timeoutMs) {
      const key = `${channel}:answers:${requestId}`;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const raw = await publisher.lrange(key, 0, -1);
        if (raw.length >= expected || Date.now() >= deadline) {
          return raw.flatMap((r) => {
            try {
              const parsed = restartAnswerSchema.safeParse(JSON.parse(r));
              return parsed.success ? [parsed.data] : [];
            } catch {
              return [];
            }
          });
        }
        await delay(50);
      }
    },
    async subscribe(onMessage) {
      if (!subscriber) {
        throw new Error('control channel: no subscriber connection');
      }
      subscriber.on('message', (ch: string, raw: string) => {
        if (ch !== channel) {
          return;
        }
        // Anything else on the channel (another version, a stray PUBLISH) is not a command.
        let parsed: ReturnType<typeof controlMessageSchema.safeParse>;
        try {
          parsed = controlMessageSchema.safeParse(JSON.parse(raw));
        } catch {
          return;
        }
        if (parsed.success) {
          onMessage(parsed.data);
        }
      });
      await subscriber.subscribe(channel);
    },
    async close() {
      if (subscriber) {
        await closeRedis(subscriber);
      }
    },
  };
}

/** The fleet's commands over a control channel. */
export function fleetControlOver(control: ControlChannel): FleetControl {
  return {
    async restartQueue(queue, requestId, timeoutMs) {
      const heard = await control.publish({ type: 'restart-queue', queue, requestId });
      return { heard, answers: heard === 0 ? [] : await control.answers(requestId, heard, timeoutMs) };
    },
  };
}
