/**
 * A Redis whose PING takes this long or longer (ms) is slow. The one threshold for it: health
 * marks every component `degraded`, the infrastructure audit's `redis.latency` check warns, and the
 * alert rules raise `redis.slow` (P2). On loopback or a LAN a PING takes well under 1 ms.
 */
export const redisSlowMs = 100;
