/**
 * Runs once before the integration tests (not before `npm run test:unit`): checks that the system
 * programs they start are installed, so that a missing one stops the run at once with one line
 * naming the Debian package, instead of every test file failing on its own spawn error.
 */
import { serviceAccount } from './helpers/fakeOdoo/serviceAccount.js';
import { missingTools, missingToolsMessage } from './helpers/servers/systemTools.js';

function stop(line: string): never {
  // Exits rather than throws: a thrown error is reported with a stack and a misleading
  // "No test files found"; this line is the whole story.
  process.stderr.write(`\n${line}\n\n`);
  process.exit(1);
}

export default function setup(): void {
  const missing = missingTools();
  if (missing.length > 0) stop(missingToolsMessage(missing));
  try {
    // As root, the servers run as the `postgres` account that the postgresql package creates.
    serviceAccount();
  } catch (error) {
    stop((error as Error).message);
  }
}
