import diagnostics_channel from "node:diagnostics_channel";

/**
 * Named points the metrics listen at (node:diagnostics_channel): the journal and the PC/SC layer
 * publish without knowing who counts, and publishing costs one check when nobody listens.
 */
export interface ApduProbe {
  /** Status word as 4 hex digits, or null when the exchange failed before a status came back. */
  sw: string | null;
  /** The error code of a failed exchange. */
  error: string | null;
}
export interface JournalCommitProbe {
  records: number;
  /** Write plus sync, in seconds. */
  seconds: number;
}

export const apduProbe = diagnostics_channel.channel("termhost:pcsc.apdu");
export const journalCommitProbe = diagnostics_channel.channel("termhost:journal.commit");
