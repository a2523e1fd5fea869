// queue-flow.test.ts again, with every relay on PostgreSQL (--store; temp-relay.ts useStore).
import { describe, it } from 'vitest';
import { useStore } from './temp-relay.ts';
import { POSTGRES_MISSING, postgresAvailable } from './support/postgres-server.ts';

if (postgresAvailable) {
  useStore('postgres');
  await import('./queue-flow.test.ts');
} else {
  describe('queue-flow on PostgreSQL', () => {
    it.skip(POSTGRES_MISSING, () => {});
  });
}
