/** Unit tests need nothing; integration tests get a real PostgreSQL and Temporal from globalSetup. */
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  // thrift (under parquetjs) requires uuid@13, which is ESM-only; Node 20 loads it natively, jest's runtime cannot.
  // uuid@11 at the top level has the same parse/stringify API in CommonJS.
  moduleNameMapper: { '^uuid$': require.resolve('uuid') },
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/tests/{transforms,models,generator,config,workflows,cli,activities,audit,report,relations,sourceReader,services}/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/tests/setup/globalSetup.ts',
      globalTeardown: '<rootDir>/tests/setup/globalTeardown.ts',
    },
  ],
  testTimeout: 600000,
  // The Temporal SDK's native runtime keeps the event loop alive after every worker has shut down.
  forceExit: true,
};
