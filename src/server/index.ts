/** zipml/server: the HTTP service for vector collections on compressed indexes (Node only). */
export { startServer, DEFAULT_NPROBE, DEFAULT_K_FACTOR, type RunningServer } from './app.js';
export {
  defaultConfig, keysFromEnv, autoRecipe, DEFAULT_LIMITS, DEFAULT_STORAGE,
  type ServerConfig, type Limits, type StorageConfig, type ApiKey,
} from './config.js';
export { Store, type CreateRequest } from './store.js';
export { Collection, type CollectionConfig } from './collection.js';
export { PayloadIndex } from './payload-index.js';
export { scanWal, recoverWalFile, WalWriter } from './wal.js';
export { ApiError } from './errors.js';
