// Which SOP classes count as likely to carry burned-in text: a class and the classes under it,
// not every UID that merely begins with the same digits (…1.1.7 is Secondary Capture,
// …1.1.78.x are ophthalmic measurements, …1.1.79.x not a capture either).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { burnedInAnnotation } from '../../../src/dicom/deid-values.js';

test('Secondary Capture and its kinds are likely; Lensometry and its neighbours are not', () => {
  for (const uid of ['1.2.840.10008.5.1.4.1.1.7', '1.2.840.10008.5.1.4.1.1.7.4', '1.2.840.10008.5.1.4.1.1.104.1', '1.2.840.10008.5.1.4.1.1.6.1', '1.2.840.10008.5.1.4.1.1.77.1.4']) {
    assert.equal(burnedInAnnotation(null, null, uid), 'likely', uid);
  }
  for (const uid of ['1.2.840.10008.5.1.4.1.1.78.1', '1.2.840.10008.5.1.4.1.1.79.1', '1.2.840.10008.5.1.4.1.1.66', '1.2.840.10008.5.1.4.1.1.30', '1.2.840.10008.5.1.4.1.1.2']) {
    assert.equal(burnedInAnnotation(null, null, uid), 'no', uid);
  }
  assert.equal(burnedInAnnotation('YES', 'CT', '1.2.840.10008.5.1.4.1.1.2'), 'yes');
});
