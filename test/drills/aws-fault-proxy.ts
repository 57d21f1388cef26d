/**
 * An HTTP proxy in front of moto that answers chosen AWS JSON-protocol calls with a throttling error
 * or a 5xx instead of forwarding them: the emulator-faults drill points the adapters' endpoint at it.
 *
 * A rule matches the `X-Amz-Target` header (`secretsmanager.PutSecretValue`,
 * `DynamoDB_20120810.UpdateItem`, ...) and optionally the JSON request body (which secret, which
 * condition expression), and fires for the next `times` matching requests, either instead of the
 * service or after it applied the call (`applied`). Everything else is forwarded unchanged (moto
 * does not check signatures unless told to).
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy answers instead of the service. */
export type AwsFaultKind = 'throttling' | 'http500' | 'http503';

export interface AwsFaultRule {
  /** The `X-Amz-Target` to match, e.g. `secretsmanager.GetSecretValue`. */
  readonly target: string;
  /** A further condition on the parsed JSON body. */
  readonly when?: (body: Readonly<Record<string, unknown>>) => boolean;
  readonly kind: AwsFaultKind;
  /** How many matching requests fail. */
  readonly times: number;
  /**
   * The service applies the call, and the answer is lost to a 5xx anyway (a 500 may hide an applied
   * write): the request is forwarded and its response replaced by the fault.
   */
  readonly applied?: boolean;
}

export interface AwsFaultProxy {
  /** `http://127.0.0.1:<port>`: the endpoint to give the SDK clients. */
  readonly endpoint: string;
  /** Replace the active rule. */
  inject(rule: AwsFaultRule): void;
  clear(): void;
  /** Faults answered since start, by target. */
  readonly injected: Readonly<Record<string, number>>;
  stop(): Promise<void>;
}

/**
 * The service's error answer, as the AWS JSON protocols send it (`__type` names the exception; the
 * SDK classifies `ThrottlingException` and `ProvisionedThroughputExceededException` as throttling and
 * 500/503 as transient, and retries both).
 */
function faultResponse(
  target: string,
  kind: AwsFaultKind,
): { status: number; contentType: string; body: string } {
  const dynamodb = target.startsWith('DynamoDB_');
  const contentType = dynamodb ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1';
  const type = (name: string) => (dynamodb ? `com.amazonaws.dynamodb.v20120810#${name}` : name);
  switch (kind) {
    case 'throttling':
      return {
        status: 400,
        contentType,
        body: JSON.stringify(
          dynamodb
            ? {
                __type: type('ProvisionedThroughputExceededException'),
                message: 'The level of configured provisioned throughput for the table was exceeded.',
              }
            : { __type: 'ThrottlingException', message: 'Rate exceeded' },
        ),
      };
    case 'http500':
      return {
        status: 500,
        contentType,
        body: JSON.stringify({
          __type: type(dynamodb ? 'InternalServerError' : 'InternalServiceError'),
          message: 'Internal server error',
        }),
      };
    case 'http503':
      return {
        status: 503,
        contentType,
        body: JSON.stringify({ __type: type('ServiceUnavailable'), message: 'Service unavailable' }),
      };
  }
}

export async function startAwsFaultProxy(upstream: string): Promise<AwsFaultProxy> {
  const target = new URL(upstream);
  let rule: { spec: AwsFaultRule; left: number } | undefined;
  const injected: Record<string, number> = {};

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const amzTarget = String(req.headers['x-amz-target'] ?? '');
      const fire =
        rule !== undefined && rule.left > 0 && rule.spec.target === amzTarget && matches(rule.spec, body);
      const spec = fire ? rule?.spec : undefined;
      if (rule !== undefined && spec !== undefined) {
        rule.left -= 1;
        injected[amzTarget] = (injected[amzTarget] ?? 0) + 1;
      }
      const answerWithFault = () => {
        if (spec === undefined) return;
        const fault = faultResponse(amzTarget, spec.kind);
        res.writeHead(fault.status, {
          'content-type': fault.contentType,
          'x-amzn-requestid': `drill-fault-${injected[amzTarget]}`,
          'content-length': Buffer.byteLength(fault.body),
        });
        res.end(fault.body);
      };
      if (spec !== undefined && spec.applied !== true) {
        answerWithFault();
        return;
      }
      const forwarded = request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (upstreamResponse) => {
          if (spec !== undefined) {
            // Applied by the service; the caller sees the fault instead of the answer.
            upstreamResponse.resume();
            upstreamResponse.on('end', answerWithFault);
            return;
          }
          res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
          upstreamResponse.pipe(res);
        },
      );
      forwarded.on('error', () => {
        res.destroy();
      });
      forwarded.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    inject(spec) {
      rule = { spec, left: spec.times };
    },
    clear() {
      rule = undefined;
    },
    get injected() {
      return { ...injected };
    },
    stop() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function matches(spec: AwsFaultRule, body: Buffer): boolean {
  if (spec.when === undefined) return true;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null && spec.when(parsed as Record<string, unknown>);
  } catch {
    return false;
  }
}
