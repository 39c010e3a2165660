import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import {
  AuthorizeRequest,
  CompleteRequest,
  Hex8,
  OpenSessionRequest,
  parseCounterParam,
  ReversalRequest,
  VerifyRequest,
} from "../../src/authorize/issuer-protocol.js";
import { requireAes128Key } from "../../src/crypto/index.js";
import { SIMULATOR_MASTER_KEY_HEX } from "../../src/purse/messages/index.js";
import { type Ledger, type LedgerEntry, ledgerToFile, loadLedger, saveLedger } from "../cards/sam/ledger.js";
import { declines, hasFaults, IssuerBehaviour, type Operation } from "./behaviour.js";
import {
  type AdminRoute,
  type ApiRoute,
  bearerOf,
  digest,
  readJson,
  routeOf,
  sameDigest,
  validated,
} from "./http-routes.js";
import { errorReply, IssuerCore } from "./issuer-core.js";
import { type Reply, SessionTable } from "./sessions.js";

export interface IssuerTerminal {
  terminalId: Buffer;
  /** The terminal's bearer token. */
  token: string;
}

export interface IssuerHostOptions {
  /** The issuer master key; the simulators' well-known key when unset. */
  masterKey?: Buffer;
  /** The ledger of authorizations (JSON, replaced atomically); created on first use. */
  ledgerPath: string;
  terminals: IssuerTerminal[];
  /** Bearer token of GET /ledger and /admin/*; random when unset (see `adminToken` of the handle). */
  adminToken?: string;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** PEM key and certificate: serve HTTPS instead of HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  sessionTtlMs?: number;
  maxSessions?: number;
  maxBodyBytes?: number;
  behaviour?: IssuerBehaviour;
  random?: (n: number) => Buffer;
  now?: () => string;
}

export interface IssuerHostEvents {
  /** A request is being held by `stall`. */
  stalled: [Operation];
  /** An answer left (or was cut) for an operation. */
  answered: [Operation, number];
  /** A request hit by a fault was carried out, with this status, whether or not its client still waits. */
  decided: [Operation, number];
}

export interface IssuerHost {
  readonly url: string;
  readonly adminToken: string;
  readonly events: EventEmitter<IssuerHostEvents>;
  /** The ledger as its file holds it: plain JSON, MACs and ids in hex. */
  ledger(): ReturnType<typeof ledgerToFile>;
  entries(): LedgerEntry[];
  /** Sessions opened and neither ended nor expired. */
  openSessions(): number;
  setBehaviour(b: IssuerBehaviour): void;
  behaviour(): IssuerBehaviour;
  /** Lets every stalled answer go. */
  release(): void;
  stop(): Promise<void>;
}

const LEDGER_FORMAT = "termhost-issuer-ledger";

