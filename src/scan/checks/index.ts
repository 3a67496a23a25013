// The checks of a scan, in the order they run: one table, one module per check, each declaring
// its OWASP API Top 10 (2023) category, severity and remediation (composed the way
// oidc-provider composes its check_* actions). Checks that judge the answers the others
// received (exposure, headers, banners, error text) come last, so they see the most.
import type { Check } from '../context.js';
import { adminPaths } from './admin-paths.js';
import { apiVersions } from './api-versions.js';
import { authAttemptLimits } from './auth-attempt-limits.js';
import { bodyLimits } from './body-limits.js';
import { bola } from './bola.js';
import { brokenAuthentication } from './broken-authentication.js';
import { cors } from './cors.js';
import { debugEndpoints } from './debug-endpoints.js';
import { dpopBinding } from './dpop-binding.js';
import { errorLeaks } from './error-leaks.js';
import { functionLevel } from './function-level.js';
import { massAssignment } from './mass-assignment.js';
import { nosqlInjection } from './nosql-injection.js';
import { pageSize } from './page-size.js';
import { rateLimiting } from './rate-limiting.js';
import { reflectedScript } from './reflected-script.js';
import { secretExposure } from './secret-exposure.js';
import { securityHeaders } from './security-headers.js';
import { sqlInjection } from './sql-injection.js';
import { ssrf } from './ssrf.js';
import { tlsCertificate } from './tls-certificate.js';
import { tlsCiphers } from './tls-ciphers.js';
import { tlsProtocols } from './tls-protocols.js';
import { tlsRenegotiation } from './tls-renegotiation.js';
import { traceMethod } from './trace-method.js';
import { undeclaredResponseFields } from './undeclared-response-fields.js';
import { unknownProperties } from './unknown-properties.js';
import { userEnumeration } from './user-enumeration.js';
import { versionBanners } from './version-banners.js';

export const CHECKS: readonly Check[] = [
  // API1, API5: authorization, on the objects A and B were given.
  bola,
  functionLevel,
  adminPaths,
  // API2: authentication (enumeration before the guessing limit, which may lock the guesser out).
  brokenAuthentication,
  dpopBinding,
  userEnumeration,
  authAttemptLimits,
  // API3: properties in.
  massAssignment,
  unknownProperties,
  // API4: resource consumption.
  rateLimiting,
  pageSize,
  bodyLimits,
  // API7: server side request forgery.
  ssrf,
  // API8: injection (the 2023 edition has no category of its own): SQL, NoSQL operators, script
  // reflected in HTML. Their probes are not kept for the judges below, which see ordinary answers.
  sqlInjection,
  nosqlInjection,
  reflectedScript,
  // API8: transport and configuration.
  tlsProtocols,
  tlsCiphers,
  tlsRenegotiation,
  tlsCertificate,
  cors,
  traceMethod,
  // API9: inventory.
  apiVersions,
  debugEndpoints,
  // Judges of every answer received so far (API3 out, API8).
  undeclaredResponseFields,
  secretExposure,
  errorLeaks,
  securityHeaders,
  versionBanners,
];
