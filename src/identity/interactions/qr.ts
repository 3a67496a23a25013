// The TOTP key as a QR code for the enrolment page, drawn as inline SVG from the module matrix:
// an authenticator app scans it off the screen. Inline SVG loads nothing, so the page's CSP
// (img-src 'none', no script) stays as strict as it is.
import { encode } from 'uqr';

/** An SVG QR code of `text` (error correction M, the 4-module quiet zone the standard asks for). */
export function qrSvg(text: string, ariaLabel: string): string {
  const { data, size } = encode(text, { ecc: 'M', border: 4 });
  let path = '';
  data.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) path += `M${x},${y}h1v1h-1z`;
    }),
  );
  const label = ariaLabel.replace(/[&<>"']/g, '');
  return (
    `<svg id="totp-qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" width="232" height="232" ` +
    `role="img" aria-label="${label}" shape-rendering="crispEdges"><rect width="${size}" height="${size}" fill="#fff"/>` +
    `<path fill="#000" d="${path}"/></svg>`
  );
}
