// Cookie header parsing and the console's Set-Cookie lines. Values are our own base64url ids.
const VALUE = /^[A-Za-z0-9_-]{1,200}$/;

/** The value of cookie `name`, when present once and well-formed (anything else counts as absent). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const found = header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${name}=`))
    .map((part) => part.slice(name.length + 1));
  return found.length === 1 && VALUE.test(found[0]!) ? found[0] : undefined;
}

export function setCookie(name: string, value: string, maxAgeMs: number): string {
  return `${name}=${value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxAgeMs / 1000)}`;
}

export function clearCookie(name: string): string {
  return `${name}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0`;
}