/** The simulated issuer host: holds the master key, authorizes loads, keeps the ledger. */
export async function startIssuerHost(options: IssuerHostOptions): Promise<IssuerHost> {
  const masterKey = options.masterKey ?? Buffer.from(SIMULATOR_MASTER_KEY_HEX, "hex");
  requireAes128Key(masterKey, "issuer master key");
  const adminToken = options.adminToken ?? randomBytes(18).toString("base64url");
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024;
  const tokens = new Map<string, string>();
  for (const t of options.terminals) tokens.set(digest(t.token), t.terminalId.toString("hex").toUpperCase());
  const adminDigest = digest(adminToken);
  let ledger: Ledger = loadLedger(options.ledgerPath, LEDGER_FORMAT);
  let behaviour: IssuerBehaviour = IssuerBehaviour.parse(options.behaviour ?? {});
  let faultsLeft = behaviour.times;
  const events = new EventEmitter<IssuerHostEvents>();
  const stalled = new Set<() => void>();
  const release = (): void => {
    for (const go of stalled) go();
    stalled.clear();
  };
  const setBehaviour = (b: IssuerBehaviour): void => {
    behaviour = IssuerBehaviour.parse(b);
    faultsLeft = behaviour.times;
    if (behaviour.stall !== true) release();
  };

  const sessions = new SessionTable(options.sessionTtlMs ?? 300_000, options.maxSessions ?? 1024, Date.now);
  const core = new IssuerCore({
    masterKey,
    sessions,
    random: options.random ?? randomBytes,
    now: options.now ?? (() => new Date().toISOString()),
    ledger: () => ledger,
    commit: (next) => {
      saveLedger(options.ledgerPath, next, LEDGER_FORMAT);
      ledger = next;
    },
    declines: (amount) => declines(behaviour, amount),
  });

  /** The faults this request takes, counted against `times`. */
  const faultsFor = (op: Operation): IssuerBehaviour | undefined => {
    if (!hasFaults(behaviour) || (behaviour.on !== undefined && !behaviour.on.includes(op))) return undefined;
    const b = behaviour;
    if (faultsLeft !== undefined && --faultsLeft <= 0)
      setBehaviour({ ...(b.decline === undefined ? {} : { decline: b.decline }) });
    return b;
  };

  const hold = async (op: Operation, b: IssuerBehaviour): Promise<void> => {
    if ((b.delayMs ?? 0) > 0) await new Promise((r) => setTimeout(r, b.delayMs));
    if (b.stall === true) {
      const released = new Promise<void>((r) => stalled.add(r));
      events.emit("stalled", op);
      await released;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://issuer.invalid");
    const route = routeOf(req.method ?? "GET", url.pathname);
    if (route === undefined)
      return send(res, errorReply("NOT_FOUND", `no route ${req.method} ${url.pathname}`));
    const bearer = bearerOf(req);
    if (route.kind === "admin") {
      if (bearer === undefined || !sameDigest(digest(bearer), adminDigest)) {
        return send(res, errorReply("UNAUTHORIZED", "admin token required"));
      }
      const body = await readJson(req, maxBodyBytes);
      if ("status" in body) return send(res, body);
      return send(res, admin(route.name, body.value));
    }
    const terminal = bearer === undefined ? undefined : tokens.get(digest(bearer));
    if (terminal === undefined)
      return send(res, errorReply("UNAUTHORIZED", "a valid terminal bearer token is required"));
    const body = await readJson(req, maxBodyBytes);
    if ("status" in body) return send(res, body);
    const work = (): Reply => operate(route, terminal, body.value, url.searchParams);
    const b = faultsFor(route.op);
    if (b === undefined) return send(res, work(), route.op);
    const before = b.when === "before-commit";
    if (before) await hold(route.op, b);
    const failFirst = before && (b.fail === true || b.drop === true);
    const reply = failFirst ? errorReply("INTERNAL", "injected failure") : work();
    events.emit("decided", route.op, reply.status);
    if (!before) await hold(route.op, b);
    if (b.drop === true) return cut(res, reply, route.op);
    if (b.fail === true) return send(res, errorReply("INTERNAL", "injected failure"), route.op);
    return send(res, reply, route.op);
  };

  const operate = (route: ApiRoute, terminal: string, body: unknown, query: URLSearchParams): Reply => {
    switch (route.op) {
      case "open":
        return validated(OpenSessionRequest, body ?? {}, () => core.open(terminal));
      case "verify":
        return validated(VerifyRequest, body, (v) => core.verify(terminal, route.id, v));
      case "authorize":
        return validated(AuthorizeRequest, body, (v) => core.authorize(terminal, route.id, v));
      case "end":
        return body === undefined
          ? core.end(terminal, route.id)
          : errorReply("INVALID_REQUEST", "DELETE /sessions/{id} takes no body");
      case "complete":
        return validated(CompleteRequest, body, (v) => core.complete(terminal, route.authorizationId, v));
      case "reversal":
        return validated(ReversalRequest, body ?? {}, () => core.reversal(terminal, route.authorizationId));
      case "find": {
        if (route.authorizationId !== undefined) return core.read(terminal, route.authorizationId);
        const cardId = Hex8.safeParse(query.get("cardId"));
        const counter = parseCounterParam(query.get("counter"));
        if (!cardId.success || counter === undefined) {
          return errorReply(
            "INVALID_REQUEST",
            "query needs cardId (16 hex digits) and counter (0..4294967295)",
          );
        }
        return core.find(terminal, cardId.data, counter);
      }
    }
  };

  const admin = (name: AdminRoute["name"], body: unknown): Reply => {
    switch (name) {
      case "ledger":
        return { status: 200, body: ledgerToFile(ledger, LEDGER_FORMAT) };
      case "get-behaviour":
        return { status: 200, body: behaviour };
      case "set-behaviour":
        return validated(IssuerBehaviour, body, (b) => {
          setBehaviour(b);
          return { status: 200, body: behaviour };
        });
      case "release": {
        const n = stalled.size;
        release();
        return { status: 200, body: { released: n } };
      }
    }
  };

  const send = (res: ServerResponse, reply: Reply, op?: Operation): void => {
    if (res.destroyed) return;
    const text = JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
    if (op !== undefined) events.emit("answered", op, reply.status);
  };

  const cut = (res: ServerResponse, reply: Reply, op: Operation): void => {
    if (res.destroyed) return;
    const text = Buffer.from(JSON.stringify(reply.body));
    res.writeHead(reply.status, { "content-type": "application/json", "content-length": text.length });
    res.write(text.subarray(0, Math.floor(text.length / 2)), () => {
      res.socket?.destroy();
      events.emit("answered", op, 0);
    });
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((e: unknown) => send(res, errorReply("INTERNAL", (e as Error).message)));
  };
  const server: Server =
    options.tls === undefined ? createHttpServer(listener) : createHttpsServer(options.tls, listener);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const scheme = options.tls === undefined ? "http" : "https";

  return {
    url: `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`,
    adminToken,
    events,
    ledger: () => ledgerToFile(ledger, LEDGER_FORMAT),
    openSessions: () => sessions.size,
    entries: () =>
      ledger.entries.map((e) => ({
        ...e,
        cardId: Buffer.from(e.cardId),
        terminalId: Buffer.from(e.terminalId),
        s2: Buffer.from(e.s2),
      })),
    setBehaviour,
    behaviour: () => structuredClone(behaviour),
    release,
    stop: () =>
      new Promise<void>((resolve) => {
        // Stalled answers would keep their connections open for ever.
        release();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
