import { formatFingerprint, systemRandom } from '@parus/core';

/** A certificate fingerprint and an SDP that names it (the parts the engine reads), for 1:1 and group calls. */
export function media(): { fp: Uint8Array; sdp: string } {
  const fp = systemRandom.bytes(32);
  const sdp = [
    'v=0',
    'o=- 1 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'c=IN IP4 0.0.0.0',
    `a=fingerprint:sha-256 ${formatFingerprint(fp)}`,
    'a=setup:actpass',
    'a=mid:0',
    '',
  ].join('\r\n');
  return { fp, sdp };
}
