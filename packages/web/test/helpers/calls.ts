// What the browser call tests share (decisions 0046, 0053): Chromium's fake camera and
// microphone, and init scripts that record the page's peer connections or make it sign a
// fingerprint its DTLS does not use.

/** Chromium flags: fake media devices that need no prompt, audio that plays without a gesture. */
export const MEDIA_FLAGS = [
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

/** Keeps every RTCPeerConnection the page makes, so that the test can read its stats. */
export const RECORD_CONNECTIONS = (): void => {
  const Real = window.RTCPeerConnection;
  const all: RTCPeerConnection[] = [];
  (window as unknown as { connections: RTCPeerConnection[] }).connections = all;
  class Recording extends Real {
    constructor(config?: RTCConfiguration) {
      super(config);
      all.push(this);
    }
  }
  Object.defineProperty(Recording, 'generateCertificate', { value: Real.generateCertificate.bind(Real) });
  window.RTCPeerConnection = Recording as typeof RTCPeerConnection;
};

/** Makes this page sign another certificate fingerprint than the one its DTLS uses. */
export const TAMPER_FINGERPRINT = (): void => {
  const real = RTCCertificate.prototype.getFingerprints;
  RTCCertificate.prototype.getFingerprints = function (this: RTCCertificate) {
    return real.call(this).map((f) => ({
      algorithm: f.algorithm,
      value: f.value?.replace(/^../, (x) => (x === 'AA' ? 'BB' : 'AA')),
    }));
  } as typeof real;
};
