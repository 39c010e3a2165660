import type { SimCard } from "../../../simulators/cards/sim-card.js";
import { TermhostError } from "../../../src/errors/errors.js";
import type { CommandApdu } from "../../../src/pcsc/apdu/command.js";
import { exchange, type Transmit } from "../../../src/pcsc/apdu/exchange.js";
import { statusError } from "../../../src/pcsc/apdu/status.js";
import {
  type AuthenticateResponse,
  buildAuthenticate,
  buildCredit,
  buildGetChallenge,
  buildInitializeLoad,
  buildIssueAuthorization,
  buildReadLastTransaction,
  buildSelect,
  buildVerifyAuthentication,
  buildVerifyCompletion,
  type CreditCommand,
  type CreditResponse,
  type InitializeLoadResponse,
  PURSE_AID,
  parseAuthenticateResponse,
  parseCreditResponse,
  parseGetChallengeResponse,
  parseInitializeLoadResponse,
  parseIssueAuthorizationResponse,
  parseReadLastTransactionResponse,
  type ReadLastTransactionResponse,
  SAM_AID,
} from "../../../src/purse/messages/index.js";

/** Sends a command and returns its data; any status but 9000 is APDU_STATUS carrying the sw. */
export async function send(transmit: Transmit, cmd: CommandApdu): Promise<Buffer> {
  const r = await exchange(transmit, cmd, { accept: () => true });
  if (r.sw !== 0x9000) throw statusError(r.sw, cmd.ins);
  return r.data;
}

/** An in-process card as a Transmit; a card that went silent (torn) is CARD_REMOVED, as through pcscd. */
export function transmitTo(card: SimCard): Transmit {
  return async (apdu) => {
    const response = await card.transmit(apdu);
    if (response.length === 0) throw new TermhostError("CARD_REMOVED", "card went silent");
    return response;
  };
}

export interface PendingCredit {
  authorizationId: number;
  command: CreditCommand;
}

/**
 * The terminal's side of a load, step by step, for tests only: the real engine (journal, restore
 * decisions) lives in src/purse. The host holds no key; every MAC is checked by the SAM.
 */
export class ReferenceTerminal {
  constructor(
    private readonly card: Transmit,
    private readonly sam: Transmit,
    readonly terminalId: Buffer,
  ) {}

  async select(): Promise<void> {
    await send(this.card, buildSelect(PURSE_AID));
    await send(this.sam, buildSelect(SAM_AID));
  }

  /** SAM challenge → card AUTHENTICATE → SAM verifies; returns the card's verified answer. */
  async authenticate(): Promise<AuthenticateResponse> {
    const terminalChallenge = parseGetChallengeResponse(await send(this.sam, buildGetChallenge()));
    const answer = parseAuthenticateResponse(await send(this.card, buildAuthenticate({ terminalChallenge })));
    await send(this.sam, buildVerifyAuthentication(answer));
    return answer;
  }

  async initializeLoad(amount: number, currency: number): Promise<InitializeLoadResponse> {
    return parseInitializeLoadResponse(
      await send(this.card, buildInitializeLoad({ amount, currency, terminalId: this.terminalId })),
    );
  }

  async authorize(amount: number, init: InitializeLoadResponse): Promise<PendingCredit> {
    const auth = parseIssueAuthorizationResponse(
      await send(this.sam, buildIssueAuthorization({ amount, terminalId: this.terminalId, card: init })),
    );
    return {
      authorizationId: auth.authorizationId,
      command: {
        counter: init.counter,
        amount,
        currency: init.currency,
        terminalId: this.terminalId,
        s2: auth.s2,
      },
    };
  }

  async credit(pending: PendingCredit): Promise<CreditResponse> {
    return parseCreditResponse(await send(this.card, buildCredit(pending.command)));
  }

  async verifyCompletion(authorizationId: number, balanceAfter: number, s3: Buffer): Promise<void> {
    await send(this.sam, buildVerifyCompletion({ authorizationId, balanceAfter, s3 }));
  }

  async readLastTransaction(): Promise<ReadLastTransactionResponse> {
    return parseReadLastTransactionResponse(await send(this.card, buildReadLastTransaction()));
  }

  /** A whole load without interruption; returns the verified credit answer. */
  async load(amount: number, currency: number): Promise<{ pending: PendingCredit; credit: CreditResponse }> {
    await this.select();
    await this.authenticate();
    const init = await this.initializeLoad(amount, currency);
    const pending = await this.authorize(amount, init);
    const credit = await this.credit(pending);
    await this.verifyCompletion(pending.authorizationId, credit.balanceAfter, credit.s3);
    return { pending, credit };
  }
}
