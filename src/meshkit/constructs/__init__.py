"""CDK constructs deploying the mesh (the only meshkit package that imports aws_cdk)."""

from __future__ import annotations

from meshkit.constructs._handlers import CustomHandler
from meshkit.constructs.central import CentralGovernance
from meshkit.constructs.domain import DataDomain
from meshkit.constructs.dropzone import DropZone
from meshkit.constructs.stackset import DomainStackSet

__all__ = ["CentralGovernance", "CustomHandler", "DataDomain", "DomainStackSet", "DropZone"]
