"""The official SDKs' ``copilot.rpc`` names (the generated wire types, e.g.
``PermissionDecisionApproveOnce``, ``PermissionDecisionReject``): the same classes as
:mod:`copilot.protocol`."""
from .protocol import *  # noqa: F401,F403
