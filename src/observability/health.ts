/**
 * Liveness and readiness. Ready means delivery works: the LISTEN connection is up, `bus_bus` can be
 * read in every served database (checked from start, see `ReadProbe`) and the last reads succeeded,
 * Odoo answers (it authorizes every subscribe), and the sidecar is not draining. Ready but
 * "degraded": the addon's info route does not answer while a secret is set, so what needs it is
 * missing (named in `missing`), but sockets are served. A load balancer routes `/websocket` only
 * to ready instances (HTTP 200, degraded included); 503 otherwise.
 */
import type { OdooHealth } from '../odoo/odooInfo.js';

export interface ReadinessInputs {
  listenerUp: boolean;
  listenProblem: string | undefined;
  readsHealthy: boolean;
  readProblems: readonly string[];
  odoo: OdooHealth;
  shuttingDown: boolean;
  sockets: number;
  readConnections: number;
}

export type ReadinessStatus = 'ready' | 'degraded' | 'not ready' | 'draining';

export interface Readiness {
  ready: boolean;
  status: ReadinessStatus;
  checks: { listen: boolean; reads: boolean; odoo: boolean; accepting: boolean };
  /** Why a check fails (or why degraded: `addon`), with the fix. */
  problems: Partial<Record<'listen' | 'reads' | 'odoo' | 'addon' | 'accepting', string[]>>;
  /** Features that do not work while degraded. */
  missing: string[];
  sockets: number;
  readConnections: number;
}

export function readiness(inputs: ReadinessInputs): Readiness {
  const checks = {
    listen: inputs.listenerUp,
    reads: inputs.readsHealthy,
    odoo: inputs.odoo.up,
    accepting: !inputs.shuttingDown,
  };
  const problems: Readiness['problems'] = {};
  if (!checks.listen) problems.listen = [inputs.listenProblem ?? 'not connected yet'];
  if (!checks.reads) {
    problems.reads =
      inputs.readProblems.length > 0 ? [...inputs.readProblems] : ['a read of bus_bus failed'];
  }
  if (inputs.odoo.problem !== undefined) {
    if (checks.odoo) problems.addon = [inputs.odoo.problem];
    else problems.odoo = [inputs.odoo.problem];
  }
  if (!checks.accepting) problems.accepting = ['shutting down: sockets are being closed'];
  const ready = Object.values(checks).every(Boolean);
  const missing = checks.odoo ? [...inputs.odoo.missingFeatures] : [];
  const status: ReadinessStatus = !checks.accepting
    ? 'draining'
    : !ready
      ? 'not ready'
      : missing.length > 0
        ? 'degraded'
        : 'ready';
  return {
    ready,
    status,
    checks,
    problems,
    missing,
    sockets: inputs.sockets,
    readConnections: inputs.readConnections,
  };
}
