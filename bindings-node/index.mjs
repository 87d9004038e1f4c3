// ESM entry of @copilot-hub/node: the same objects as the CommonJS entry (index.js).
import cjs from './index.js';

export const {
  CopilotClient,
  CopilotPool,
  CopilotSession,
  setLogHandler,
  CopilotError,
  ErrorCodes,
  ErrorNumbers,
  approveAll,
  defineTool,
  RuntimeConnection,
  PINNED_CLI_VERSION,
  SESSION_EVENT_TYPES,
  HOOK_TYPES,
  strictTypes,
} = cjs;
export default cjs;
