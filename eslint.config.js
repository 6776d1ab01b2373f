// Lint rules, including the layering of ARCHITECTURE.md: lower layers never import upper ones.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const layer = (files, forbidden, why) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ group: forbidden, message: why }] }],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'ui/vendor/**', 'vendor/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  // The web page runs in the browser, as plain ES modules.
  { files: ['ui/**/*.js'], languageOptions: { globals: { ...globals.browser } } },
  layer(['src/dicom/**'], ['**/net/**', '**/services/**', '**/index/**', '**/storage/**', '**/scp/**', '**/http/**', '**/app*', '**/config/**'], 'dicom/ is the bottom layer: it imports only core/.'),
  layer(['src/net/**'], ['**/services/**', '**/index/**', '**/storage/**', '**/scp/**', '**/http/**', '**/app*', '**/config/**'], 'net/ knows nothing of the PACS: only dicom/ and core/.'),
  layer(['src/dicomweb-client/**'], ['**/net/**', '**/services/**', '**/index/**', '**/storage/**', '**/scp/**', '**/http/**', '**/app*', '**/config/**'], 'dicomweb-client/ is a DICOMweb user agent that knows nothing of the PACS: only dicom/ and core/.'),
  layer(['src/codecs/**'], ['**/net/**', '**/services/**', '**/index/**', '**/storage/**', '**/scp/**', '**/http/**', '**/app*', '**/config/**'], 'codecs/ decodes pixels: it imports only dicom/ and core/.'),
  layer(['src/index/**', 'src/storage/**'], ['**/scp/**', '**/http/**', '**/app*', '**/net/listener*', '**/net/association*'], 'services and stores know nothing of transports.'),
  // One rule object per file set: a later one for the same files would replace this one, not add to it.
  layer(['src/services/**'], ['**/scp/**', '**/http/**', '**/app*', '**/net/listener*', '**/net/association*', '**/index/sqlite/**', '**/index/postgres/**', '**/storage/fs-*'], 'services know nothing of transports, and see the index and storage through their interfaces; the composition root picks implementations.'),
  layer(['src/scp/**', 'src/http/**'], ['**/index/sqlite/**', '**/index/postgres/**', '**/storage/fs-*', '**/app*'], 'adapters see only interfaces; the composition root picks implementations.'),
);
