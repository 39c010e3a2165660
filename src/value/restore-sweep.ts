import { Backoff } from "./backoff.js";

/**
 * Which devices a restore sweep asks, and when. Asking authenticates the target there, which holds
 * the SAM or opens an issuer session: a card already identified under the same presence token
 * (the same insertion) as one no open transaction waits for is not asked again, and a device whose
 * attempt failed is asked again after a doubling pause. A new token (the card re-inserted) starts
 * afresh; a technician's "try now" asks regardless.
 */
export class RestoreSweep {
  private readonly identified = new Map<string, { token: string; targetId: string }>();
  private readonly retry: Backoff<string>;

  constructor(baseMs: number, maxMs: number) {
    this.retry = new Backoff(baseMs, maxMs);
  }

  shouldAsk(
    device: string,
    token: string | undefined,
    awaited: (targetId: string) => boolean,
    now: boolean,
  ): boolean {
    const known = this.identified.get(device);
    if (token === undefined || known?.token !== token) {
      this.identified.delete(device);
      this.retry.reset(device);
    } else if (!now && !awaited(known.targetId)) {
      return false;
    }
    return now || this.retry.due(device);
  }

  identifiedAs(device: string, token: string | undefined, targetId: string): void {
    if (token !== undefined) this.identified.set(device, { token, targetId });
  }

  succeeded(device: string): void {
    this.retry.reset(device);
  }

  failed(device: string): void {
    this.retry.failed(device);
  }

  /** Every device may be asked at once (the SAM came back); what was identified still holds. */
  retryAll(): void {
    this.retry.clear();
  }

  /** Forgets everything (a journal re-read). */
  clear(): void {
    this.identified.clear();
    this.retry.clear();
  }
}
