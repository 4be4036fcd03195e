import { createHash } from 'node:crypto';
import { SESSION_HASH_PREFIX_LENGTH } from './addonContract.js';

/** The name under which the addon announces a revoked session (see `REVOKE_CHANNEL`). */
export function sessionHash(sessionId: string): string {
  return createHash('sha256')
    .update(sessionId.slice(0, SESSION_HASH_PREFIX_LENGTH), 'utf8')
    .digest('hex');
}
