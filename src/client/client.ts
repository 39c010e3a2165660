import type { z } from "zod";
import { defaultApiSocket } from "../api/paths.js";
import { type ApiMethodName, ApiMethods } from "../api/schemas/index.js";
import { TermhostError } from "../errors/errors.js";
import { formatZodIssues } from "../errors/zod-format.js";
import { RpcClient } from "../jsonrpc/client.js";

type Params<M extends ApiMethodName> = z.input<(typeof ApiMethods)[M]["params"]>;
type Result<M extends ApiMethodName> = z.infer<(typeof ApiMethods)[M]["result"]>;

export interface ClientOptions {
  socketPath?: string;
  timeoutMs?: number;
}

/**
 * Typed client for the daemon's kiosk/POS socket. Every result is validated against the same
 * schema the daemon answers with, so a client never acts on a reply it does not understand.
 */
export class TermhostClient {
  private constructor(
    private readonly rpc: RpcClient,
    readonly socketPath: string,
  ) {}

  static async connect(options: ClientOptions = {}): Promise<TermhostClient> {
    const socketPath = options.socketPath ?? defaultApiSocket();
    const rpcOptions = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
    return new TermhostClient(await RpcClient.connect(socketPath, rpcOptions), socketPath);
  }

  async call<M extends ApiMethodName>(method: M, params: Params<M>): Promise<Result<M>> {
    const raw = await this.rpc.call(method, params);
    const parsed = ApiMethods[method].result.safeParse(raw);
    if (!parsed.success) {
      throw new TermhostError(
        "INTERNAL",
        `the daemon's reply to ${method} does not match this client's schema`,
        {
          hint: "client and daemon versions differ; use the client library of the daemon's version",
          context: { problems: formatZodIssues(parsed.error, "result") },
        },
      );
    }
    return parsed.data as Result<M>;
  }

  status(): Promise<Result<"system.status">> {
    return this.call("system.status", {});
  }

  close(): void {
    this.rpc.close();
  }
}
