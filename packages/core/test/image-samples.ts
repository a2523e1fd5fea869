/** Smallest images that pass core's header checks (profile-body.ts imageInfo), for avatar tests. */

/** A PNG's signature and IHDR chunk (what the header check reads), then `extra` bytes. */
export function samplePng(width: number, height: number, extra = 16): Uint8Array {
  const b = new Uint8Array(33 + extra);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const v = new DataView(b.buffer);
  v.setUint32(16, width);
  v.setUint32(20, height);
  b.set([8, 6, 0, 0, 0], 24);
  return b;
}
