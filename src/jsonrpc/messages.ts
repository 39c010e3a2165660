import { z } from "zod";

/** JSON-RPC 2.0 envelopes. Method params and results are validated by each method's own schema. */
export const RequestId = z.union([z.string().max(200), z.number().int()]);
export type RequestId = z.infer<typeof RequestId>;

export const RequestEnvelope = z
  .object({
    jsonrpc: z.literal("2.0"),
    id: RequestId.optional(),
    method: z.string().min(1).max(100),
    params: z.unknown().optional(),
  })
  .strict();
export type RequestEnvelope = z.infer<typeof RequestEnvelope>;

export const ErrorObject = z.object({
  code: z.number().int(),
  message: z.string(),
  data: z
    .object({
      code: z.string(),
      hint: z.string().optional(),
      context: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
});
export type ErrorObject = z.infer<typeof ErrorObject>;

export const ResponseEnvelope = z.union([
  z.object({ jsonrpc: z.literal("2.0"), id: RequestId.nullable(), result: z.unknown() }),
  z.object({ jsonrpc: z.literal("2.0"), id: RequestId.nullable(), error: ErrorObject }),
]);

export const NotificationEnvelope = z.object({
  jsonrpc: z.literal("2.0"),
  method: z.string(),
  params: z.unknown().optional(),
});

/** Standard JSON-RPC numeric codes; our own stable string code travels in `error.data.code`. */
export const RpcCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
  APPLICATION: -32000,
} as const;
