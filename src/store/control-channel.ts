import type { Redis } from 'ioredis';

/** Messages every process of the fleet acts on. */
export type ControlMessage = { type: 'cancel-running'; reason: string; queues: string[] | 'all' };

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
        if (ch === channel) {
          onMessage(JSON.parse(raw) as ControlMessage);
        }
      });
      await subscriber.subscribe(channel);
    },
    async close() {
      if (subscriber) {
        await subscriber.quit().catch(() => undefined);
      }
    },
  };
}
