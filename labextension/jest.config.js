/**
 * jest runs the pure modules (outline, insert, runs, report) in jsdom, against
 * the real notebook shared model from @jupyter/ydoc. That package ships ES
 * modules only, so ts-jest transforms it; everything else in node_modules is
 * CommonJS. `@warp-static/outline.js` is the live tree the kernel serves
 * (`kernel_magics/static/outline.js`, plain ES module, no build step).
 */
const esModules = ['@jupyter/ydoc'].join('|');

module.exports = {
  testEnvironment: 'jsdom',
  setupFiles: ['<rootDir>/jest.setup.js'],
  testMatch: ['<rootDir>/src/__tests__/**/*.spec.ts'],
  transform: {
    '^.+\\.(ts|js)$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esModules})/)`],
  moduleNameMapper: {
    '^@warp-static/(.*)$': '<rootDir>/../kernel_magics/static/$1'
  }
};
