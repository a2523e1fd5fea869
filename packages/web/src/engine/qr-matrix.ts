/** A QR code as cells, for the screens to draw (invitations, room links, safety numbers). */
import QRCode from 'qrcode';

export interface QrMatrix {
  size: number;
  /** size × size cells, row by row, 1 = dark. */
  cells: Uint8Array;
}

export function qrMatrix(text: string): QrMatrix {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'L' });
  return { size: modules.size, cells: Uint8Array.from(modules.data) };
}
