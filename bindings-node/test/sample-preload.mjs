// Preloaded (node --import) into the backend-services samples by samples.test.mjs: the samples
// are written for a CLI server that reaches GitHub Copilot; offline, their sessions get the fake
// model as BYOK provider when they name none. The samples themselves run unchanged.
import { CopilotClient } from '@copilot-hub/node';

const provider = JSON.parse(process.env.SAMPLE_PROVIDER);
const withProvider = (config) => (config && config.provider ? config : { ...(config || {}), provider });
const create = CopilotClient.prototype.createSession;
const resume = CopilotClient.prototype.resumeSession;
CopilotClient.prototype.createSession = function (config) {
  return create.call(this, withProvider(config));
};
CopilotClient.prototype.resumeSession = function (sessionId, config) {
  return resume.call(this, sessionId, withProvider(config));
};
