// batched-ack.test.ts again, with every relay on PostgreSQL (--store; temp-relay.ts useStore).
import { describe, it } from 'vitest';
import { useStore } from './temp-relay.ts';
import { POSTGRES_MISSING, postgresAvailable } from './support/postgres-server.ts';

if (postgresAvailable) {
  useStore('postgres');
  await import('./batched-ack.test.ts');
} else {
  describe('batched-ack on PostgreSQL', () => {
    it.skip(POSTGRES_MISSING, () => {});
  });
}
