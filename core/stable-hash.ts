/**
 * A short, stable, non-cryptographic digest for deriving names (veth names, rule-set
 * markers) from keys. FNV-1a, 64 bits as two 32-bit halves: loading node:crypto for this
 * would cost a CNI plugin several milliseconds of start-up on every pod.
 */
export function stableHash(text: string, hexChars = 16): string {
  // Two independent FNV-1a 32-bit streams (different offset bases) give 64 bits.
  let h1 = 0x811c9dc5;
  let h2 = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ (c & 0xff), 0x01000193);
    h1 = Math.imul(h1 ^ (c >>> 8), 0x01000193);
    h2 = Math.imul(h2 ^ (c >>> 8), 0x01000193);
    h2 = Math.imul(h2 ^ (c & 0xff), 0x01000193);
  }
  const hex = (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
  return hex.slice(0, hexChars);
}
