/** What every socket reads from the settings, made once for all of them. */
import type { Config } from '../../config/load.js';
import type { SocketSettings } from './odooSocket.js';

export function socketSettings(config: Config): SocketSettings {
  return {
    maxBufferedBytes: config.maxBufferedBytes,
    messageLimits: {
      maxChannels: config.maxChannelsPerSubscribe,
      maxChannelLength: config.maxChannelLength,
      maxSubscribeBytes: config.maxSubscribeBytes,
    },
    pingAfterMs: config.pingAfterSeconds * 1000,
    pongTimeoutMs: config.pongTimeoutSeconds * 1000,
    sessionRecheckMs: config.sessionRecheckSeconds * 1000,
    keepAliveMs: config.keepAliveTimeoutSeconds * 1000,
    lateCommitWindowMs: config.lateCommitWindowSeconds * 1000,
    rateLimitBurst: config.rateLimitBurst,
    rateLimitWindowMs: config.rateLimitBurst * config.rateLimitDelay * 1000,
  };
}
