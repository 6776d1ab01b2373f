import assert from 'node:assert/strict';
import { test } from 'node:test';
import { foldName, foldNullable } from '../../../src/index/fold.js';

test('upper-cases and strips accents', () => {
  assert.equal(foldName('Müller^Zoë'), 'MULLER^ZOE');
  assert.equal(foldName('Dvořák^Jiří'), 'DVORAK^JIRI');
  assert.equal(foldName('Lefèvre^Élise=Ñúñez'), 'LEFEVRE^ELISE=NUNEZ');
  assert.equal(foldName('doe^jane'), 'DOE^JANE');
  assert.equal(foldName('Иванов^Йосиф'), 'ИВАНОВ^ИОСИФ'); // Cyrillic diacritics go too
});

test('decomposed and precomposed input fold the same', () => {
  assert.equal(foldName('Zoe\u0308'), foldName('Zo\u00eb'));
});

test('maps the Latin letters that have no decomposition, one for one', () => {
  assert.equal(foldName('Łukasik^Jørgen'), 'LUKASIK^JORGEN');
  assert.equal(foldName('đorđević'), 'DORDEVIC');
});

test('leaves wildcards and separators alone', () => {
  assert.equal(foldName('mül*^?oë'), 'MUL*^?OE');
  assert.equal(foldName('^^^'), '^^^');
  assert.equal(foldName(''), '');
});

test('keeps other scripts intact: kana voicing marks, Hangul syllables, CJK', () => {
  assert.equal(foldName('ヤマダ^タロウ'), 'ヤマダ^タロウ');
  assert.equal(foldName('ガ'), 'ガ');
  assert.equal(foldName('홍길동'), '홍길동');
  assert.equal(foldName('山田^太郎'), '山田^太郎');
});

test('is idempotent', () => {
  for (const s of ['Müller^Zoë', 'Łukasik', 'ヤマダ^ガ', 'straße']) assert.equal(foldName(foldName(s)), foldName(s));
});

test('foldNullable keeps null', () => {
  assert.equal(foldNullable(null), null);
  assert.equal(foldNullable('é'), 'E');
});

test("one character for one, as '?' needs: ß becomes ẞ, not SS; other letters whose upper case is two stay as they are", () => {
  assert.equal(foldName('Straße^Anna'), 'STRAẞE^ANNA');
  assert.equal(foldName('STRAẞE'), 'STRAẞE');
  assert.equal(foldName('Weiß'), 'WEIẞ');
  for (const name of ['Straße', 'ŉ^x', 'ﬁn', 'ǰ', 'ΐ', 'Voß^Jürgen']) assert.equal([...foldName(name)].length, [...name.normalize('NFC')].length, name);
  assert.equal(foldName('ǰ'), 'J');
  assert.equal(foldName('x\u0301'), 'X', 'a mark NFC cannot attach is stripped');
});
