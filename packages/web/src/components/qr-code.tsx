/**
 * A QR code as SVG from the module matrix (computed by the `qrcode` package in the engine
 * chunk). Always dark on white with a four-module quiet zone, whatever the theme, so
 * cameras read it; one path of horizontal runs keeps the markup small.
 */
import type { JSX } from 'preact';
import { useMemo } from 'preact/hooks';
import type { QrMatrix } from '../engine-loader.ts';

const QUIET = 4;

export function qrPath(m: QrMatrix): string {
  let d = '';
  for (let y = 0; y < m.size; y++) {
    let x = 0;
    while (x < m.size) {
      if (!m.cells[y * m.size + x]) {
        x++;
        continue;
      }
      const start = x;
      while (x < m.size && m.cells[y * m.size + x]) x++;
      d += `M${start + QUIET} ${y + QUIET}h${x - start}v1h${start - x}z`;
    }
  }
  return d;
}

export function QrCode({ matrix, label }: { matrix: QrMatrix; label: string }): JSX.Element {
  const d = useMemo(() => qrPath(matrix), [matrix]);
  const side = matrix.size + 2 * QUIET;
  return (
    <svg
      class="qr"
      role="img"
      aria-label={label}
      viewBox={`0 0 ${side} ${side}`}
      shape-rendering="crispEdges"
    >
      <rect width={side} height={side} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}
