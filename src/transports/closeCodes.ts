/**
 * Every websocket close code the sidecar sends, and why. Odoo's web client (16-19) never reconnects
 * after 1000, reconnects at once after 4002, waits for a new login after 4001, and reconnects with
 * backoff after anything else: so 1000 is kept for `OUTDATED_VERSION` alone, and every fault of
 * ours or of Odoo's uses a code the client retries.
 */
export const CloseCode = {
  /** Only with reason `OUTDATED_VERSION`: the page must be reloaded, the client stays closed. */
  CLEAN: 1000,
  /** Not sent by the sidecar itself (the client's own "going away"). */
  GOING_AWAY: 1001,
  /** Framing error (sent by the frame parser). */
  PROTOCOL_ERROR: 1002,
  /** Invalid UTF-8 in a text frame (sent by the frame parser). */
  INCONSISTENT_DATA: 1007,
  /** The database of the session is not served by this sidecar. */
  POLICY_VIOLATION: 1008,
  /** A message over 1 MiB (sent by the frame parser). */
  MESSAGE_TOO_BIG: 1009,
  /** An unexpected error in the sidecar. */
  SERVER_ERROR: 1011,
  /** Shutdown or restart of the sidecar: reconnect, possibly to another instance. */
  RESTART: 1012,
  /** Rate limit exceeded, slow consumer, or the queue of calls to Odoo full. */
  TRY_LATER: 1013,
  /** Odoo's HTTP workers down, failing or too slow to answer a subscribe. */
  BAD_GATEWAY: 1014,
  /** Odoo says the session is gone (logout, password change, revoked, expired). */
  SESSION_EXPIRED: 4001,
  /** The connection reached its maximum age; the client reconnects at once. */
  KEEP_ALIVE_TIMEOUT: 4002,
  /**
   * Odoo 19's `KILL_NOW`: never sent. Closing with it drops the TCP connection without a closing
   * handshake (a dead peer). On the wire 4003 would mean nothing to Odoo and, to the 19 web
   * client, its own `RECONNECTING`; a client that closes with 4003 gets it echoed like any code.
   */
  KILL_NOW: 4003,
} as const;

export const OUTDATED_VERSION = 'OUTDATED_VERSION';
