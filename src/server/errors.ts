/** Errors the HTTP layer turns into `{ "error": { "code", "message" } }` with a 4xx/5xx status. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export const notFound = (what: string) => new ApiError(404, 'E_NOT_FOUND', what);
export const badRequest = (code: string, message: string) => new ApiError(400, code, message);
