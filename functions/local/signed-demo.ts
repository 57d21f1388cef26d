/**
 * `npm start`'s demo providers of the signed-assertion kinds (issue #16): one key pair, generated at
 * start and never written anywhere but the emulated credentials secrets, signs for
 *
 * - `demo-private-key-jwt`: client_credentials with `clientAuth: "private_key_jwt"`, its client
 *   assertions verified by the demo OAuth server (oidc-provider) with the registered public key;
 * - `demo-jwt-bearer`: the JWT bearer grant (RFC 7523 §2.1) registered on the same server;
 * - `demo-github-app`: a GitHub App installation token from the local GitHub stand-in
 *   (functions/local/github-app-server.ts) under a GitHub Enterprise base path.
 *
 * @module
 */
import { generateKeyPairSync } from 'node:crypto';
import type { ProviderConfigInput } from '../core/config.js';
import type { Credentials } from '../core/types.js';
import { type GitHubAppServer, startGitHubAppServer } from './github-app-server.js';
import { JWT_BEARER_GRANT, type JwtBearerIssuer, type OAuthClientOptions } from './oauth-server.js';

export const SIGNED_DEMO_PROVIDERS = ['demo-private-key-jwt', 'demo-jwt-bearer', 'demo-github-app'] as const;

const PKJWT_CLIENT = 'demo-pkjwt';
const BEARER_CLIENT = 'demo-bearer';
const BEARER_ISSUER = 'demo-bearer-issuer';
const APP_ID = '1001';
const INSTALLATION = '2002';

/** What the demo adds to the OAuth server, and its GitHub stand-in. */
export interface SignedDemo {
  /** Clients to register with the demo OAuth server. */
  readonly clients: readonly OAuthClientOptions[];
  /** The issuer the JWT bearer grant trusts. */
  readonly jwtBearerIssuers: readonly JwtBearerIssuer[];
  readonly github: GitHubAppServer;
  /** The provider entries (with `common` fields) and their credentials, given the token endpoint. */
  providers(
    tokenUrl: string,
    common: Readonly<Record<string, unknown>>,
  ): { entries: ProviderConfigInput[]; credentials: Record<string, Credentials> };
}

/** Generates the demo key and starts the GitHub stand-in (tokens living `tokenTtlSeconds`). */
export async function startSignedDemo(tokenTtlSeconds: number): Promise<SignedDemo> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const publicJwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const github = await startGitHubAppServer({
    basePath: '/api/v3',
    tokenTtlSeconds,
    apps: [
      {
        appId: APP_ID,
        publicJwk,
        installations: { [INSTALLATION]: { repositories: ['demo'], permissions: { contents: 'read' } } },
      },
    ],
  });
  return {
    clients: [
      {
        clientId: PKJWT_CLIENT,
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: [{ ...publicJwk, kid: 'demo-1' }] },
        grantTypes: ['client_credentials'],
      },
      { clientId: BEARER_CLIENT, tokenEndpointAuthMethod: 'none', grantTypes: [JWT_BEARER_GRANT] },
    ],
    jwtBearerIssuers: [{ issuer: BEARER_ISSUER, publicJwk }],
    github,
    providers: (tokenUrl, common) => {
      const [pkjwt, bearer, app] = SIGNED_DEMO_PROVIDERS;
      return {
        entries: [
          { ...common, name: pkjwt, grant: 'client_credentials', tokenUrl, clientAuth: 'private_key_jwt' },
          {
            ...common,
            name: bearer,
            grant: 'jwt_bearer',
            tokenUrl,
            assertion: { issuer: BEARER_ISSUER, subject: 'demo-user', lifetime: 60 },
          },
          {
            ...common,
            name: app,
            grant: 'github_app',
            appId: APP_ID,
            installationId: INSTALLATION,
            apiBaseUrl: github.apiBaseUrl,
          },
        ] as ProviderConfigInput[],
        credentials: {
          [pkjwt]: { clientId: PKJWT_CLIENT, privateKey: privatePem, kid: 'demo-1' },
          [bearer]: { clientId: BEARER_CLIENT, privateKey: privatePem },
          [app]: { privateKey: privatePem },
        },
      };
    },
  };
}
