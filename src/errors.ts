// Named error codes at the edge of the service (HTTP, CLI, startup). Inside machines errors are events.
export type ErrorCode =
  | 'SB_ERR_CONFIG'
  | 'SB_ERR_INVALID_PHONE'
  | 'SB_ERR_STORE_CORRUPT'
  | 'SB_ERR_STORE_LOCKED'
  | 'SB_ERR_STORE_WRITE'
  | 'SB_ERR_STORE_UNAVAILABLE'
  | 'SB_ERR_IDEMPOTENCY_KEY_REUSED'
  | 'SB_ERR_UNKNOWN_MASTER'
  | 'SB_ERR_UNKNOWN_MESSAGE'
  | 'SB_ERR_UNKNOWN_STRATEGY'
  | 'SB_ERR_UNKNOWN_ALERT'
  | 'SB_ERR_UNKNOWN_WEBHOOK'
  | 'SB_ERR_NO_BACKUP'
  | 'SB_ERR_VALIDATION'
  | 'SB_ERR_UNAUTHORIZED'
  | 'SB_ERR_FORBIDDEN'
  | 'SB_ERR_RATE_LIMITED'
  | 'SB_ERR_NOT_SIM'
  | 'SB_ERR_STOPPING';

export class SwitchboardError extends Error {
  override name = 'SwitchboardError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** HTTP status when it reaches a caller; 500 means "not the caller's fault". */
    readonly statusCode = 400,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
