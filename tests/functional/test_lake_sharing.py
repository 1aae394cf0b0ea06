"""Lake Formation grants across accounts: RAM invitations, organisations, revokes, LF-tags."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from test_lake_support import (
    ANALYST,
    CENTRAL,
    CONSUMER,
    PRODUCER,
    Lake,
    central_catalog,
    grant,
    running_lake,
    table_resource,
)


def _consumer_sees_orders(lake: Lake) -> bool:
    try:
        lake.client(CONSUMER, "glue").get_table(
            CatalogId=CENTRAL, DatabaseName="sales", Name="orders"
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "AccessDeniedException":
            raise
        return False
    return True


def _consumer_permissions(lake: Lake) -> list[dict[str, object]]:
    rows = lake.client(CONSUMER, "lakeformation").list_permissions()
    return list(rows["PrincipalResourcePermissions"])


def test_grant_to_another_account_is_usable_only_after_the_invitation_is_accepted(
    lake: Lake,
) -> None:
    # GIVEN central's table and a grant to the consumer account outside any organisation
    central_catalog(lake)
    grant(lake, CENTRAL, CONSUMER, table_resource(), ["SELECT", "DESCRIBE"], ["SELECT", "DESCRIBE"])

    # THEN the consumer sees a pending invitation and nothing else yet
    ram = lake.client(CONSUMER, "ram")
    invitations = ram.get_resource_share_invitations()["resourceShareInvitations"]
    assert [(i["senderAccountId"], i["receiverAccountId"], i["status"]) for i in invitations] == [
        (CENTRAL, CONSUMER, "PENDING")
    ]
    assert invitations[0]["resourceShareInvitationArn"].startswith(
        f"arn:aws:ram:us-east-1:{CENTRAL}:resource-share-invitation/"
    )
    assert ram.get_resource_shares(resourceOwner="OTHER-ACCOUNTS")["resourceShares"] == []
    assert _consumer_permissions(lake) == []
    assert not _consumer_sees_orders(lake)
    assert [g.usable for g in lake.sim.grants(CONSUMER)] == [False]
    # and central owns the RAM share moto keeps
    owned = lake.client(CENTRAL, "ram").get_resource_shares(resourceOwner="SELF")
    assert [s["resourceShareArn"] for s in owned["resourceShares"]] == [
        invitations[0]["resourceShareArn"]
    ]

    # WHEN the consumer accepts
    accepted = ram.accept_resource_share_invitation(
        resourceShareInvitationArn=invitations[0]["resourceShareInvitationArn"]
    )["resourceShareInvitation"]

    # THEN the grant is visible and usable in the consumer account
    assert accepted["status"] == "ACCEPTED"
    shares = ram.get_resource_shares(resourceOwner="OTHER-ACCOUNTS")["resourceShares"]
    assert [(s["owningAccountId"], s["status"]) for s in shares] == [(CENTRAL, "ACTIVE")]
    rows = _consumer_permissions(lake)
    # As AWS reads it back: SELECT on the table's column wildcard, the rest on the table, both
    # marked as derived from the RAM share.
    share = {"ResourceShare": [shares[0]["resourceShareArn"]]}
    assert rows == [
        {
            "Principal": {"DataLakePrincipalIdentifier": CONSUMER},
            "Resource": table_resource(),
            "Permissions": ["DESCRIBE"],
            "PermissionsWithGrantOption": ["DESCRIBE"],
            "AdditionalDetails": share,
        },
        {
            "Principal": {"DataLakePrincipalIdentifier": CONSUMER},
            "Resource": {"TableWithColumns": {**table_resource()["Table"], "ColumnWildcard": {}}},
            "Permissions": ["SELECT"],
            "PermissionsWithGrantOption": ["SELECT"],
            "AdditionalDetails": share,
        },
    ]
    assert _consumer_sees_orders(lake)
    assert [g.usable for g in lake.sim.grants(CONSUMER)] == [True]


def test_an_invitation_is_answered_once(lake: Lake) -> None:
    central_catalog(lake)
    grant(lake, CENTRAL, CONSUMER, table_resource(), ["SELECT"])
    ram = lake.client(CONSUMER, "ram")
    arn = ram.get_resource_share_invitations()["resourceShareInvitations"][0][
        "resourceShareInvitationArn"
    ]
    ram.reject_resource_share_invitation(resourceShareInvitationArn=arn)

    with pytest.raises(ram.exceptions.ResourceShareInvitationAlreadyRejectedException):
        ram.accept_resource_share_invitation(resourceShareInvitationArn=arn)
    producer_ram = lake.client(PRODUCER, "ram")
    with pytest.raises(producer_ram.exceptions.ResourceShareInvitationArnNotFoundException):
        producer_ram.accept_resource_share_invitation(resourceShareInvitationArn=arn)
    assert not _consumer_sees_orders(lake)


def test_within_one_organisation_a_grant_is_usable_at_once() -> None:
    with running_lake({CENTRAL, PRODUCER, CONSUMER}) as lake:
        central_catalog(lake)
        grant(lake, CENTRAL, CONSUMER, table_resource(), ["SELECT", "DESCRIBE"])

        ram = lake.client(CONSUMER, "ram")
        assert ram.get_resource_share_invitations()["resourceShareInvitations"] == []
        assert len(ram.get_resource_shares(resourceOwner="OTHER-ACCOUNTS")["resourceShares"]) == 1
        assert _consumer_sees_orders(lake)


def test_an_account_outside_the_organisation_still_needs_an_invitation() -> None:
    with running_lake({CENTRAL, PRODUCER}) as lake:
        central_catalog(lake)
        grant(lake, CENTRAL, CONSUMER, table_resource(), ["SELECT"])

        assert lake.accept_all(CONSUMER) == 1
        assert _consumer_sees_orders(lake)


def test_revoke_removes_the_grant_and_the_share(lake: Lake) -> None:
    central_catalog(lake)
    grant(lake, CENTRAL, CONSUMER, table_resource(), ["SELECT", "DESCRIBE"])
    lake.accept_all(CONSUMER)
    lf = lake.client(CENTRAL, "lakeformation")

    # a partial revoke keeps the rest
    lf.revoke_permissions(
        Principal={"DataLakePrincipalIdentifier": CONSUMER},
        Resource=table_resource(),
        Permissions=["SELECT"],
    )
    assert [sorted(g.permissions) for g in lake.sim.grants(CONSUMER)] == [["DESCRIBE"]]
    assert _consumer_sees_orders(lake)

    lf.revoke_permissions(
        Principal={"DataLakePrincipalIdentifier": CONSUMER},
        Resource=table_resource(),
        Permissions=["DESCRIBE"],
    )
    assert lake.sim.grants(CONSUMER) == []
    assert not _consumer_sees_orders(lake)
    assert _consumer_permissions(lake) == []
    ram = lake.client(CONSUMER, "ram")
    assert ram.get_resource_shares(resourceOwner="OTHER-ACCOUNTS")["resourceShares"] == []
    owned = lake.client(CENTRAL, "ram").get_resource_shares(resourceOwner="SELF")
    assert [s["status"] for s in owned["resourceShares"]] in ([], ["DELETED"])

    # a new grant needs a new invitation
    grant(lake, CENTRAL, CONSUMER, table_resource(), ["SELECT"])
    assert not _consumer_sees_orders(lake)
    assert lake.accept_all(CONSUMER) == 1
    assert _consumer_sees_orders(lake)


def test_tag_expression_grants_match_tables_by_their_lf_tags(lake: Lake) -> None:
    # GIVEN orders and customers tagged mesh_product, their database tagged mesh_domain=sales
    central_catalog(lake, tables=("orders", "customers"))
    expression = [
        {"TagKey": "mesh_domain", "TagValues": ["sales"]},
        {"TagKey": "mesh_product", "TagValues": ["orders"]},
    ]
    grant(
        lake,
        CENTRAL,
        CONSUMER,
        {"LFTagPolicy": {"CatalogId": CENTRAL, "ResourceType": "TABLE", "Expression": expression}},
        ["SELECT", "DESCRIBE"],
    )
    lake.accept_all(CONSUMER)
    glue = lake.client(CONSUMER, "glue")

    # THEN only the table whose (inherited and own) tags satisfy every term is visible
    assert (
        glue.get_table(CatalogId=CENTRAL, DatabaseName="sales", Name="orders")["Table"]["Name"]
        == "orders"
    )
    with pytest.raises(glue.exceptions.AccessDeniedException):
        glue.get_table(CatalogId=CENTRAL, DatabaseName="sales", Name="customers")
    listed = glue.get_tables(CatalogId=CENTRAL, DatabaseName="sales")["TableList"]
    assert [t["Name"] for t in listed] == ["orders"]

    # WHEN customers is re-tagged as orders it matches too
    lake.client(CENTRAL, "lakeformation").add_lf_tags_to_resource(
        Resource={"Table": {"CatalogId": CENTRAL, "DatabaseName": "sales", "Name": "customers"}},
        LFTags=[{"TagKey": "mesh_product", "TagValues": ["orders"]}],
    )
    assert glue.get_table(CatalogId=CENTRAL, DatabaseName="sales", Name="customers")


def test_list_permissions_answers_the_shapes_moto_crashes_on(lake: Lake) -> None:
    central_catalog(lake)
    grant(
        lake,
        CENTRAL,
        ANALYST,
        {"Table": {"CatalogId": CENTRAL, "DatabaseName": "sales", "TableWildcard": {}}},
        ["SELECT"],
    )
    grant(lake, CENTRAL, CONSUMER, table_resource(), ["SELECT"])
    expression = [{"TagKey": "mesh_domain", "TagValues": ["sales"]}]
    grant(
        lake,
        CENTRAL,
        PRODUCER,
        {"LFTagPolicy": {"CatalogId": CENTRAL, "ResourceType": "TABLE", "Expression": expression}},
        ["DESCRIBE"],
    )
    lf = lake.client(CENTRAL, "lakeformation")

    by_table = lf.list_permissions(Resource=table_resource())["PrincipalResourcePermissions"]
    assert [r["Principal"]["DataLakePrincipalIdentifier"] for r in by_table] == [CONSUMER]
    by_policy = lf.list_permissions(ResourceType="LF_TAG_POLICY")["PrincipalResourcePermissions"]
    assert [r["Resource"]["LFTagPolicy"]["Expression"] for r in by_policy] == [expression]
    tables = lf.list_permissions(ResourceType="TABLE")["PrincipalResourcePermissions"]
    assert len(tables) == 2
    with pytest.raises(lf.exceptions.InvalidInputException):
        lf.list_permissions(Principal={"DataLakePrincipalIdentifier": CONSUMER})


def test_lf_tags_merge_and_untagged_tables_read_empty(lake: Lake) -> None:
    central_catalog(lake, tables=("orders",))
    lf = lake.client(CENTRAL, "lakeformation")
    lake.client(CENTRAL, "glue").create_table(DatabaseName="sales", TableInput={"Name": "bare"})

    bare = lf.get_resource_lf_tags(
        Resource={"Table": {"DatabaseName": "sales", "Name": "bare"}}, ShowAssignedLFTags=True
    )
    assert bare["LFTagsOnTable"] == []
    lf.add_lf_tags_to_resource(
        Resource={"Table": {"DatabaseName": "sales", "Name": "orders"}},
        LFTags=[{"TagKey": "mesh_domain", "TagValues": ["finance"]}],
    )
    tags = lf.get_resource_lf_tags(Resource={"Table": {"DatabaseName": "sales", "Name": "orders"}})
    assert {t["TagKey"]: t["TagValues"] for t in tags["LFTagsOnTable"]} == {
        "mesh_domain": ["finance"],
        "mesh_product": ["orders"],
    }


def test_consumer_regrants_only_what_it_holds_with_grant_option(lake: Lake) -> None:
    central_catalog(lake)
    lf = lake.client(CONSUMER, "lakeformation")

    # no grant at all
    with pytest.raises(lf.exceptions.AccessDeniedException, match="Required Grant"):
        grant(lake, CONSUMER, ANALYST, table_resource(), ["SELECT"])
    # a grant without grant option
    grant(lake, CENTRAL, CONSUMER, table_resource(), ["SELECT", "DESCRIBE"])
    lake.accept_all(CONSUMER)
    with pytest.raises(lf.exceptions.AccessDeniedException):
        grant(lake, CONSUMER, ANALYST, table_resource(), ["SELECT"])
    # with grant option
    grant(lake, CENTRAL, CONSUMER, table_resource(), ["SELECT"], ["SELECT"])
    grant(lake, CONSUMER, ANALYST, table_resource(), ["SELECT"])

    issued = lake.sim.issued(CONSUMER)
    assert [(g.grantee, g.resource.describe(), sorted(g.permissions)) for g in issued] == [
        (ANALYST, f"{CENTRAL}:sales.orders", ["SELECT"])
    ]
    listed = lf.list_permissions(
        Principal={"DataLakePrincipalIdentifier": ANALYST}, Resource=table_resource()
    )["PrincipalResourcePermissions"]
    assert [r["Permissions"] for r in listed] == [["SELECT"]]


def test_batch_grants_fail_entry_by_entry(lake: Lake) -> None:
    central_catalog(lake)
    grant(lake, CENTRAL, CONSUMER, table_resource(), ["SELECT"], ["SELECT"])
    lake.accept_all(CONSUMER)

    result = lake.client(CONSUMER, "lakeformation").batch_grant_permissions(
        Entries=[
            {
                "Id": "ok",
                "Principal": {"DataLakePrincipalIdentifier": ANALYST},
                "Resource": table_resource(),
                "Permissions": ["SELECT"],
            },
            {
                "Id": "no-grant-option",
                "Principal": {"DataLakePrincipalIdentifier": ANALYST},
                "Resource": table_resource(),
                "Permissions": ["ALTER"],
            },
        ]
    )

    assert [(f["RequestEntry"]["Id"], f["Error"]["ErrorCode"]) for f in result["Failures"]] == [
        ("no-grant-option", "AccessDeniedException")
    ]
    assert [sorted(g.permissions) for g in lake.sim.grants(ANALYST)] == [["SELECT"]]


def test_lf_tag_definitions_fail_as_on_aws(lake: Lake) -> None:
    lf = lake.client(CENTRAL, "lakeformation")

    with pytest.raises(lf.exceptions.EntityNotFoundException):
        lf.get_lf_tag(TagKey="mesh_domain")
    with pytest.raises(lf.exceptions.EntityNotFoundException):
        lf.update_lf_tag(TagKey="mesh_domain", TagValuesToAdd=["sales"])
    lf.create_lf_tag(TagKey="mesh_domain", TagValues=["sales"])
    with pytest.raises(lf.exceptions.AlreadyExistsException):
        lf.create_lf_tag(TagKey="mesh_domain", TagValues=["other"])
    lf.update_lf_tag(TagKey="mesh_domain", TagValuesToAdd=["finance"])
    assert sorted(lf.get_lf_tag(TagKey="mesh_domain")["TagValues"]) == ["finance", "sales"]
    with pytest.raises(lf.exceptions.EntityNotFoundException):
        lf.add_lf_tags_to_resource(
            Resource={"Database": {"Name": "missing"}},
            LFTags=[{"TagKey": "mesh_domain", "TagValues": ["sales"]}],
        )


def test_removing_lf_tags_from_a_resource(lake: Lake) -> None:
    central_catalog(lake)
    lf = lake.client(CENTRAL, "lakeformation")
    orders = {"Table": {"DatabaseName": "sales", "Name": "orders"}}

    lf.remove_lf_tags_from_resource(
        Resource=orders, LFTags=[{"TagKey": "mesh_product", "TagValues": ["orders"]}]
    )
    # moto raises KeyError for a database it never tagged through its own bookkeeping
    lf.remove_lf_tags_from_resource(
        Resource={"Database": {"Name": "sales"}},
        LFTags=[{"TagKey": "mesh_domain", "TagValues": ["sales"]}],
    )

    tags = lf.get_resource_lf_tags(Resource=orders)
    assert (tags["LFTagOnDatabase"], tags["LFTagsOnTable"]) == ([], [])
