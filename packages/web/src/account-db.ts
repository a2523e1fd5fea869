/** The IndexedDB database of the account (one per browser profile and origin). */
export const ACCOUNT_DATABASE = 'parus-account';
