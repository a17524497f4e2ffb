// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/', 'eslint.config.js', '.dependency-cruiser.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
      curly: ['error', 'all'],
    },
  },
  {
    // The dashboard's page script: plain browser JavaScript, served as it is (no bundler, no types).
    files: ['public/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'script',
      parserOptions: { projectService: false, project: false, program: null },
      globals: { document: 'readonly', window: 'readonly', fetch: 'readonly', Node: 'readonly', setInterval: 'readonly', uPlot: 'readonly' },
    },
  },
  {
    // BullMQ's Worker only in the runner; Queue objects only in the job factory and the read model.
    files: ['src/**/*.ts'],
    ignores: ['src/workers/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'bullmq', importNames: ['Worker'], message: 'Workers are started by src/workers/runner.ts only.' }] }],
    },
  },
);
