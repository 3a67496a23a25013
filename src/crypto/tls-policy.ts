// The TLS policy of the listener (listener/listener.ts): TLS 1.3 preferred, TLS 1.2 only with
// AEAD + forward-secrecy suites, no compression, no renegotiation.
import { constants } from 'node:crypto';

// TLS 1.2 suites: ECDHE (forward secrecy) + AEAD (GCM, ChaCha20-Poly1305) only. TLS 1.3 suites are
// all AEAD + FS; OpenSSL's default 1.3 list is kept.
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

// No renegotiation at all (RFC 5746 attacks, client-initiated reneg DoS) and no TLS compression
// (CRIME); the server's suite order wins so a 1.2 client gets the strongest suite it supports.
export const SECURE_OPTIONS =
  constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_COMPRESSION | constants.SSL_OP_CIPHER_SERVER_PREFERENCE;
