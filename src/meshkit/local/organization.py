"""An AWS Organization for the local mesh: moto's Organizations, with OUs by name and the mesh's
own account ids.

moto's Organizations is real enough for membership by OU path (create OUs, ``MoveAccount``,
``ListParents``), but ``CreateAccount`` draws a random account id and a mesh needs its domains'
accounts in the organisation. That one gap is filled here, visibly: the id moto draws for a new
account is the one asked for. Everything else goes through moto's API, from the management
account.

    with LocalMesh(...) as mesh:
        org = LocalOrganization(mesh)
        org.place("222222222222", "Projects/Sales")
        mesh.use_organization(org, paths=[org.pattern("Projects")])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from unittest import mock

if TYPE_CHECKING:
    from meshkit.local.mesh import LocalMesh

__all__ = ["DEFAULT_MANAGEMENT_ACCOUNT", "LocalOrganization"]

#: The organisation's management account (a 12-digit id no demo domain uses).
DEFAULT_MANAGEMENT_ACCOUNT = "900000000009"


class LocalOrganization:
    """An organisation in moto, managed from ``management_account``; OUs are named by paths
    like ``"Projects/Sales"`` (created on first use, nested under the root)."""

    def __init__(self, mesh: LocalMesh, management_account: str = DEFAULT_MANAGEMENT_ACCOUNT):
        self.mesh = mesh
        self.management_account = management_account
        self._client: Any = mesh.session(management_account).client("organizations")
        org = self._client.create_organization(FeatureSet="ALL")["Organization"]
        self.id: str = org["Id"]
        self.root_id: str = self._client.list_roots()["Roots"][0]["Id"]
        self._ous: dict[str, str] = {"": self.root_id}
        self._accounts: set[str] = set()

    @property
    def client(self) -> Any:
        """Organizations, as the management account (moves, removals, look-ups)."""
        return self._client

    def ou(self, path: str) -> str:
        """The id of the OU at ``path`` (``"A/B"``), creating the missing levels."""
        path = path.strip("/")
        if path in self._ous:
            return self._ous[path]
        parent_path, _, name = path.rpartition("/")
        parent = self.ou(parent_path)
        created = self._client.create_organizational_unit(ParentId=parent, Name=name)
        self._ous[path] = str(created["OrganizationalUnit"]["Id"])
        return self._ous[path]

    def ou_path(self, path: str) -> str:
        """The ``aws:PrincipalOrgPaths`` value of an account placed directly in OU ``path``."""
        ids = [self.root_id]
        so_far = ""
        for part in filter(None, path.strip("/").split("/")):
            so_far = f"{so_far}/{part}" if so_far else part
            ids.append(self.ou(so_far))
        return "/".join([self.id, *ids]) + "/"

    def pattern(self, path: str) -> str:
        """An ``organization_paths`` pattern for OU ``path`` and every OU below it."""
        return self.ou_path(path) + "*"

    def place(self, account: str, path: str = "", *, name: str | None = None) -> None:
        """Add ``account`` to the organisation (with that very id) in OU ``path``."""
        if account in self._accounts:
            raise ValueError(f"account {account} is already in organization {self.id}")
        # The gap filled here: moto would give the new account a random id.
        with mock.patch(
            "moto.organizations.models.utils.make_random_account_id", return_value=account
        ):
            self._client.create_account(
                AccountName=name or f"acct-{account}", Email=f"{account}@example.com"
            )
        self._accounts.add(account)
        target = self.ou(path)
        if target != self.root_id:
            self.move(account, path)

    def parent(self, account: str) -> str:
        return str(self._client.list_parents(ChildId=account)["Parents"][0]["Id"])

    def move(self, account: str, path: str) -> None:
        """Move ``account`` to OU ``path`` (``MoveAccount``, as an administrator would)."""
        self._client.move_account(
            AccountId=account,
            SourceParentId=self.parent(account),
            DestinationParentId=self.ou(path),
        )

    def remove(self, account: str) -> None:
        """Take ``account`` out of the organisation (``RemoveAccountFromOrganization``)."""
        self._client.remove_account_from_organization(AccountId=account)
        self._accounts.discard(account)
