/**
 * What holds the funds a refill moves, when they are not the meter vendor's alone: the fleet's
 * shared account (src/fleet). Keyed by the refill's meter transaction id. The meter family asks it
 * before the authorization and before every REFILL that leaves, first send or resend, so that a
 * refill whose funds were given back is never sent.
 */
export interface RefillGate {
  /** The funds for this refill are held (its lease renewed); throws a typed refusal when not. */
  hold(key: string, amount: number): Promise<void>;
  /**
   * Whether the REFILL may leave now: true binds the held funds to the meter's outcome (posted by
   * what it credits, or given back when it never takes it); false when they were given back before
   * anything was sent (a lease that expired), so it never was. Throws when the holder cannot tell.
   */
  maySend(key: string): Promise<boolean>;
}
