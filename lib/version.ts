// The Sluice version reported by the admin console; test/unit/version.test.ts keeps it equal to package.json's.
export const VERSION = '0.1.0';
