"""The official SDKs' ``copilot.session`` names: ``from copilot.session import
PermissionHandler, CommandDefinition, CommandContext, ElicitationContext, ElicitationResult``."""
from .client import CopilotSession, PermissionHandler, SessionUi
from .session_fs_provider import SessionFsProvider
from .types import (CommandContext, CommandDefinition, ElicitationContext, ElicitationResult, GitHubTokenRequest,
                    McpAuthRequest)

__all__ = ["CopilotSession", "PermissionHandler", "SessionUi", "CommandDefinition", "CommandContext",
           "ElicitationContext", "ElicitationResult", "McpAuthRequest", "GitHubTokenRequest", "SessionFsProvider"]
