import type { Alert, AlertChanges, AlertEvent, AlertTransition } from './alert.js';

/** Where alerts and their history are kept (`store/alerts.store.ts`). */
export interface AlertStore {
  get(id: string): Promise<Alert | null>;
  /** The stored alerts among `ids`; unknown ids are left out. */
  getMany(ids: readonly string[]): Promise<Alert[]>;
  /** The open alerts: firing or acknowledged. */
  open(): Promise<Alert[]>;
  /** Every kept alert: the open ones, and the resolved ones within their retention. */
  list(): Promise<Alert[]>;
  /** Alerts resolved at or after `since`. */
  resolvedSince(since: Date): Promise<Alert[]>;
  /**
   * Writes the alerts and appends the transitions to the bounded history, in one step; forgets
   * resolved alerts past their retention.
   */
  save(changes: AlertChanges, at: Date): Promise<void>;
  /** Transitions, newest first; of one alert when `alertId` is given. */
  history(options?: { alertId?: string; limit?: number }): Promise<AlertTransition[]>;
  /** Runs `work` holding the fleet-wide alerts lock: evaluations, acknowledgements and delivery marks never interleave. */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
}

/** One notification to deliver: an event of one firing of an alert. */
export interface NotificationRequest {
  alertId: string;
  event: AlertEvent;
  /** The firing it is about (`Alert.firings`): a notification of an earlier firing is not sent. */
  firing: number;
}

/** The deliveries waiting to be made (BullMQ jobs of the bedrock-support queue, retried with back-off). */
export interface NotificationQueue {
  /** Enqueues one delivery, after `delayMs`. Asking again for the same request changes nothing. */
  enqueue(request: NotificationRequest, delayMs: number): Promise<void>;
}

/** Posts a notification to a webhook (`providers/alert-webhook.provider.ts`). */
export interface WebhookSender {
  /**
   * Posts `body` as JSON. Throws `WebhookRejectedError` when the webhook refuses it for good (a 4xx
   * other than 429), `WebhookUnavailableError` when it should be tried again.
   */
  post(url: string, body: unknown, signal?: AbortSignal): Promise<void>;
}
