import { z } from "zod";

/** The technician console's login, handed out on the admin socket only (docs/web.md). */
export const ConsoleMethods = {
  "admin.console.ticket": {
    description:
      "a single-use login ticket for the technician console, good for a minute: open `url` (the ticket is in its fragment, which browsers never send to a server)",
    params: z.object({}).strict(),
    result: z.object({ url: z.string(), expiresAt: z.string() }),
  },
} as const;
