import { type EventEmitter, once } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PurseCard } from "../../../simulators/cards/purse/purse-card.js";
import {
  type IssuerHost,
  type IssuerHostEvents,
  type IssuerHostOptions,
  startIssuerHost,
} from "../../../simulators/issuer/issuer-host.js";
import type { Authorization, Authorizer, AuthorizerSession } from "../../../src/authorize/authorizer.js";
import { IssuerHostAuthorizer, type IssuerHostConfig } from "../../../src/authorize/issuer-host.js";
import type { Transmit } from "../../../src/pcsc/apdu/exchange.js";
import {
  buildAuthenticate,
  buildCredit,
  buildInitializeLoad,
  buildSelect,
  type CreditResponse,
  type InitializeLoadResponse,
  PURSE_AID,
  parseAuthenticateResponse,
  parseCreditResponse,
  parseInitializeLoadResponse,
  SIMULATOR_MASTER_KEY_HEX,
} from "../../../src/purse/messages/index.js";
import { send, transmitTo } from "../../purse/support/terminal.js";

export const MASTER = Buffer.from(SIMULATOR_MASTER_KEY_HEX, "hex");
export const TERMINAL = Buffer.from("5445524D30303031", "hex");
export const OTHER_TERMINAL = Buffer.from("5445524D30303032", "hex");
export const TOKEN = "terminal-0001-token-for-tests";
export const OTHER_TOKEN = "terminal-0002-token-for-tests";
export const CARD_ID = Buffer.from("0102030405060708", "hex");
export const EUR = 978;

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "issuer-"));
}

export function issuerOptions(dir: string, extra: Partial<IssuerHostOptions> = {}): IssuerHostOptions {
  return {
    ledgerPath: join(dir, "issuer-ledger.json"),
    terminals: [
      { terminalId: TERMINAL, token: TOKEN },
      { terminalId: OTHER_TERMINAL, token: OTHER_TOKEN },
    ],
    ...extra,
  };
}

export function startIssuer(dir: string, extra: Partial<IssuerHostOptions> = {}): Promise<IssuerHost> {
  return startIssuerHost(issuerOptions(dir, extra));
}

export function authorizerFor(
  host: IssuerHost,
  config: Partial<IssuerHostConfig> = {},
): IssuerHostAuthorizer {
  return new IssuerHostAuthorizer({
    url: host.url,
    terminalToken: TOKEN,
    timeoutMs: 2000,
    retries: 0,
    ...config,
  });
}

/** A purse card in-process, powered; `masterKey` other than the issuer's makes an impostor. */
export function makeCard(
  dir: string,
  masterKey = MASTER,
  name = "purse.json",
): { card: PurseCard; transmit: Transmit } {
  const card = new PurseCard({
    masterKey,
    statePath: join(dir, name),
    initial: { cardId: CARD_ID, currency: EUR, maxBalance: 100_000, balance: 10_000, counter: 5 },
  });
  card.powerOn();
  return { card, transmit: transmitTo(card) };
}

/** The terminal's side of a load through an Authorizer, step by step, for tests only. */
export class LoadSteps {
  constructor(
    readonly card: Transmit,
    readonly session: AuthorizerSession,
    readonly terminalId: Buffer = TERMINAL,
  ) {}

  async authenticate(): Promise<void> {
    await send(this.card, buildSelect(PURSE_AID));
    const terminalChallenge = await this.session.challenge();
    const answer = parseAuthenticateResponse(await send(this.card, buildAuthenticate({ terminalChallenge })));
    await this.session.verifyAuthentication(answer);
  }

  async initializeLoad(amount: number): Promise<InitializeLoadResponse> {
    return parseInitializeLoadResponse(
      await send(this.card, buildInitializeLoad({ amount, currency: EUR, terminalId: this.terminalId })),
    );
  }

  authorize(amount: number, init: InitializeLoadResponse): Promise<Authorization> {
    return this.session.authorize({ amount, terminalId: this.terminalId, init });
  }

  credit(init: InitializeLoadResponse, amount: number, auth: Authorization): Promise<CreditResponse> {
    return credit(this.card, init, amount, auth, this.terminalId);
  }
}

/** CREDIT with the authorization's S2 for the counter INITIALIZE LOAD announced. */
export async function credit(
  card: Transmit,
  init: InitializeLoadResponse,
  amount: number,
  auth: Authorization,
  terminalId: Buffer = TERMINAL,
): Promise<CreditResponse> {
  const command = { counter: init.counter, amount, currency: init.currency, terminalId, s2: auth.s2 };
  return parseCreditResponse(await send(card, buildCredit(command)));
}

/** A whole load: authenticate, authorize, credit, verify completion. */
export function load(
  authorizer: Authorizer,
  card: Transmit,
  amount: number,
): Promise<{ auth: Authorization; credit: CreditResponse; init: InitializeLoadResponse }> {
  return authorizer.session(async (session) => {
    const steps = new LoadSteps(card, session);
    await steps.authenticate();
    const init = await steps.initializeLoad(amount);
    const auth = await steps.authorize(amount, init);
    const answer = await steps.credit(init, amount, auth);
    await authorizer.verifyCompletion(auth.authorizationId, answer.balanceAfter, answer.s3);
    return { auth, credit: answer, init };
  });
}

/** The error code a promise rejects with; fails the test if it resolves. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? `untyped: ${(e as Error).message}`;
  }
  throw new Error("expected a rejection");
}

/** The next event of that name from the issuer host, or a failure after a deadline. */
export async function nextIssuerEvent<K extends keyof IssuerHostEvents>(
  host: IssuerHost,
  name: K,
  deadlineMs = 5000,
): Promise<IssuerHostEvents[K]> {
  return (await once(host.events as EventEmitter, name, {
    signal: AbortSignal.timeout(deadlineMs),
  })) as IssuerHostEvents[K];
}
