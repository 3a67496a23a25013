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
    InvalidAuthorizationDetails: ErrorClass;
    InvalidScope: new (description: string, scope: string, detail?: string) => OIDCProviderErrorLike;
  };

  /** Interaction policy: the prompts and checks that decide when a user must sign in (again). */
  export namespace interactionPolicy {
    class Check {
      constructor(reason: string, description: string, check: (ctx: unknown) => boolean | Promise<boolean>);
      static readonly REQUEST_PROMPT: true;
      static readonly NO_NEED_TO_PROMPT: false;
    }
    interface Prompt {
      name: string;
      checks: Check[] & { add(check: Check, index?: number): void };
    }
    function base(): Prompt[] & { get(name: string): Prompt | undefined };
  }

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

  export interface InteractionDetails {
    uid: string;
    params: Record<string, unknown>;
    prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
    session?: { accountId?: string; uid?: string };
    grantId?: string;
  }

  export interface GrantInstance {
    addOIDCScope(scope: string): void;
    /** RFC 9396: an authorization detail granted (stored with the grant, copied to its codes and tokens). */
    addRar(detail: Record<string, unknown>): void;
    rar?: Record<string, unknown>[];
    addResourceScope(resource: string, scope: string): void;
    rejectResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface GrantStatic {
    new (properties: { accountId: string; clientId: string }): GrantInstance;
    find(id: string): Promise<GrantInstance | undefined>;
  }

  export interface TokenModelStatic {
    prototype: { save(): Promise<string>; scope?: string; clientId?: string; [key: string]: unknown };
  }

  export class Provider extends EventEmitter {
    constructor(issuer: string, configuration?: Record<string, unknown>);
    readonly issuer: string;
    proxy: boolean;
    /** Koa: how many X-Forwarded-For entries (from the right) count. */
    maxIpsCount: number;
    readonly Client: ClientStatic;
    readonly OIDCContext: OIDCContextStatic;
    urlFor(name: string, opt?: Record<string, unknown>): string;
    pathFor(name: string, opt?: Record<string, unknown>): string;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    readonly Grant: GrantStatic;
    readonly ClientCredentials: TokenModelStatic;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    /** Stores the interaction's result and returns where to send the browser (the authorization endpoint, to resume). */
    interactionResult(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<string>;
    /** Koa middleware; it declares the part of Koa's context it reads (hence `never` here). */
    use(fn: (ctx: never, next: () => Promise<void>) => Promise<void>): this;
  }

  export default Provider;
}
