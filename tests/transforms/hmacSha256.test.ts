import { createHmac } from 'node:crypto';
import { HmacSha256 } from '../../transforms/hmacSha256';

const nodeHmac = (key: string | Buffer, message: string) => createHmac('sha256', key).update(message, 'utf8').digest('hex');

describe('HmacSha256', () => {
  it('gives the RFC 4231 digests (keys of 20, 4, 131 bytes; data of 8, 28, 54, 152 bytes)', () => {
    expect(new HmacSha256(Buffer.alloc(20, 0x0b)).hex('Hi There')).toBe('b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
    expect(new HmacSha256('Jefe').hex('what do ya want for nothing?')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    const longKey = Buffer.alloc(131, 0xaa);
    expect(new HmacSha256(longKey).hex('Test Using Larger Than Block-Size Key - Hash Key First')).toBe('60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
    expect(new HmacSha256(longKey).hex('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'))
      .toBe('9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2');
  });

  it('equals node:crypto for every message length from 0 to 300 bytes, across the padding boundaries', () => {
    const key = 'Jm3q9ZxT0aW1pLk7Vb5sRn2cYe8uHd4f';
    const hmac = new HmacSha256(key);
    for (let n = 0; n <= 300; n++) {
      const message = 'x'.repeat(n);
      expect([n, hmac.hex(message)]).toEqual([n, nodeHmac(key, message)]);
    }
  });

  it('hashes the UTF-8 bytes of multi-byte text (CJK, surrogate pairs) and keys of any length', () => {
    for (const key of ['', 'k', 'x'.repeat(64), 'y'.repeat(65), '密钥'.repeat(30)]) {
      const hmac = new HmacSha256(key);
      for (const message of ['name|张三丰', 'phone|+8613800138000', '😀'.repeat(40), 'é'.repeat(100), '']) {
        expect(hmac.hex(message)).toBe(nodeHmac(key, message));
      }
    }
  });

  it('returns the leading words asked for, and one instance gives the same digest however often it is used', () => {
    const hmac = new HmacSha256('k1');
    const full = nodeHmac('k1', '13800138000');
    expect(hmac.hex('13800138000', 4)).toBe(full.slice(0, 32));
    expect(hmac.hex('a much longer message that needs two blocks of padding and then some more bytes'.repeat(3))).toBe(nodeHmac('k1', 'a much longer message that needs two blocks of padding and then some more bytes'.repeat(3)));
    expect(hmac.hex('13800138000')).toBe(full);
  });
});
