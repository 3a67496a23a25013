// Reads the enrolment page's QR code the way a phone would: the SVG's modules are rasterized and
// decoded by an independent decoder (jsQR), so a test sees what an authenticator app would scan.
import jsQRModule from 'jsqr';

// jsQR is CommonJS typed as an ES default export: the function is the module itself at run time.
const jsQR = jsQRModule as unknown as typeof jsQRModule.default;

const PX = 4; // pixels per module

export function decodeQrSvg(html: string): string | undefined {
  const svg = /<svg id="totp-qr"[^>]*viewBox="0 0 (\d+) \d+"[\s\S]*?<path fill="#000" d="([^"]*)"/.exec(html);
  if (!svg) return undefined;
  const size = Number(svg[1]);
  const side = size * PX;
  const rgba = new Uint8ClampedArray(side * side * 4).fill(255);
  for (const m of svg[2]!.matchAll(/M(\d+),(\d+)h1v1h-1z/g)) {
    const x0 = Number(m[1]) * PX;
    const y0 = Number(m[2]) * PX;
    for (let y = y0; y < y0 + PX; y++) {
      for (let x = x0; x < x0 + PX; x++) rgba.fill(0, (y * side + x) * 4, (y * side + x) * 4 + 3);
    }
  }
  return jsQR(rgba, side, side)?.data;
}

export const unescapeHtml = (s: string) => s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
