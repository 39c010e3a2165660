import type { z } from "zod";

/**
 * One line per problem, each naming the field path, e.g.
 * `api.maxLineBytes: expected number, received string` or `api.colour: unknown key`.
 */
export function formatZodIssues(error: z.ZodError, root = ""): string[] {
  return error.issues.flatMap((issue) => {
    const path = [root, ...issue.path.map(String)].filter((p) => p.length > 0).join(".");
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((k) => `${path.length > 0 ? `${path}.` : ""}${k}: unknown key`);
    }
    const message = issue.message.replace(/^Invalid (input|option): /, "");
    return [`${path.length > 0 ? path : "(top level)"}: ${message}`];
  });
}
