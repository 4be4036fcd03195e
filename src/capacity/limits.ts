/**
 * The caps of one process on what clients hold, from the settings and, for their defaults, from
 * the process itself: its open-file limit (one descriptor per connection) and its heap limit.
 */
import { getHeapStatistics } from 'node:v8';
import type { Config } from '../config/load.js';
import { openFileLimit } from './openFileLimit.js';

/**
 * Descriptors kept for what is not an accepted connection: PostgreSQL (LISTEN, read pools), the
 * connections to Odoo, logs, the event loop's own. Node refuses connections past the rest.
 */
const OUTBOUND_DESCRIPTORS = 256;
/** Share of the open-file limit that websockets and long polls may hold by default. */
const HELD_SHARE = 0.9;

export interface CapacityLimits {
  connections: number;
  connectionsPerAddress: number;
  /** For Node's `server.maxConnections`: accepted TCP connections of every kind. */
  tcpConnections: number | undefined;
  subscribedBytes: number;
  subscribedBytesPerAddress: number;
  openFiles: { limit: number; known: boolean };
}

export function capacityLimits(
  config: Config,
  openFiles: { limit: number; known: boolean } = openFileLimit(),
  heapLimit: number = getHeapStatistics().heap_size_limit,
): CapacityLimits {
  const finite = Number.isFinite(openFiles.limit);
  const connections =
    config.maxConnections ?? (finite ? Math.floor(openFiles.limit * HELD_SHARE) : 1_000_000);
  return {
    connections,
    connectionsPerAddress: config.maxConnectionsPerAddress,
    tcpConnections: finite
      ? Math.max(connections, openFiles.limit - OUTBOUND_DESCRIPTORS)
      : undefined,
    subscribedBytes: config.maxSubscribedBytes ?? Math.floor(heapLimit / 8),
    subscribedBytesPerAddress: config.maxSubscribedBytesPerAddress,
    openFiles,
  };
}
