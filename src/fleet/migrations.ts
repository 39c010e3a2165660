/**
 * The fleet schema, as numbered migrations run in order by `migrate` (src/fleet/migrate.ts). A
 * migration is never edited once released: a change is a new one. Every money step is one SQL
 * function, so no transaction stays open across round trips, and the invariants are the database's
 * own constraints as well as the functions' logic. The functions run with their owner's rights
 * (SECURITY DEFINER): a kiosk's role may call them and read, never write a table itself.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const schema = `
CREATE TABLE fleet_account (
  id text PRIMARY KEY,
  currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  balance bigint NOT NULL,
  reserved bigint NOT NULL DEFAULT 0,
  funded bigint NOT NULL DEFAULT 0,
  CONSTRAINT balance_not_negative CHECK (balance >= 0),
  CONSTRAINT reserved_within_balance CHECK (reserved >= 0 AND reserved <= balance),
  CONSTRAINT balance_within_funded CHECK (balance <= funded)
);

CREATE TABLE fleet_funding (
  id bigserial PRIMARY KEY,
  account_id text NOT NULL REFERENCES fleet_account,
  amount bigint NOT NULL CHECK (amount > 0),
  note text NOT NULL DEFAULT '',
  at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE fleet_reservation (
  key text PRIMARY KEY,
  account_id text NOT NULL REFERENCES fleet_account,
  kiosk_id text NOT NULL,
  meter text NOT NULL,
  requested bigint NOT NULL CHECK (requested > 0),
  amount bigint NOT NULL CHECK (amount > 0 AND amount <= requested),
  state text NOT NULL CHECK (state IN ('open', 'sending', 'posted', 'voided', 'expired')),
  posted bigint CHECK (posted IS NULL OR (posted >= 0 AND posted <= amount)),
  created_at timestamptz NOT NULL DEFAULT now(),
  lease_until timestamptz NOT NULL,
  sending_at timestamptz,
  closed_at timestamptz,
  CONSTRAINT sent_within_lease CHECK (sending_at IS NULL OR sending_at <= lease_until),
  CONSTRAINT posted_only_when_sent CHECK (state <> 'posted' OR (sending_at IS NOT NULL AND posted IS NOT NULL)),
  CONSTRAINT expired_never_sent CHECK (state <> 'expired' OR sending_at IS NULL),
  CONSTRAINT closed_when_final CHECK ((state IN ('open', 'sending')) = (closed_at IS NULL))
);
CREATE INDEX fleet_reservation_open ON fleet_reservation (account_id, lease_until) WHERE state = 'open';
CREATE INDEX fleet_reservation_live ON fleet_reservation (kiosk_id) WHERE state IN ('open', 'sending');

CREATE TABLE fleet_kiosk (
  id text PRIMARY KEY,
  first_seen timestamptz NOT NULL DEFAULT now(),
  last_seen timestamptz NOT NULL DEFAULT now(),
  version text NOT NULL DEFAULT '',
  meters jsonb NOT NULL DEFAULT '[]'::jsonb,
  outbox_pending integer NOT NULL DEFAULT 0
);

CREATE TABLE fleet_ledger (
  kiosk_id text NOT NULL,
  tx_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('load', 'debit', 'refill', 'batch')),
  state text NOT NULL,
  target text NOT NULL,
  amount bigint NOT NULL CHECK (amount >= 0),
  currency text NOT NULL,
  at timestamptz NOT NULL,
  body jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kiosk_id, tx_id)
);
CREATE INDEX fleet_ledger_at ON fleet_ledger (at);

-- Funds come in only here: balance and funded move together, so balance + posted = funded.
CREATE FUNCTION fleet_fund(p_account text, p_currency text, p_amount bigint, p_note text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE b bigint;
BEGIN
  INSERT INTO fleet_account (id, currency, balance, funded) VALUES (p_account, p_currency, 0, 0)
    ON CONFLICT (id) DO NOTHING;
  UPDATE fleet_account SET balance = balance + p_amount, funded = funded + p_amount
    WHERE id = p_account AND currency = p_currency RETURNING balance INTO b;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'account % holds another currency than %', p_account, p_currency USING ERRCODE = '22023';
  END IF;
  INSERT INTO fleet_funding (account_id, amount, note) VALUES (p_account, p_amount, p_note);
  RETURN b;
END $$;

-- Open reservations past their lease give their funds back; the account row must be locked by the caller.
CREATE FUNCTION fleet_expire_locked(p_account text) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE freed bigint;
BEGIN
  WITH gone AS (
    UPDATE fleet_reservation SET state = 'expired', closed_at = now()
      WHERE account_id = p_account AND state = 'open' AND lease_until <= now()
      RETURNING amount)
  SELECT coalesce(sum(amount), 0) INTO freed FROM gone;
  IF freed > 0 THEN
    UPDATE fleet_account SET reserved = reserved - freed WHERE id = p_account;
  END IF;
  RETURN freed;
END $$;

CREATE FUNCTION fleet_expire(p_account text) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM 1 FROM fleet_account WHERE id = p_account FOR UPDATE;
  RETURN fleet_expire_locked(p_account);
END $$;

-- A reservation against the unreserved balance. The same key answers the reservation it made;
-- a grant below p_min is a refusal (p_min = p_amount: all or nothing; 1: as much as there is).
-- The whole amount is granted by one conditional update of the account row, whose row lock decides
-- between kiosks; only when that falls short are the leases that passed swept (only then do they
-- matter) and a part granted, under the same lock.
CREATE FUNCTION fleet_reserve(p_key text, p_account text, p_kiosk text, p_meter text,
                              p_amount bigint, p_min bigint, p_lease_ms integer)
RETURNS TABLE (state text, amount bigint, lease_until timestamptz, unreserved bigint, created boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE r fleet_reservation; avail bigint; granted bigint; lease timestamptz;
BEGIN
  SELECT * INTO r FROM fleet_reservation WHERE key = p_key;
  IF FOUND THEN
    RETURN QUERY SELECT r.state, r.amount, r.lease_until, NULL::bigint, false;
    RETURN;
  END IF;
  UPDATE fleet_account a SET reserved = a.reserved + p_amount
    WHERE a.id = p_account AND a.balance - a.reserved >= p_amount
    RETURNING a.balance - a.reserved INTO avail;
  IF FOUND THEN
    granted := p_amount;
  ELSE
    SELECT a.balance - a.reserved INTO avail FROM fleet_account a WHERE a.id = p_account FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no fleet account %', p_account USING ERRCODE = 'P0002';
    END IF;
    avail := avail + fleet_expire_locked(p_account);
    granted := least(p_amount, avail);
    IF granted <= 0 OR granted < p_min THEN
      RETURN QUERY SELECT 'refused'::text, 0::bigint, NULL::timestamptz, avail, false;
      RETURN;
    END IF;
    UPDATE fleet_account SET reserved = reserved + granted WHERE id = p_account;
    avail := avail - granted;
  END IF;
  lease := now() + make_interval(secs => p_lease_ms / 1000.0);
  INSERT INTO fleet_reservation (key, account_id, kiosk_id, meter, requested, amount, state, lease_until)
    VALUES (p_key, p_account, p_kiosk, p_meter, p_amount, granted, 'open', lease);
  RETURN QUERY SELECT 'open'::text, granted, lease, avail, true;
END $$;

-- Renews an open reservation's lease (before the meter is asked for its authorization).
CREATE FUNCTION fleet_renew(p_key text, p_lease_ms integer)
RETURNS TABLE (state text, amount bigint, lease_until timestamptz) LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE r fleet_reservation;
BEGIN
  UPDATE fleet_reservation SET lease_until = now() + make_interval(secs => p_lease_ms / 1000.0)
    WHERE key = p_key AND fleet_reservation.state = 'open' AND fleet_reservation.lease_until > now()
    RETURNING * INTO r;
  IF NOT FOUND THEN
    SELECT * INTO r FROM fleet_reservation WHERE key = p_key;
  END IF;
  IF r.key IS NULL THEN RETURN; END IF;
  RETURN QUERY SELECT CASE WHEN r.state = 'open' AND r.lease_until <= now() THEN 'expired' ELSE r.state END,
                      r.amount, r.lease_until;
END $$;

-- The point of no return: from 'sending' on the reservation no longer expires, it ends posted by
-- what the meter credited or voided when the meter never took it. Only an open, unexpired lease gets here.
CREATE FUNCTION fleet_sending(p_key text) RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE r fleet_reservation;
BEGIN
  UPDATE fleet_reservation SET state = 'sending', sending_at = now()
    WHERE key = p_key AND state = 'open' AND lease_until > now() RETURNING * INTO r;
  IF FOUND THEN RETURN 'sending'; END IF;
  SELECT * INTO r FROM fleet_reservation WHERE key = p_key;
  IF NOT FOUND THEN RETURN 'unknown'; END IF;
  IF r.state = 'open' THEN RETURN 'expired'; END IF;
  RETURN r.state;
END $$;

-- Settles a reservation: posted by what was credited (only after 'sending'), or voided. Repeating
-- either answers the state it ended in; a post that cannot be (never sent, more than held) changes
-- nothing and answers why. Locks the account before the reservation, like fleet_reserve.
CREATE FUNCTION fleet_settle(p_key text, p_credited bigint) RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE r fleet_reservation;
BEGIN
  SELECT * INTO r FROM fleet_reservation WHERE key = p_key;
  IF NOT FOUND THEN RETURN 'unknown'; END IF;
  PERFORM 1 FROM fleet_account WHERE id = r.account_id FOR UPDATE;
  SELECT * INTO r FROM fleet_reservation WHERE key = p_key FOR UPDATE;
  IF r.state NOT IN ('open', 'sending') THEN RETURN r.state; END IF;
  IF p_credited IS NULL THEN
    UPDATE fleet_reservation SET state = 'voided', closed_at = now() WHERE key = p_key;
    UPDATE fleet_account SET reserved = reserved - r.amount WHERE id = r.account_id;
    RETURN 'voided';
  END IF;
  IF r.state <> 'sending' THEN RETURN 'not-sent'; END IF;
  IF p_credited > r.amount THEN RETURN 'over'; END IF;
  UPDATE fleet_reservation SET state = 'posted', posted = p_credited, closed_at = now() WHERE key = p_key;
  UPDATE fleet_account SET balance = balance - p_credited, reserved = reserved - r.amount
    WHERE id = r.account_id;
  RETURN 'posted';
END $$;

-- What a kiosk reported that its reservation cannot match: kept for the operator, never decided here.
CREATE TABLE fleet_discrepancy (
  id bigserial PRIMARY KEY,
  kiosk_id text NOT NULL,
  tx_id text NOT NULL,
  key text NOT NULL,
  tx_state text NOT NULL,
  reservation_state text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);

-- A kiosk's finished transactions into the ledger, each once by (kiosk, tx id). A refill's row
-- settles its reservation in the same transaction: posted when applied, voided when failed.
CREATE FUNCTION fleet_ingest(p_kiosk text, p_rows jsonb, p_pending integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE n integer; refills jsonb; item jsonb; key text; outcome text;
BEGIN
  INSERT INTO fleet_kiosk (id) VALUES (p_kiosk) ON CONFLICT (id) DO NOTHING;
  UPDATE fleet_kiosk SET last_seen = now(), outbox_pending = p_pending WHERE id = p_kiosk;
  WITH ins AS (
    INSERT INTO fleet_ledger (kiosk_id, tx_id, kind, state, target, amount, currency, at, body)
    SELECT p_kiosk, r.tx_id, r.kind, r.state, r.target, r.amount, r.currency, r.at, r.body
      FROM jsonb_to_recordset(p_rows)
        AS r(tx_id text, kind text, state text, target text, amount bigint, currency text, at timestamptz, body jsonb)
    ON CONFLICT DO NOTHING
    RETURNING tx_id, kind, state, body)
  SELECT count(*)::integer,
         coalesce(jsonb_agg(jsonb_build_object('tx_id', tx_id, 'state', state, 'body', body))
                    FILTER (WHERE kind = 'refill' AND body ? 'reservation'), '[]'::jsonb)
    INTO n, refills FROM ins;
  -- Applied: posted by what the meter took. Failed: never landed, voided. Anything else (written
  -- off, unresolved) may have landed: the funds stay held and the operator is told.
  FOR item IN SELECT value FROM jsonb_array_elements(refills) ORDER BY value->'body'->>'reservation' LOOP
    key := item->'body'->>'reservation';
    outcome := CASE item->>'state'
      WHEN 'applied' THEN fleet_settle(key, (item->'body'->>'credited')::bigint)
      WHEN 'failed' THEN fleet_settle(key, NULL)
      ELSE 'held' END;
    IF NOT ((item->>'state' = 'applied' AND outcome = 'posted')
         OR (item->>'state' = 'failed' AND outcome IN ('voided', 'expired', 'unknown'))) THEN
      INSERT INTO fleet_discrepancy (kiosk_id, tx_id, key, tx_state, reservation_state)
        VALUES (p_kiosk, item->>'tx_id', key, item->>'state', outcome);
    END IF;
  END LOOP;
  RETURN n;
END $$;

CREATE FUNCTION fleet_seen(p_kiosk text, p_version text, p_meters jsonb, p_pending integer)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO fleet_kiosk (id, version, meters, outbox_pending) VALUES (p_kiosk, p_version, p_meters, p_pending)
  ON CONFLICT (id) DO UPDATE SET last_seen = now(), version = EXCLUDED.version, meters = EXCLUDED.meters,
    outbox_pending = EXCLUDED.outbox_pending;
$$;
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "account, reservations, ledger", sql: schema },
];
