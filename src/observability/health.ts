/**
 * Liveness and readiness. Ready means: the LISTEN connection is up, the last reads of `bus_bus`
 * succeeded, the sidecar is not shutting down, and (when a secret is configured) the addon's info
 * route answered recently. A load balancer should route `/websocket` only to ready instances.
 */
export interface ReadinessInputs {
  listenerUp: boolean;
  readsHealthy: boolean;
  shuttingDown: boolean;
  /** undefined when the info route is not used. */
  odooInfoFresh: boolean | undefined;
  sockets: number;
  readConnections: number;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean>;
  sockets: number;
  readConnections: number;
}

export function readiness(inputs: ReadinessInputs): Readiness {
  const checks: Record<string, boolean> = {
    listen: inputs.listenerUp,
    reads: inputs.readsHealthy,
    accepting: !inputs.shuttingDown,
  };
  if (inputs.odooInfoFresh !== undefined) checks.odoo = inputs.odooInfoFresh;
  return {
    ready: Object.values(checks).every(Boolean),
    checks,
    sockets: inputs.sockets,
    readConnections: inputs.readConnections,
  };
}
