// oidc-provider 9 ships no type declarations; this is the small surface vaultgate uses.
// Keep it narrow: anything not declared here is not meant to be touched.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  import type { EventEmitter } from 'node:events';

  export interface OIDCProviderErrorLike extends Error {
    error: string;
    error_description?: string;
    status: number;
    statusCode: number;
    expose: boolean;
  }

  type ErrorClass = new (description?: string, detail?: string) => OIDCProviderErrorLike;

  export const errors: {
    OIDCProviderError: ErrorClass;
    InvalidTarget: ErrorClass;
    InvalidClientMetadata: ErrorClass;
    InvalidRequest: ErrorClass;
    InvalidScope: new (description: string, scope: string, detail?: string) => OIDCProviderErrorLike;
  };

  /** The slice of oidc-provider's Client model vaultgate reads or overrides. */
  export interface ClientInstance {
    clientId: string;
    clientSecret?: string;
    clientAuthMethod: string;
    scope?: string;
    [key: string]: unknown;
  }

  export interface ClientStatic {
    prototype: ClientInstance & { compareClientSecret(actual: string): boolean | Promise<boolean> };
    find(id: string): Promise<ClientInstance | undefined>;
    validate(metadata: Record<string, unknown>): Promise<void>;
  }

  export interface OIDCContextStatic {
    prototype: { urlFor(name: string, opt?: Record<string, unknown>): string };
  }

  export class Provider extends EventEmitter {
    constructor(issuer: string, configuration?: Record<string, unknown>);
    readonly issuer: string;
    proxy: boolean;
    readonly Client: ClientStatic;
    readonly OIDCContext: OIDCContextStatic;
    urlFor(name: string, opt?: Record<string, unknown>): string;
    pathFor(name: string, opt?: Record<string, unknown>): string;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  }

  export default Provider;
}
