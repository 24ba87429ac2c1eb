import { canonicalJson } from '../../transforms/canonicalJson';

describe('canonicalJson', () => {
  it('sorts object keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe('{"a":{"c":3,"d":2},"b":1}');
  });

  it('is independent of key insertion order', () => {
    const x = { seed: 1, model: { trees: 25, products: ['a', 'b'] }, name: 'n' };
    const y = { name: 'n', model: { products: ['a', 'b'], trees: 25 }, seed: 1 };
    expect(canonicalJson(x)).toBe(canonicalJson(y));
  });

  it('keeps array order and sorts objects inside arrays', () => {
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]');
    expect(canonicalJson([3, 1, 2])).not.toBe(canonicalJson([1, 2, 3]));
    expect(canonicalJson([{ z: 1, y: [{ b: 2, a: 1 }] }])).toBe('[{"y":[{"a":1,"b":2}],"z":1}]');
  });

  it('different values give different text', () => {
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: 2 }));
    expect(canonicalJson({ a: '1' })).not.toBe(canonicalJson({ a: 1 }));
  });

  it('serialises primitives like JSON.stringify', () => {
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson('x"y')).toBe('"x\\"y"');
    expect(canonicalJson(1.5)).toBe('1.5');
    expect(canonicalJson(true)).toBe('true');
    expect(canonicalJson({ a: null, b: undefined })).toBe('{"a":null}');
  });

  it('sorts keys by code unit, uppercase before lowercase', () => {
    expect(canonicalJson({ b: 1, B: 2, a: 3, _: 4 })).toBe('{"B":2,"_":4,"a":3,"b":1}');
  });
});
