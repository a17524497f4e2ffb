import type { Redis } from 'ioredis';
import { z } from 'zod';
import { closeRedis } from '../redis.js';

const controlMessageSchema = z.object({ type: z.literal('cancel-running'), reason: z.string() });

/** Messages every process of the fleet acts on: `cancel-running` cancels the running jobs of every worker process. */
export type ControlMessage = z.infer<typeof controlMessageSchema>;

/**
 * Fleet-wide commands over Redis pub/sub. Each worker process subscribes; an emergency
 * shutdown publishes `cancel-running` and learns how many processes heard it.
 */
export interface ControlChannel {
  publish(message: ControlMessage): Promise<number>;
  subscribe(onMessage: (message: ControlMessage) => void): Promise<void>;
  close(): Promise<void>;
}

/** `subscriber` must be a dedicated connection: a subscribed connection can do nothing else. */
export function createControlChannel(publisher: Redis, subscriber: Redis | null, keyPrefix: string): ControlChannel {
  const channel = `${keyPrefix}:control`;
  return {
    publish: (message) => publisher.publish(channel, JSON.stringify(message)),
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
